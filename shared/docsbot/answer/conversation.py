"""What to search for, given a thread's conversation.

The first question is searched as it is. A follow-up ("and how do I test it?") means little alone, so the
search text is a sliding window over the conversation: the latest question plus the user's previous
questions, newest first. Answers and the sources the bot showed are left out on purpose: they would pull
the search back towards the sections already shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from docsbot.answer.model import Turn

DEFAULT_WINDOW = 3  # the latest question and the two user turns before it
MAX_SEARCH_CHARS = 2000  # keeps the window inside what the embedder and BM25 handle well


def search_text(history: Sequence[Turn], question: str, *, window: int = DEFAULT_WINDOW) -> str:
    """The text to search with: `question`, then up to `window - 1` earlier user turns, newest first."""
    if window < 1:
        raise ValueError("window must be at least 1")
    parts = [question.strip()]
    earlier = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    for content in reversed(earlier):
        if len(parts) >= window:
            break
        if content != parts[-1]:
            parts.append(content)
    text = "\n".join(p for p in parts if p)
    return text[:MAX_SEARCH_CHARS]
