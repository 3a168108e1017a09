"""Heading anchors must be the ones Docusaurus puts on the real page, or deep links break."""

from __future__ import annotations

import pytest

from docsbot.documents.anchors import (
    Slugger,
    fence_mask,
    github_slug,
    normalise_heading_anchors,
    rendered_heading_text,
    split_explicit_id,
)
from docsbot.documents.sections import split_sections


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hello World", "hello-world"),
        ("What's new?", "whats-new"),
        ("Step 1: Add a column", "step-1-add-a-column"),
        ("C++ & Rust", "c--rust"),  # punctuation goes, the spaces around it stay as hyphens
        ("snake_case and kebab-case", "snake_case-and-kebab-case"),
        ("Über café", "über-café"),
        ("日本語のガイド", "日本語のガイド"),
        ("🎉 Party", "-party"),  # emoji are dropped, like GitHub does
        ("Normalize Complex Nested/Relational State", "normalize-complex-nestedrelational-state"),
        ("Write Action Types as domain/eventName", "write-action-types-as-domaineventname"),
        # Real Redux headings whose anchors questions.jsonl links to.
        (
            "Why isn't my component re-rendering, or my mapStateToProps running?",
            "why-isnt-my-component-re-rendering-or-my-mapstatetoprops-running",
        ),
        (
            "Deprecation and Alternate legacy_createStore Export",
            "deprecation-and-alternate-legacy_createstore-export",
        ),
    ],
)
def test_github_slug(text: str, slug: str) -> None:
    assert github_slug(text) == slug


def test_slugger_numbers_repeats_like_github_slugger() -> None:
    slugger = Slugger()
    assert [slugger.slug(t) for t in ["Further information"] * 3] == [
        "further-information",
        "further-information-1",
        "further-information-2",
    ]
    # A heading whose own slug collides with a generated one is numbered on from there.
    slugger = Slugger()
    assert [slugger.slug(t) for t in ["foo", "foo", "foo-1"]] == ["foo", "foo-1", "foo-1-1"]


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        (
            "Using [native Postgres enum types](https://www.postgresql.org/docs/)",
            "Using native Postgres enum types",
        ),
        ("Reactive Logic with `createListenerMiddleware`", "Reactive Logic with createListenerMiddleware"),
        ("Step 1: Add a **deleted_at** column", "Step 1: Add a deleted_at column"),
        ("Add a created_at timestamp", "Add a created_at timestamp"),  # `_` inside words is not emphasis
        ("An _emphasised_ and *starred* word", "An emphasised and starred word"),
        ("<Schema /> GraphQL Schema", " GraphQL Schema"),  # Docusaurus does not trim: `-graphql-schema`
        ("Badge <span class='x'>new</span>", "Badge new"),
        ("The `<Provider>` component", "The <Provider> component"),  # code keeps its text, even tags
        ("![logo](logo.png) Logo", "logo Logo"),
        (r"Escaped \*stars\*", "Escaped *stars*"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
    ],
)
def test_rendered_heading_text(markdown: str, text: str) -> None:
    assert rendered_heading_text(markdown) == text


def test_split_explicit_id() -> None:
    assert split_explicit_id("Introduction {#types-table}") == ("Introduction", "types-table")
    assert split_explicit_id("No id here") == ("No id here", None)
    assert split_explicit_id("Braces {in} the middle") == ("Braces {in} the middle", None)


def test_every_heading_gets_its_anchor() -> None:
    markdown = (
        "Intro text.\n\n## Install\n\n### Using `npm`\n\n## Custom {#my-id}\n\n## Install\n\n#### Closing hashes ####\n"
    )
    assert normalise_heading_anchors(markdown) == (
        "Intro text.\n\n"
        "## Install {#install}\n\n"
        "### Using `npm` {#using-npm}\n\n"
        "## Custom {#my-id}\n\n"
        "## Install {#install-1}\n\n"
        "#### Closing hashes {#closing-hashes}\n"
    )


def test_explicit_ids_do_not_count_as_repeats() -> None:
    # Docusaurus does not feed explicit ids to the slugger, so a later `## Install` is still `install`.
    normalised = normalise_heading_anchors("## Setup {#install}\n\n## Install\n")
    assert normalised == "## Setup {#install}\n\n## Install {#install}\n"


def test_the_title_heading_counts_for_repeats() -> None:
    normalised = normalise_heading_anchors("# Overview\n\n## Overview\n")
    assert normalised == "# Overview {#overview}\n\n## Overview {#overview-1}\n"


def test_headings_inside_code_fences_are_not_headings() -> None:
    markdown = (
        "```bash\n# install it\nnpm i redux\n```\n\n"
        "~~~~python\n# a comment\n```\n# still code\n~~~~\n\n"
        "- step:\n\n  ```yaml\n  # indented fence\n  ```\n\n"
        "## After {#after}\n"
    )
    assert normalise_heading_anchors(markdown) == markdown


def test_heading_after_an_unclosed_fence_stays_code() -> None:
    markdown = "```js\nconst a = 1\n## not a heading\n"
    assert normalise_heading_anchors(markdown) == markdown


def test_fence_mask_handles_fence_lengths_and_kinds() -> None:
    lines = ["````md", "```js", "# inner", "```", "````", "# heading", "~~~", "x", "~~~"]
    assert fence_mask(lines) == [True, True, True, True, True, False, True, True, True]
    # Inline code with three backticks on one line is not a fence.
    assert fence_mask(["``` `x` ```", "# heading"]) == [False, False]


def test_headings_in_blockquotes_get_anchors_and_count() -> None:
    normalised = normalise_heading_anchors("> **Note**\n>\n> ### Example\n\n### Example\n")
    assert normalised == "> **Note**\n>\n> ### Example {#example}\n\n### Example {#example-1}\n"


def test_setext_headings_become_atx() -> None:
    normalised = normalise_heading_anchors("Title\n=====\n\nSection one\n-----------\n\ntext\n")
    assert normalised == "# Title {#title}\n\n## Section one {#section-one}\n\ntext\n"


def test_thematic_break_after_a_list_is_not_a_heading() -> None:
    markdown = "- item\n---\n\ntext\n"
    assert normalise_heading_anchors(markdown) == markdown


def test_normalising_twice_changes_nothing() -> None:
    once = normalise_heading_anchors("## A\n\n## A\n\n### `b()` call\n\n## C {#c}\n")
    assert normalise_heading_anchors(once) == once


def test_sections_use_docusaurus_anchors_and_plain_heading_text() -> None:
    # Markdown that was never normalised still splits with the real page's anchors.
    sections = split_sections(
        "Lead text.\n\n## Further information\n\nA.\n\n### Using [links](https://x.io) and `code`\n\nB.\n\n"
        "```md\n## not a heading\n```\n\n## Further information\n\n## Custom {#custom}\n"
    )
    assert [(s.level, s.anchor, s.heading_path) for s in sections] == [
        (1, "", ()),
        (2, "further-information", ("Further information",)),
        (3, "using-links-and-code", ("Further information", "Using links and code")),
        (2, "further-information-1", ("Further information",)),
        (2, "custom", ("Custom",)),
    ]
    assert sections[2].markdown == "B.\n\n```md\n## not a heading\n```"
    assert sections[4].markdown == ""  # an empty heading section is kept
