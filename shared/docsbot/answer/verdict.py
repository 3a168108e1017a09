"""The model's own verdict on coverage: a fixed marker it emits when the sources do not answer the question.

The system prompt (`prompt.py`) tells the model to end its reply with `NOT_COVERED_MARKER` on a line of its
own when the documentation sources do not fully answer the question. Asking for a fixed token makes the verdict
machine-readable: nothing is guessed from the prose, whatever language the answer is written in. The marker is
matched loosely (case, spaces, `_`/`-`/space between the words) because models copy tokens imperfectly, and
it is always removed from what users see: `split_verdict` for a whole reply, `MarkerFilter` for a stream, which
holds back a possible marker's beginning until it knows whether the marker follows.

A reply without the marker counts as covered: that is how answers behaved before the verdict existed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NOT_COVERED_MARKER = "[[NOT_COVERED]]"
_MARKER = re.compile(r"[ \t]*\[\[\s*not[\s_-]*covered\s*\]\][ \t]*", re.IGNORECASE)
_MAX_HELD = 40  # a `[[` with no `]]` within this many characters is not the marker: stop holding it back


def split_verdict(text: str) -> tuple[str, bool]:
    """(the reply without any marker, whether the model said the sources do not cover the question)."""
    cleaned, count = _MARKER.subn("", text)
    if not count:
        return text, False
    # The marker sat on a line of its own: removing it must not leave blank lines behind.
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    return cleaned, True


class MarkerFilter:
    """Passes streamed text on to `sink` without the marker, holding back only what could be its start."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink = sink
        self.pending = ""

    def feed(self, delta: str) -> None:
        self.pending = _MARKER.sub("", self.pending + delta)
        start = self.pending.rfind("[[")
        if start == -1 and self.pending.endswith("["):
            start = len(self.pending) - 1
        if start != -1 and "]]" not in self.pending[start:] and len(self.pending) - start <= _MAX_HELD:
            emit, self.pending = self.pending[:start], self.pending[start:]
        else:
            emit, self.pending = self.pending, ""
        if emit:
            self.sink(emit)

    def flush(self) -> None:
        """Pass on what is still held back (the stream ended: it was not a marker)."""
        rest, self.pending = _MARKER.sub("", self.pending), ""
        if rest:
            self.sink(rest)
