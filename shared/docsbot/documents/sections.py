"""Split normalised page markdown into heading sections.

Normalised markdown carries each heading's anchor explicitly: `## Heading {#anchor}`. Headings inside
code fences are text, not headings. Headings without an explicit anchor get the one Docusaurus would give
them, so markdown that was not normalised still splits with the real page's anchors.
"""

from __future__ import annotations

import re

from docsbot.documents.anchors import (
    fence_mask,
    normalise_heading_anchors,
    rendered_heading_text,
    split_explicit_id,
)
from docsbot.documents.model import Section

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$")


def split_sections(markdown: str) -> list[Section]:
    """Sections in document order. The lead section (text before the first heading) has level 1.

    `heading_path` lists the headings' rendered text (no link syntax or emphasis) from level 2 down to the
    section's own; a level-1 heading in the body (the page title) is not part of any path.
    """
    lines = normalise_heading_anchors(markdown).split("\n")
    in_fence = fence_mask(lines)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, text) of the enclosing headings
    level, anchor = 1, ""
    path: tuple[str, ...] = ()
    body: list[str] = []

    def flush() -> None:
        text = "\n".join(body).strip()
        sections.append(Section(heading_path=path, anchor=anchor, level=level, markdown=text))

    for line, fenced in zip(lines, in_fence, strict=True):
        heading = None if fenced else _HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        flush()
        body = []
        hashes, raw_text = heading.groups()
        text, explicit = split_explicit_id(raw_text)
        text = " ".join(rendered_heading_text(text).split())
        level = len(hashes)
        if level == 1:
            stack = []
            path = ()
        else:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            path = tuple(t for _, t in stack)
        anchor = "" if level == 1 else (explicit or "")
    flush()
    return [s for s in sections if s.markdown or s.level > 1]
