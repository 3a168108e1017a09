"""Citations: only cited sections are listed, one per section, numbered as cited."""

from __future__ import annotations

from docsbot.answer.citations import renumber_citations, strip_citations
from docsbot.documents.model import Source
from tests.harness.builders import src


def test_only_cited_sources_are_listed_numbered_as_cited_one_per_section() -> None:
    same_section = src(5, url="https://docs.example.com/p2")
    same_section = Source(**{**same_section.__dict__, "anchor": "s2"})
    sources = [src(1), src(2), src(3), src(4), same_section]
    text, citations = renumber_citations("B [2]. D [4, 5]. A [1][2]. Code `x[3]`.\n```\narr[3]\n```", sources)
    assert text == "B [1]. D [1][2]. A [1][3]. Code `x[3]`.\n```\narr[3]\n```"
    assert [(c.number, c.source.url) for c in citations] == [
        (1, "https://docs.example.com/p2"),
        (2, "https://docs.example.com/p4"),
        (3, "https://docs.example.com/p1"),
    ]


def test_markers_without_a_source_are_dropped_and_links_are_left_alone() -> None:
    text, citations = renumber_citations("See [the docs](https://x.y) [7].", [src(1)])
    assert text == "See [the docs](https://x.y)."
    assert citations == ()
    assert strip_citations("It is [1] so [2, 3].") == "It is so."
