"""Loading a Docusaurus docs folder: pages with the real URLs and anchors, and every failure reported."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from docsbot.documents.anchors import fence_mask
from docsbot.documents.sections import split_sections
from docsbot.sources.markdown_folder import FolderLoad, Problem, load_markdown_folder, read_url_map

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
BASE = "https://example.com/docs/"


def _corpus(name: str) -> Path:
    root = CORPORA / name
    if not (root / "urls.tsv").is_file():
        pytest.skip(f"the {name} corpus is not at {root}")
    return root


def _write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _problem(load: FolderLoad, path: str) -> Problem:
    found = [p for p in load.problems if p.path == path]
    assert len(found) == 1, load.problems
    return found[0]


# --- read_url_map ---


def test_read_url_map_with_and_without_header(tmp_path: Path) -> None:
    with_header = _write(tmp_path, "a.tsv", "relative_path\turl\nFAQ.md\thttps://redux.js.org/faq\n\n")
    without = _write(tmp_path, "b.tsv", "./api/Store.md\thttps://redux.js.org/api/store\n")
    assert read_url_map(with_header) == {"FAQ.md": "https://redux.js.org/faq"}
    assert read_url_map(without) == {"api/Store.md": "https://redux.js.org/api/store"}


@pytest.mark.parametrize(
    "bad_row",
    [
        "intro.md https://example.com/intro",  # spaces, not a tab
        "intro.md\t/intro",  # not an absolute URL
        "intro.md\thttps://example.com/intro\textra",
        "intro.md\thttps://example.com/intro#part",  # page URLs have no fragment
    ],
)
def test_read_url_map_names_the_malformed_line(tmp_path: Path, bad_row: str) -> None:
    path = _write(tmp_path, "urls.tsv", f"relative_path\turl\nok.md\thttps://example.com/ok\n{bad_row}\n")
    with pytest.raises(ValueError, match="line 3"):
        read_url_map(path)


def test_read_url_map_rejects_a_path_mapped_twice(tmp_path: Path) -> None:
    path = _write(tmp_path, "urls.tsv", "a.md\thttps://example.com/a\na.md\thttps://example.com/b\n")
    with pytest.raises(ValueError, match="line 2"):
        read_url_map(path)


# --- pages ---


def test_needs_a_way_to_know_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="url_map or docs_base_url"):
        load_markdown_folder(tmp_path)


def test_pages_from_a_folder(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "01-guides/02-setup.mdx",
        "---\ntitle: Setting up\ndescription: How to set up.\n---\n"
        "import Tabs from '@theme/Tabs';\n\n# Setup\n\nIntro.\n\n## Install\n\n:::tip\n\nUse npm.\n\n:::\n",
    )
    _write(tmp_path, "01-guides/index.md", "# Guides\n\nAll the guides.\n")
    _write(tmp_path, "_partial.mdx", "Shared text.\n")
    _write(tmp_path, "_drafts/draft.md", "# Draft\n")
    _write(tmp_path, "notes.txt", "not a doc")

    load = load_markdown_folder(tmp_path, docs_base_url=BASE, tags=("v1",))

    assert load.problems == []
    assert [p.url for p in load.pages] == [
        "https://example.com/docs/guides/",
        "https://example.com/docs/guides/setup",
    ]
    index, setup = load.pages
    assert (index.title, index.markdown, index.origin) == (
        "Guides",
        "All the guides.\n",
        "01-guides/index.md",
    )
    assert setup.title == "Setting up"  # front matter wins over the H1
    assert setup.description == "How to set up."
    assert setup.markdown == "Intro.\n\n## Install {#install}\n\n> **Tip**\n>\n> Use npm.\n"
    assert setup.tags == ("v1",)
    assert setup.source_kind == "markdown_folder"


@pytest.mark.parametrize(
    ("relative", "content", "title"),
    [
        (
            "a.md",
            "---\ntitle: From front matter\nsidebar_label: Label\n---\n# Heading\n",
            "From front matter",
        ),
        (
            "a.md",
            "---\nsidebar_label: Label\n---\n# The `useSelector` hook\n\nText.\n",
            "The useSelector hook",
        ),
        ("a.md", "---\nsidebar_label: Label\n---\nText first.\n\n# Not the title\n", "Label"),
        ("03-getting_started-now.md", "Just text.\n", "Getting started now"),
        ("my-topic/index.md", "Just text.\n", "My topic"),
    ],
)
def test_title_precedence(tmp_path: Path, relative: str, content: str, title: str) -> None:
    _write(tmp_path, relative, content)
    (page,) = load_markdown_folder(tmp_path, docs_base_url=BASE).pages
    assert page.title == title


def test_leading_h1_is_removed_from_the_body_but_counts_for_anchors(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", "# Overview\n\n## Overview\n\nText.\n")
    (page,) = load_markdown_folder(tmp_path, docs_base_url=BASE).pages
    assert page.title == "Overview"
    assert page.markdown == "## Overview {#overview-1}\n\nText.\n"


def test_an_empty_page_is_a_page(tmp_path: Path) -> None:
    _write(tmp_path, "empty.md", "---\ntitle: Empty\n---\n\n  \n")
    load = load_markdown_folder(tmp_path, docs_base_url=BASE)
    assert load.problems == []
    assert [(p.url, p.title, p.markdown) for p in load.pages] == [("https://example.com/docs/empty", "Empty", "")]


def test_url_map_decides_which_files_are_pages(tmp_path: Path) -> None:
    _write(tmp_path, "listed.md", "Listed.\n")
    _write(tmp_path, "unlisted.md", "Unlisted.\n")
    _write(tmp_path, "_partial.mdx", "Partial.\n")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "missing-target.md")
    url_map = {
        "listed.md": "https://example.com/listed",
        "_partial.mdx": "https://example.com/partial",
        "deleted.md": "https://example.com/deleted",  # the file is gone: the page was deleted
        "dangling.md": "https://example.com/dangling",  # the file is there but cannot be read
    }
    load = load_markdown_folder(tmp_path, url_map=url_map)
    assert [p.url for p in load.pages] == ["https://example.com/listed"]
    assert [(p.path, p.kind, p.url) for p in load.problems] == [
        ("dangling.md", "unreadable", "https://example.com/dangling")
    ]


def test_two_files_with_one_url_keep_the_first(tmp_path: Path) -> None:
    _write(tmp_path, "a/index.md", "Index.\n")
    _write(tmp_path, "a/README.md", "Readme.\n")
    load = load_markdown_folder(tmp_path, docs_base_url=BASE)
    assert [(p.origin, p.url) for p in load.pages] == [("a/README.md", "https://example.com/docs/a/")]
    duplicate = _problem(load, "a/index.md")
    assert (duplicate.kind, duplicate.url) == ("duplicate_url", "https://example.com/docs/a/")


def test_loading_is_deterministic(tmp_path: Path) -> None:
    for name in ["b.md", "a.mdx", "c/d.md", "c/index.md"]:
        _write(tmp_path, name, f"# {name}\n\n## Part\n\nText of {name}.\n")
    first = load_markdown_folder(tmp_path, docs_base_url=BASE)
    second = load_markdown_folder(tmp_path, docs_base_url=BASE)
    assert first == second
    assert [p.url for p in first.pages] == sorted(p.url for p in first.pages)


# --- files that cannot be pages ---


def test_bad_files_are_problems_with_their_urls(tmp_path: Path) -> None:
    _write(tmp_path, "good.md", "Fine.\n")
    _write(tmp_path, "malformed.md", "---\nid: renamed\ntitle: [unclosed\n---\nBody.\n")
    _write(tmp_path, "x.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _write(tmp_path, "latin1.md", "Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    _write(tmp_path, "huge.md", "---\nslug: /big-one\n---\n" + "word " * 50)
    os.mkfifo(tmp_path / "pipe.md")  # opening a pipe nobody writes to would block for ever
    (tmp_path / "broken.md").mkdir()
    (tmp_path / "dangling.md").symlink_to(tmp_path / "missing-target.md")

    load = load_markdown_folder(tmp_path, docs_base_url=BASE, max_bytes=200)

    assert [p.url for p in load.pages] == ["https://example.com/docs/good"]
    found = {p.path: (p.kind, p.url) for p in load.problems}
    assert found == {
        # The id is read from the broken front matter: the URL is the page's real one.
        "malformed.md": ("malformed_front_matter", "https://example.com/docs/renamed"),
        "x.md": ("binary", "https://example.com/docs/x"),
        "latin1.md": ("not_utf8", "https://example.com/docs/latin1"),
        "huge.md": ("too_large", "https://example.com/docs/big-one"),
        "pipe.md": ("unreadable", "https://example.com/docs/pipe"),
        "broken.md": ("unreadable", "https://example.com/docs/broken"),
        "dangling.md": ("unreadable", "https://example.com/docs/dangling"),
    }
    assert all(p.message for p in load.problems)


def test_problem_urls_come_from_the_url_map(tmp_path: Path) -> None:
    _write(tmp_path, "bad.md", "---\ntitle: [unclosed\n---\n")
    load = load_markdown_folder(tmp_path, url_map={"bad.md": "https://example.com/real-bad"})
    assert load.problems == [
        Problem("bad.md", "malformed_front_matter", load.problems[0].message, "https://example.com/real-bad")
    ]
    assert "YAML" in load.problems[0].message


def test_front_matter_that_is_not_a_mapping_is_malformed(tmp_path: Path) -> None:
    _write(tmp_path, "list.md", "---\n- a\n- b\n---\nBody.\n")
    load = load_markdown_folder(tmp_path, docs_base_url=BASE)
    assert _problem(load, "list.md").kind == "malformed_front_matter"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_reading_stops_at_the_size_bound(tmp_path: Path) -> None:
    # /dev/zero reports size 0 and never ends: only a bounded read can return.
    (tmp_path / "endless.md").symlink_to("/dev/zero")
    load = load_markdown_folder(tmp_path, docs_base_url=BASE, max_bytes=1000)
    assert _problem(load, "endless.md").kind == "too_large"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.md", "Text.\n")
    path.chmod(0)
    try:
        load = load_markdown_folder(tmp_path, docs_base_url=BASE)
    finally:
        path.chmod(0o644)
    assert (_problem(load, "secret.md").kind, load.pages) == ("unreadable", [])


# --- the real corpora ---


def _outside_fences(markdown: str) -> list[str]:
    lines = markdown.split("\n")
    return [line for line, fenced in zip(lines, fence_mask(lines), strict=True) if not fenced]


def test_redux_corpus_loads_completely() -> None:
    root = _corpus("redux-docs")
    url_map = read_url_map(root / "urls.tsv")
    load = load_markdown_folder(root, url_map=url_map)

    assert load.problems == []
    assert len(load.pages) == 85  # components/_FundamentalsWarning.mdx is a partial, not a page
    assert sorted(p.url for p in load.pages) == sorted(url_map.values())
    leftovers: list[str] = []
    for page in load.pages:
        assert page.title and page.title != page.origin
        for line in _outside_fences(page.markdown):
            # A code block's title line is text as the site shows it (`**ConnectedProps<T> TS example**`).
            title = re.fullmatch(r"\*\*.+\*\*", line) and f"{line}\n\n```" in page.markdown
            text = "" if title else re.sub(r"`[^`]*`", "", line)
            if re.match(r"\s*(import|export)\s", text) or ":::" in text or re.search(r"</?[A-Z][\w.]*[\s/>]", text):
                leftovers.append(f"{page.origin}: {line}")
            if re.match(r"#{1,6}\s", line) and not re.search(r"\{#[\w-]+\}$", line):
                leftovers.append(f"{page.origin}: heading without anchor: {line}")
    assert leftovers == []


def test_redux_question_anchors_exist_on_their_pages() -> None:
    root = _corpus("redux-docs")
    load = load_markdown_folder(root, url_map=read_url_map(root / "urls.tsv"))
    anchors = {page.url: {s.anchor for s in split_sections(page.markdown)} for page in load.pages}
    linked: list[str] = []
    for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        linked += [url for url in json.loads(line)["relevant"] if "#" in url]
    missing = [url for url in linked if url.split("#", 1)[1] not in anchors[url.split("#", 1)[0]]]
    assert len(linked) >= 50
    assert missing == []  # all 57 deep links of questions.jsonl point at a section of the loaded page


def test_hasura_corpus_loads_completely() -> None:
    root = _corpus("hasura-docs")
    url_map = read_url_map(root / "urls.tsv")
    load = load_markdown_folder(root, url_map=url_map)
    assert load.problems == []
    # urls.tsv also lists the 11 `_heading_*.mdx` sidebar stubs (front matter only): `_` files are not pages.
    assert len(load.pages) == len(url_map) - 11 == 661
    for page in load.pages:
        for line in _outside_fences(page.markdown):
            if re.match(r"#{1,6}\s", line):
                assert re.search(r"\{#[\w-]+\}$", line), f"{page.origin}: {line}"


def test_hasura_urls_from_docs_base_url_match_the_url_map() -> None:
    root = _corpus("hasura-docs")
    url_map = read_url_map(root / "urls.tsv")
    load = load_markdown_folder(root, docs_base_url="https://hasura.io/docs/2.0/", trailing_slash=True)
    derived = {page.origin: page.url for page in load.pages}
    # The folder has one file the url map does not list: this corpus' own README.md.
    assert derived.pop("README.md") == "https://hasura.io/docs/2.0/"
    assert derived == {path: url for path, url in url_map.items() if not path.startswith("_")}
