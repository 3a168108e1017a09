"""Citations: turn the model's `[n]` markers (numbered by prompt order) into the answer's own numbering.

Only sources the answer actually cites are kept, one per documentation section (two prompt sources of the
same section become one citation), numbered in the order they are first cited. Markers that point at no
source are removed; markers inside code are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from docsbot.answer.model import Citation
from docsbot.documents.model import Source

# `[1]`, `[1, 2]`, `[1][3]`, `[1-3]`: a bracket of numbers, not followed by `(` (a markdown link).
_SPEC = r"\d{1,3}(?:\s*[,–-]\s*\d{1,3})*"
# A run of adjacent markers (`[1][3]`) is renumbered as one, so it comes out sorted.
_MARKER = re.compile(rf"(?P<space>[ \t]*)(?P<run>(?:\[{_SPEC}\](?!\())+)")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)


def _numbers(spec: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*,\s*", spec):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            numbers.extend(range(low, min(high, low + 20) + 1))  # bounded: "[1-999]" is not a list
        elif bounds[0].isdigit():
            numbers.append(int(bounds[0]))
    return numbers


def _outside_code(text: str, replace_fn: Callable[[re.Match[str]], str]) -> str:
    pieces: list[str] = []
    position = 0
    for code in _CODE.finditer(text):
        pieces.append(_MARKER.sub(replace_fn, text[position : code.start()]))
        pieces.append(code.group(0))
        position = code.end()
    pieces.append(_MARKER.sub(replace_fn, text[position:]))
    return "".join(pieces)


def renumber_citations(text: str, sources: Sequence[Source]) -> tuple[str, tuple[Citation, ...]]:
    """(text with markers renumbered, the cited sources in citation order)."""
    by_section: dict[tuple[str, str], int] = {}
    citations: list[Citation] = []

    def number_for(prompt_number: int) -> int | None:
        if not 1 <= prompt_number <= len(sources):
            return None
        source = sources[prompt_number - 1]
        key = (source.url, source.anchor)
        if key not in by_section:
            by_section[key] = len(citations) + 1
            citations.append(Citation(number=len(citations) + 1, source=source))
        return by_section[key]

    def replace(match: re.Match[str]) -> str:
        numbers: list[int] = []
        specs = re.findall(_SPEC, match.group("run"))
        for prompt_number in [n for spec in specs for n in _numbers(spec)]:
            number = number_for(prompt_number)
            if number is not None and number not in numbers:
                numbers.append(number)
        if not numbers:
            return ""  # the space before a dropped marker goes too: "text [9]." → "text."
        return match.group("space") + "".join(f"[{n}]" for n in sorted(numbers))

    return _outside_code(text, replace).strip(), tuple(citations)


def strip_citations(text: str) -> str:
    """`text` without `[n]` markers: earlier answers in the prompt must not refer to old numbering."""
    return _outside_code(text, lambda match: "").strip()
