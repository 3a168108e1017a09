"""Chunking pages into standalone, token-bounded chunks (docsbot.index.chunking)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from pathlib import Path

import frontmatter
import pytest

from docsbot.documents.model import Chunk, Page
from docsbot.documents.sections import split_sections
from docsbot.documents.tokens import count_tokens
from docsbot.index.chunking import DEFAULT_OPTIONS, ChunkingOptions, chunk_page, is_navigation
from tests.harness.corpora import require_redux

URL = "https://docs.example.com/guide"
FENCE_LINE = re.compile(r"^\s*(```|~~~)")
_WORDS = (
    *("store", "reducer", "action", "state", "dispatch", "selector", "middleware", "slice", "thunk"),
    *("update", "value", "render", "component", "hook", "query", "cache", "listener", "payload"),
    *("immutable", "object", "array", "function", "module", "test"),
)


def make_page(markdown: str, title: str = "Guide") -> Page:
    return Page(url=URL, title=title, markdown=markdown, source_kind="markdown_folder", tags=("v2", "core"))


def sentence(seed: int, index: int) -> str:
    """A deterministic filler sentence that starts with a unique marker (`S<seed>n<index>`)."""
    rng = random.Random(seed * 10_000 + index)
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 14)))
    return f"S{seed}n{index} {words}."


def prose(sentences: int, seed: int = 0) -> str:
    """One paragraph of `sentences` filler sentences (about 14 tokens each)."""
    return " ".join(sentence(seed, i) for i in range(sentences))


def body(chunk: Chunk) -> str:
    _header, blank, rest = chunk.text.split("\n", 2)
    assert blank == ""
    return rest


def fence_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if FENCE_LINE.match(line)]


def assert_valid(chunks: list[Chunk], options: ChunkingOptions = DEFAULT_OPTIONS) -> None:
    """What every chunk promises, whatever the page."""
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text)
        assert chunk.token_count <= options.max_tokens
        assert chunk.text.split("\n", 1)[0] == " › ".join((chunk.title, *chunk.heading_path))
        assert body(chunk).strip()
        assert len(fence_lines(chunk.text)) % 2 == 0


def changes(old: list[Chunk], new: list[Chunk]) -> tuple[list[Chunk], list[Chunk]]:
    """(chunks gone, chunks that are new), compared by point id as incremental indexing does."""
    old_ids = {c.point_id for c in old}
    new_ids = {c.point_id for c in new}
    return [c for c in old if c.point_id not in new_ids], [c for c in new if c.point_id not in old_ids]


def longest_overlap(before: str, after: str) -> str:
    """The longest text that ends `before` and starts `after`."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[:size]
    return ""


# --- Options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_tokens": 700, "max_tokens": 600},
        {"min_tokens": 0},
        {"min_tokens": 400},
        {"overlap_tokens": 350},
        {"overlap_tokens": -1},
        {"target_tokens": 20, "max_tokens": 30, "min_tokens": 10, "overlap_tokens": 5},
    ],
)
def test_options_reject_inconsistent_sizes(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkingOptions(**kwargs)


# --- Sections ----------------------------------------------------------------------------------


def test_each_chunk_carries_page_title_heading_path_and_anchor() -> None:
    markdown = (
        f"{prose(20, 1)}\n\n## Install {{#install}}\n\n{prose(30, 2)}\n\n"
        f"### From source {{#from-source}}\n\n{prose(30, 3)}\n"
    )
    chunks = chunk_page(make_page(markdown))

    assert [c.anchor for c in chunks] == ["", "install", "from-source"]
    assert [c.heading_path for c in chunks] == [(), ("Install",), ("Install", "From source")]
    assert [c.text.split("\n", 1)[0] for c in chunks] == [
        "Guide",
        "Guide › Install",
        "Guide › Install › From source",
    ]
    assert [c.deep_link for c in chunks] == [URL, f"{URL}#install", f"{URL}#from-source"]
    assert body(chunks[1]) == prose(30, 2)
    for chunk in chunks:
        assert (chunk.url, chunk.title, chunk.source_kind, chunk.tags) == (
            URL,
            "Guide",
            "markdown_folder",
            ("v2", "core"),
        )
    assert_valid(chunks)


def test_anchor_markers_are_stripped_from_headings_but_code_is_untouched() -> None:
    markdown = (
        "Intro text for the page.\n\n## Setup {#setup}\n\nRun the installer.\n\n"
        "### Configure it {#configure}\n\nEdit the file:\n\n```md\n## Not a heading {#kept}\n```\n"
    )
    (chunk,) = chunk_page(make_page(markdown))

    assert "\n## Setup\n" in chunk.text
    assert "\n### Configure it\n" in chunk.text
    assert "{#setup}" not in chunk.text
    assert "{#configure}" not in chunk.text
    assert "```md\n## Not a heading {#kept}\n```" in chunk.text


def test_anchor_markers_are_stripped_from_headings_in_blockquotes() -> None:
    markdown = "## Setup {#setup}\n\n> ### Note {#note}\n>\n> Back up first.\n"
    (chunk,) = chunk_page(make_page(markdown))

    assert chunk.text == "Guide › Setup\n\n> ### Note\n>\n> Back up first."


def test_small_sections_merge_with_descendants_and_later_siblings_only() -> None:
    markdown = (
        "A short introduction.\n\n"
        f"## Top {{#top}}\n\n{prose(30, 1)}\n\n"
        "### Small one {#small-one}\n\nFirst small body.\n\n"
        "#### Detail {#detail}\n\nA detail of the first.\n\n"
        "### Small two {#small-two}\n\nSecond small body.\n\n"
        "## Next {#next}\n\nThe next part.\n\n"
        "### Child {#child}\n\nA child of next.\n"
    )
    chunks = chunk_page(make_page(markdown))

    assert [c.anchor for c in chunks] == ["", "top", "small-one", "next"]
    assert [c.anchors for c in chunks] == [
        ("",),
        ("top",),
        ("small-one", "detail", "small-two"),
        ("next", "child"),
    ]
    merged = chunks[2]
    assert merged.heading_path == ("Top", "Small one")
    assert body(merged) == (
        "First small body.\n\n#### Detail\n\nA detail of the first.\n\n### Small two\n\nSecond small body."
    )
    assert body(chunks[3]) == "The next part.\n\n### Child\n\nA child of next."
    assert all(c.token_count <= DEFAULT_OPTIONS.target_tokens for c in (chunks[0], merged, chunks[3]))
    assert_valid(chunks)


def test_merging_stops_at_the_target_size() -> None:
    parts = [f"## Part {i} {{#part-{i}}}\n\n{prose(8, i)}" for i in range(8)]
    chunks = chunk_page(make_page("\n\n".join(parts)))

    assert 1 < len(chunks) < 8
    assert all(c.token_count <= DEFAULT_OPTIONS.target_tokens for c in chunks)
    for i in range(8):  # every section's text is in exactly one chunk
        assert sum(prose(8, i) in c.text for c in chunks) == 1
    # Greedy: a chunk ends only where the next section would not fit.
    for chunk, following in itertools.pairwise(chunks):
        next_part = following.text.split("\n\n", 1)[1]
        assert count_tokens(f"{chunk.text}\n\n## {following.heading_path[-1]}\n\n{next_part}") > (
            DEFAULT_OPTIONS.target_tokens
        )


def test_heading_with_empty_body_merges_into_what_follows() -> None:
    small = chunk_page(make_page("## Setup {#setup}\n\n### Install {#install}\n\nRun the installer.\n"))
    assert [(c.anchor, body(c)) for c in small] == [("setup", "### Install\n\nRun the installer.")]

    long_child = prose(30, 1)
    markdown = (
        f"## Intro {{#intro}}\n\nA short intro.\n\n## Setup {{#setup}}\n\n### Install {{#install}}\n\n{long_child}\n"
    )
    chunks = chunk_page(make_page(markdown))
    assert [c.anchor for c in chunks] == ["intro", "install"]
    assert "Setup" not in chunks[0].text  # a group never ends with a heading that has no text
    assert chunks[1].heading_path == ("Setup", "Install")
    assert chunks[1].text == f"Guide › Setup › Install\n\n{long_child}"


def test_layout_markup_alone_is_no_text() -> None:
    markdown = (
        '&nbsp;\n\n<div class="style-guide">\n\n'
        "## Cloud {#cloud}\n\n<ProductBadge pro ee />\n\n"
        "### Monitoring {#monitoring}\n\nThe monitoring tab shows usage."
    )
    chunks = chunk_page(make_page(markdown))

    assert [(c.anchor, c.text) for c in chunks] == [
        ("cloud", "Guide › Cloud\n\n### Monitoring\n\nThe monitoring tab shows usage.")
    ]


# --- Long sections -----------------------------------------------------------------------------


def test_long_section_is_split_at_paragraphs_with_overlap() -> None:
    paragraphs = [prose(6, seed) for seed in range(20)]
    chunks = chunk_page(make_page("## Usage {#usage}\n\n" + "\n\n".join(paragraphs)))

    assert len(chunks) >= 3
    assert {c.anchor for c in chunks} == {"usage"}
    assert all(c.text.startswith("Guide › Usage\n\n") for c in chunks)
    assert_valid(chunks)
    for seed in range(20):
        for i in range(6):
            assert any(sentence(seed, i) in c.text for c in chunks)
    for before, after in itertools.pairwise(chunks):
        overlap = longest_overlap(body(before), body(after))
        assert overlap.strip()
        assert count_tokens(overlap) <= DEFAULT_OPTIONS.overlap_tokens
        assert re.match(r"S\d+n\d+ ", body(after))  # it starts at a sentence, not inside one


LONG_SECTION_LAYOUTS = {
    **{f"{n} paragraphs": [prose(6, seed) for seed in range(n)] for n in range(6, 16)},
    # A paragraph short enough to be repeated whole as overlap, between two that fill pieces.
    "short between long": [
        prose(22, 1),
        prose(3, 2),
        "```js\n" + "\n".join(prose(30, 3).split(". ")) + "\n```",
    ],
}


@pytest.mark.parametrize("blocks", LONG_SECTION_LAYOUTS.values(), ids=LONG_SECTION_LAYOUTS.keys())
def test_every_piece_of_a_long_section_has_enough_text_of_its_own(blocks: list[str]) -> None:
    markdown = "## Usage {#usage}\n\n" + "\n\n".join(blocks)
    chunks = chunk_page(make_page(markdown + "\n\nThat is all."))
    bodies = [body(c) for c in chunks]
    overlaps = ["", *(longest_overlap(a, b) for a, b in itertools.pairwise(bodies)), ""]

    assert len(chunks) > 1
    assert_valid(chunks)
    assert bodies[-1].endswith("That is all.")
    for index, text in enumerate(bodies):
        own = text[len(overlaps[index]) :].strip()
        assert count_tokens(own) >= DEFAULT_OPTIONS.min_tokens
        assert len(overlaps[index + 1].strip()) < len(own)  # the next piece never repeats all of it


def code_fence(lines: int, seed: int, info: str = "js") -> str:
    """A fence with a blank line every fourth line, as real code has, which a paragraph split would cut."""
    code = "\n".join(
        "" if i % 4 == 3 else f"const value{seed}_{i} = compute({i}, 'item {seed}-{i}')" for i in range(lines)
    )
    return f"```{info}\n{code}\n```"


def test_code_fences_and_tables_stay_whole() -> None:
    table = "| Option | Default | Meaning |\n| --- | :-: | --- |\n" + "\n".join(
        f"| opt{i} | {i} | what option {i} changes |" for i in range(12)
    )
    fences = [code_fence(12, seed) for seed in range(6)]
    blocks = []
    for seed, fence in enumerate(fences):
        blocks += [prose(4, seed), fence]
    blocks.insert(5, table)
    chunks = chunk_page(make_page("## Reference {#reference}\n\n" + "\n\n".join(blocks)))

    assert len(chunks) >= 3
    assert_valid(chunks)
    for atomic in [*fences, table]:
        assert count_tokens(atomic) > DEFAULT_OPTIONS.overlap_tokens  # so overlap never repeats it
        assert sum(atomic in c.text for c in chunks) == 1


def test_long_code_fence_is_split_into_valid_fences() -> None:
    fence = code_fence(300, 1, info='python title="big.py"')
    chunks = chunk_page(make_page(f"## Source {{#source}}\n\nThe whole module:\n\n{fence}\n"))

    assert len(chunks) >= 3
    assert_valid(chunks)
    code_lines: list[str] = []
    for chunk in chunks:
        lines = body(chunk).split("\n")
        start = lines.index('```python title="big.py"')
        assert lines[-1] == "```"
        code_lines += lines[start + 1 : -1]
    assert code_lines == fence.split("\n")[1:-1]  # every line once, in order


def test_long_table_is_split_by_rows_with_its_header_repeated() -> None:
    header = ["| Name | Type | Description |", "|------|------|-------------|"]
    rows = [f"| field_{i} | `String` | The value of field number {i} in the response |" for i in range(150)]
    chunks = chunk_page(make_page("## Fields {#fields}\n\n" + "\n".join(header + rows)))

    assert len(chunks) >= 3
    assert_valid(chunks)
    seen: list[str] = []
    for chunk in chunks:
        lines = body(chunk).split("\n")
        assert lines[:2] == header
        seen += lines[2:]
    assert seen == rows


def test_huge_paragraph_is_split_between_sentences() -> None:
    paragraph = prose(150, 7)
    chunks = chunk_page(make_page(f"## Notes {{#notes}}\n\n{paragraph}"))

    assert len(chunks) >= 4
    assert_valid(chunks)
    for i in range(150):
        assert any(sentence(7, i) in c.text for c in chunks)
    for chunk in chunks:
        assert re.match(r"S7n\d+ ", body(chunk))


@pytest.mark.parametrize(
    "text",
    [
        " ".join(f"word{i}" for i in range(3000)),  # no sentence or line boundaries
        "".join(f"{i:x}" for i in range(6000)),  # not even spaces
        "é漢字" * 3000,  # multi-byte characters, which tokens may cut
    ],
    ids=["words", "blob", "unicode"],
)
def test_text_without_boundaries_is_split_by_tokens(text: str) -> None:
    chunks = chunk_page(make_page(f"## Data {{#data}}\n\n{text}"))

    assert len(chunks) >= 3
    assert_valid(chunks)
    assert all("\ufffd" not in c.text for c in chunks)
    assert chunks[0].text.startswith(f"Guide › Data\n\n{text[:20]}")
    assert chunks[-1].text.endswith(text[-20:])


def test_no_chunk_exceeds_max_tokens_with_small_limits_and_long_headings() -> None:
    options = ChunkingOptions(target_tokens=60, max_tokens=100, overlap_tokens=15, min_tokens=10)
    markdown = (
        "## Configuring the production deployment {#deploy}\n\n"
        "### Environment variables that change behaviour {#env}\n\n"
        + "\n\n".join([prose(5, 1), code_fence(20, 2), prose(20, 3), "- " + "\n- ".join(prose(3, 4).split(". "))])
    )
    chunks = chunk_page(make_page(markdown, title="Operations handbook"), options)

    assert len(chunks) > 5
    assert_valid(chunks, options)


def test_max_tokens_holds_where_joined_pieces_count_more_than_their_parts() -> None:
    # Found by fuzzing: here the size estimated from the parts is below the exact count of the chunk.
    options = ChunkingOptions(target_tokens=43, max_tokens=43, overlap_tokens=30, min_tokens=16)
    markdown = "12345 's🙂a.b    code&nbsp;🙂inga.b!123451. . \tinga.b\t\t漢字| a | b |\n|---|---|\n"
    chunks = chunk_page(make_page(markdown, title="T"), options)

    assert chunks
    assert_valid(chunks, options)


def test_max_tokens_holds_for_any_markdown() -> None:
    fragments = [
        *("word", "é", "漢字", "🙂", "  ", "\n", "\n\n", ". ", "- item ", "1. ", "```js\n", "\n```\n"),
        *("| a | b |\n|---|---|\n", "| x | y |\n", "\t", "!", "a.b", "12345", "<div>", "&nbsp;"),
        *("## Heading {#h}\n", "    code", "—", "'s", "ing"),
    ]
    rng = random.Random(7)
    for _ in range(40):
        markdown = "".join(rng.choice(fragments) for _ in range(rng.randint(50, 2000)))
        target = rng.randint(32, 300)
        options = ChunkingOptions(
            target_tokens=target,
            max_tokens=rng.randint(target, 600),
            overlap_tokens=rng.randint(0, target - 1),
            min_tokens=rng.randint(1, target),
        )
        for chunk in chunk_page(make_page(markdown), options):
            assert chunk.token_count == count_tokens(chunk.text) <= options.max_tokens
            assert chunk.text.startswith(" › ".join(("Guide", *chunk.heading_path)))


# --- Pages that produce nothing ----------------------------------------------------------------


@pytest.mark.parametrize("markdown", ["", "  \n\n \n", "## One {#one}\n\n## Two {#two}\n\n### Three {#three}\n"])
def test_empty_pages_produce_no_chunks(markdown: str) -> None:
    assert chunk_page(make_page(markdown)) == []


INDEX_PAGE = """Pick a guide:

- [Configuring your store](configuring.md)
- [Code splitting](code-splitting.md)
- [Server rendering](server-rendering.md)
- [Isolating sub-apps](isolating.md)

## Code quality {#code-quality}

- [Usage with TypeScript](typescript.md)
- [Writing tests](tests.md)
"""


def test_navigation_page_produces_no_chunks() -> None:
    assert is_navigation(INDEX_PAGE)
    assert chunk_page(make_page(INDEX_PAGE)) == []


@pytest.mark.parametrize(
    "markdown",
    [
        "The store holds the state of your app. Read it with `getState`, change it only by dispatching "
        "an action, as the [actions guide](actions.md) explains.",
        "Returns true if the value is a plain object.",
    ],
)
def test_short_page_with_prose_still_produces_a_chunk(markdown: str) -> None:
    assert not is_navigation(markdown)
    (chunk,) = chunk_page(make_page(markdown))
    assert chunk.text == f"Guide\n\n{markdown}"


# --- Identity and stability --------------------------------------------------------------------


def test_duplicate_chunks_within_a_page_are_emitted_once() -> None:
    section = f"## Example {{#example}}\n\n{prose(20, 3)}"
    chunks = chunk_page(make_page(f"{section}\n\n{section}\n"))
    assert [c.anchor for c in chunks] == ["example"]


STABLE_PAGE = "\n\n".join(
    [
        prose(4, 1),
        f"## Overview {{#overview}}\n\n{prose(25, 2)}",
        "## Options {#options}",
        f"### Alpha {{#alpha}}\n\n{prose(3, 3)}",
        "### Beta {#beta}\n\nBeta keeps the store small.",
        f"### Gamma {{#gamma}}\n\n{prose(3, 5)}",
        "## Walkthrough {#walkthrough}\n\n" + "\n\n".join(prose(6, seed) for seed in range(10, 25)),
        f"## Troubleshooting {{#troubleshooting}}\n\n{prose(25, 6)}",
    ]
)


def test_chunking_is_deterministic() -> None:
    assert chunk_page(make_page(STABLE_PAGE)) == chunk_page(make_page(STABLE_PAGE))


def test_editing_a_merged_section_changes_only_its_merge_group() -> None:
    old = chunk_page(make_page(STABLE_PAGE))
    assert "options" in [c.anchor for c in old]  # Alpha, Beta and Gamma merged under Options
    edited = STABLE_PAGE.replace("Beta keeps the store small.", "Beta keeps the state small.")
    assert count_tokens(edited) == count_tokens(STABLE_PAGE)

    removed, added = changes(old, chunk_page(make_page(edited)))

    assert [c.anchor for c in removed] == ["options"]
    assert [c.anchor for c in added] == ["options"]


def test_growing_a_merged_section_changes_only_its_merge_group() -> None:
    old = chunk_page(make_page(STABLE_PAGE))
    grown = STABLE_PAGE.replace("Beta keeps the store small.", prose(30, 99))

    removed, added = changes(old, chunk_page(make_page(grown)))

    assert [c.anchor for c in removed] == ["options"]
    assert {c.anchor for c in added} == {"options", "beta", "gamma"}  # the group, regrouped


def test_editing_a_long_section_changes_only_its_own_chunks() -> None:
    old = chunk_page(make_page(STABLE_PAGE))
    assert sum(c.anchor == "walkthrough" for c in old) >= 3
    edited = STABLE_PAGE.replace(sentence(17, 2), sentence(17, 2) + " It also logs every action.")

    removed, added = changes(old, chunk_page(make_page(edited)))

    assert removed
    assert {c.anchor for c in removed} == {c.anchor for c in added} == {"walkthrough"}


def test_editing_a_standalone_section_changes_only_its_chunk() -> None:
    old = chunk_page(make_page(STABLE_PAGE))
    edited = STABLE_PAGE.replace(sentence(2, 5), sentence(2, 5) + " " + prose(40, 98))

    removed, added = changes(old, chunk_page(make_page(edited)))

    assert [c.anchor for c in removed] == ["overview"]
    assert {c.anchor for c in added} == {"overview"}


# --- A real documentation corpus ---------------------------------------------------------------


def load_redux() -> list[Page]:
    """Pages built crudely from the Docusaurus folder: front matter stripped, markdown as it is."""
    root = require_redux()
    pages = []
    for line in (root / "urls.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        relative_path, url = line.split("\t")
        post = frontmatter.loads((root / relative_path).read_text(encoding="utf-8"))
        title = str(post.get("title") or post.get("sidebar_label") or Path(relative_path).stem)
        pages.append(Page(url=url, title=title, markdown=str(post.content), source_kind="docusaurus"))
    return pages


def test_redux_corpus_chunks_keep_every_promise() -> None:
    pages = load_redux()
    chunks = [chunk for page in pages for chunk in chunk_page(page)]

    assert len(pages) >= 80
    assert len(chunks) > 5 * len(pages)
    assert_valid(chunks)
    assert all(c.text.startswith(c.title) for c in chunks)
    assert len({c.point_id for c in chunks}) == len(chunks)
    # Its two index pages (a table of contents of links, a list of links) are navigation.
    empty = {page.url for page in pages if not chunk_page(page)}
    assert empty == {"https://redux.js.org/faq", "https://redux.js.org/introduction/"}


def test_redux_corpus_edits_change_only_the_edited_merge_group() -> None:
    word = re.compile(r"\b(store|state|action|value|data)\b")
    checked = 0
    for page in load_redux():
        old = chunk_page(page)
        if not old:
            continue
        sections = [s for s in split_sections(page.markdown) if word.search(s.markdown)]
        for section in sections[:: max(1, len(sections) // 3)]:
            start = page.markdown.find(section.markdown)
            match = word.search(section.markdown)
            if match is None or start < 0:  # a body split_sections rebuilt differently (line breaks)
                continue
            replacement = "value" if match.group(0) != "value" else "state"
            edited_section = section.markdown[: match.start()] + replacement + section.markdown[match.end() :]
            context = section.markdown[max(0, match.start() - 40) : match.end()]
            if count_tokens(edited_section) != count_tokens(section.markdown) or page.markdown.count(context) != 1:
                continue  # only edits that keep the section's size are promised to stay in its merge group
            edited = page.markdown[:start] + edited_section + page.markdown[start + len(section.markdown) :]
            holders = {c.anchor for c in old if context in c.text}

            removed, added = changes(old, chunk_page(dataclasses.replace(page, markdown=edited)))

            assert removed, (page.url, section.anchor)
            assert {c.anchor for c in removed} <= holders, (page.url, section.anchor)
            assert {c.anchor for c in added} <= holders, (page.url, section.anchor)
            checked += 1
    assert checked > 150
