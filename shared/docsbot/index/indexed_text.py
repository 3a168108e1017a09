"""The text a chunk is embedded and keyword-indexed from: its markdown as a reader reads it, without link targets.

Sources keep every link absolute (`[store](https://redux.js.org/api/store)`), which is right for what the bot
shows and cites, but a link's destination is not something the section says: its URL words ("https", "redux",
"js", "org", "api") match every question and push the section's own words out of a small embedding model's
window. So a markdown link counts by its text and an image by its alt text; bare URLs written in prose and
everything inside code fences stay as they are (code is quoted verbatim, `handlers[0](event)` included).
The chunk's stored text, content hash and point id do not change.
"""

from __future__ import annotations

import re

# `[text](destination "title")` or `![alt](destination)`, one level of brackets inside the text.
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\(\s*<?[^()\s<>]*(?:\([^()\s]*\))?[^()\s<>]*>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def indexed_text(markdown: str) -> str:
    """`markdown` with every inline link or image outside code fences replaced by its text."""
    if "](" not in markdown:
        return markdown
    out: list[str] = []
    fence = ""
    for line in markdown.split("\n"):
        marker = _FENCE.match(line)
        if fence:
            if marker and marker.group(1) == fence:
                fence = ""
            out.append(line)
        elif marker:
            fence = marker.group(1)
            out.append(line)
        else:
            out.append(_INLINE_LINK.sub(lambda m: m.group(2), line) if "](" in line else line)
    return "\n".join(out)
