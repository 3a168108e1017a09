"""Relative links in a docs folder's markdown point where the published site does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docsbot.sources.markdown_folder import load_markdown_folder, read_url_map
from docsbot.sources.relative_links import absolute_links

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
BASE = "https://example.com/docs/"
DOCS = {
    "api/Store.md": "https://redux.js.org/api/store",
    "api/createStore.md": "https://redux.js.org/api/createstore",
    "usage/index.md": "https://redux.js.org/usage/",
}


def _rewrite(markdown: str, relative_path: str = "api/createStore.md") -> str:
    return absolute_links(markdown, relative_path, DOCS[relative_path], DOCS.get)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("See the [store](Store.md).", "See the [store](https://redux.js.org/api/store)."),
        ("[dispatch](./Store.md#dispatchaction)", "[dispatch](https://redux.js.org/api/store#dispatchaction)"),
        ("[usage](../usage/index.md)", "[usage](https://redux.js.org/usage/)"),
        ("[from the root](api/Store.md)", "[from the root](https://redux.js.org/api/store)"),  # docs-root path
        ("[missing](../gone/Page.mdx#x)", "[missing](https://redux.js.org/gone/Page#x)"),
        ("[here](#arguments)", "[here](https://redux.js.org/api/createstore#arguments)"),
        ("![flow](../img/flow.png)", "![flow](https://redux.js.org/img/flow.png)"),
        ('![flow](/img/flow.gif "Data flow")', '![flow](https://redux.js.org/img/flow.gif "Data flow")'),
        ("[![badge](b.svg)](Store.md)", "[![badge](https://redux.js.org/api/b.svg)](https://redux.js.org/api/store)"),
        ("[ref]: Store.md#subscribe", "[ref]: https://redux.js.org/api/store#subscribe"),
        ("[site](https://a.io/a.md) [mail](mailto:a@b.c)", "[site](https://a.io/a.md) [mail](mailto:a@b.c)"),
    ],
)
def test_relative_links_become_the_served_urls(markdown: str, expected: str) -> None:
    assert _rewrite(markdown) == expected


def test_links_inside_code_are_text() -> None:
    markdown = "Call `[a](Store.md)` here.\n\n```md\n[store](Store.md)\n```\n\n[store](Store.md)"
    assert _rewrite(markdown) == (
        "Call `[a](Store.md)` here.\n\n```md\n[store](Store.md)\n```\n\n[store](https://redux.js.org/api/store)"
    )


def test_a_folder_link_goes_to_the_url_the_target_doc_is_served_at(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "01-setup.md").write_text("---\nslug: /start-here\n---\n# Setup\n\nText.\n")
    (tmp_path / "intro.mdx").write_text("Read [setup](guides/01-setup.md#install) and ![x](./img/x.png).\n")
    load = load_markdown_folder(tmp_path, docs_base_url=BASE)
    intro = next(page for page in load.pages if page.origin == "intro.mdx")
    assert intro.markdown == (
        "Read [setup](https://example.com/docs/start-here#install) and ![x](https://example.com/docs/img/x.png).\n"
    )


def test_the_redux_corpus_has_no_relative_link_left() -> None:
    root = CORPORA / "redux-docs"
    if not (root / "urls.tsv").is_file():
        pytest.skip(f"the redux-docs corpus is not at {root}")
    url_map = read_url_map(root / "urls.tsv")
    load = load_markdown_folder(root, url_map=url_map)
    pages = {page.origin: page.markdown for page in load.pages}
    assert "- [Store](https://redux.js.org/api/store)" in pages["api/api-reference.md"]
    assert "[`dispatch`](https://redux.js.org/api/store#dispatchaction)" in pages["api/applyMiddleware.md"]
    served = set(url_map.values())
    relative: list[str] = []
    unknown: list[str] = []
    for page in load.pages:
        text = re.sub(r"```.*?```|`[^`\n]*`", "", page.markdown, flags=re.DOTALL)
        for destination in re.findall(r"(?<!\\)\]\(([^\s()]+)\)", text):
            if not re.match(r"[a-z]+:", destination):
                relative.append(f"{page.origin}: {destination}")
            elif destination.startswith("https://redux.js.org/") and destination.endswith((".md", ".mdx")):
                unknown.append(destination)
        for destination in re.findall(r"\]\((https://redux\.js\.org/[^\s()#]*)", text):
            if "." not in destination.rsplit("/", 1)[-1] and destination not in served:
                unknown.append(f"{page.origin}: {destination}")
    assert relative == []
    assert unknown == []
