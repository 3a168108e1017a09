"""The answer without a language model: the best passages, each quoted with its citation.

A passage from a solved thread is headed by its label (`Community answer › title`), and the answer's first line
says community answers are among the passages, so nobody takes a person's reply for the docs.

Passages are shown as a reader sees the docs, whatever the source kept of their markup: JSX/MDX components
and HTML tags give way to their text, admonition fences (`:::note`) to a bold label, a code fence keeps only
its language, and heading ids (`{#anchor}`) go. The section text is cleaned before it is cut to length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from docsbot.answer.model import Answer, AnswerKind, Citation
from docsbot.documents.anchors import fence_mask
from docsbot.documents.model import Source
from docsbot.sources.mdx import clean_mdx

EXTRACTIVE_LABEL = "*No language model is configured, so here are the most relevant passages from the docs:*"
EXTRACTIVE_LABEL_COMMUNITY = (
    "*No language model is configured, so here are the most relevant passages from the docs "
    "and from solved community threads:*"
)
PASSAGE_CHARS = 500
MAX_PASSAGES = 3
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING_ID = re.compile(r"^(?P<heading>[ ]{0,3}#{1,6}[ \t].*?)[ \t]*\{#[\w-]+\}[ \t]*$")
_QUOTE_MARKERS = re.compile(r"^(?:[ ]{0,3}>[ ]?)+")


def clean_text(text: str) -> str:
    """Section text without docs markup a reader never sees (components, tags, `:::` fences, fence metadata).

    Blockquote markers go too: the passage is quoted as a whole, and Discord shows `> > x` as a literal `> x`.
    """
    lines = clean_mdx(text).split("\n")
    mask = fence_mask(lines)
    out: list[str] = []
    block_quoted = False  # whether the code block being read was opened inside a quote
    for number, (line, fenced) in enumerate(zip(lines, mask, strict=True)):
        if fenced and (number == 0 or not mask[number - 1]):
            block_quoted = line.lstrip().startswith(">")
        if not fenced:
            line = _HEADING_ID.sub(r"\g<heading>", _QUOTE_MARKERS.sub("", line))
        elif block_quoted:
            line = _QUOTE_MARKERS.sub("", line)
        out.append(line)
    return "\n".join(out).strip()


def passage(text: str, limit: int = PASSAGE_CHARS) -> str:
    """The start of a section's text, cut at a paragraph or sentence end near `limit`, fences closed."""
    text = text.strip()
    if len(text) > limit:
        cut = text[:limit]
        end = max(cut.rfind("\n\n"), cut.rfind(". ") + 1)
        text = (cut[:end] if end > limit // 2 else cut).rstrip() + " …"
    if sum(1 for line in text.splitlines() if _FENCE.match(line)) % 2:
        text += "\n```"
    return text


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def extractive_answer(sources: Sequence[Source], *, collection: str = "", search_query: str = "") -> Answer:
    """Quote the top sections, numbered [1]..[n], under a label that says no model wrote this."""
    chosen: list[Source] = []
    for source in sources:
        if all((s.url, s.anchor) != (source.url, source.anchor) for s in chosen):
            chosen.append(source)
        if len(chosen) == MAX_PASSAGES:
            break
    blocks = [EXTRACTIVE_LABEL_COMMUNITY if any(s.community for s in chosen) else EXTRACTIVE_LABEL]
    for number, source in enumerate(chosen, start=1):
        blocks.append(f"**{source.label}** [{number}]\n{_quote(passage(clean_text(source.text or source.snippet)))}")
    return Answer(
        kind=AnswerKind.EXTRACTIVE,
        text="\n\n".join(blocks),
        citations=tuple(Citation(number=n, source=s) for n, s in enumerate(chosen, start=1)),
        collection=collection,
        search_query=search_query,
    )
