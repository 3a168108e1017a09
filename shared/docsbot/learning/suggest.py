"""With a chat model configured: a one-line title and a proposed doc change for each of the largest gap clusters.

For each cluster (at most `limit`, largest first) the model gets its representative questions, the doc sections
nearest to it (title, link, similarity) and the people's solutions numbered [S1], [S2]…, and is asked for JSON:
`{"title", "change": "add" | "edit", "page", "proposal"}`: which page to add or edit and what to write, drafted
from the people's solutions and citing them by number. What comes back is checked (a known change, strings,
bounded lengths); a reply that is not that, or a model that fails, leaves the cluster with its keyword label only
(logged, never fatal): the report stays useful offline. Texts sent are the report's, already scrubbed of personal
data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docsbot.answer.chat import ChatError, ChatMessage, ChatModel

if TYPE_CHECKING:  # gaps.py runs the suggestions: a runtime import back would be a cycle
    from docsbot.learning.gaps import Cluster

log = logging.getLogger("docsbot.learning")
MAX_TITLE = 120
MAX_PROPOSAL = 1200
SYSTEM = (
    "You help a documentation team close gaps in the {collection} docs. You get questions users asked that the "
    "docs did not answer, the nearest existing doc sections, and how people in the community solved them, "
    "numbered [S1], [S2]... Reply with JSON only: "
    '{{"title": a one-line title of what the questions are about, "change": "add" or "edit", '
    '"page": the URL of the page to edit, or the title of a new page, '
    '"proposal": 2-4 sentences saying what to write, drafted from the solutions and citing them as [S1]...}}'
)


def _prompt(cluster: Cluster) -> str:
    lines = ["Questions:"]
    lines += [f"- {q}" for q in cluster.representatives]
    lines.append("Nearest doc sections (cosine similarity):")
    lines += [f"- {d.title} <{d.url}> ({d.similarity:.2f})" for d in cluster.nearest_docs]
    solutions = cluster.solutions
    if solutions:
        lines.append("How people solved them:")
        lines += [f"[S{i}] {s.solution}" for i, s in enumerate(solutions, start=1)]
    else:
        lines.append("Nobody solved them yet.")
    return "\n".join(lines)


def _parse(text: str) -> tuple[str, str] | None:
    """(title, proposal) from the model's JSON reply, or None when it is not the asked shape."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    title, change, page, proposal = (data.get(k) for k in ("title", "change", "page", "proposal"))
    if not all(isinstance(v, str) and v.strip() for v in (title, change, page, proposal)):
        return None
    assert isinstance(title, str) and isinstance(change, str) and isinstance(page, str) and isinstance(proposal, str)
    if change.strip().lower() not in ("add", "edit"):
        return None
    verb = "Add a page" if change.strip().lower() == "add" else "Edit"
    text = f"{verb}: {page.strip()}. {proposal.strip()}"
    return " ".join(title.split())[:MAX_TITLE], text[:MAX_PROPOSAL]


def suggest_changes(clusters: Sequence[Cluster], chat: ChatModel, *, collection: str, limit: int = 10) -> int:
    """Fill `title` and `proposal` of the first `limit` clusters from the model; the number filled."""
    filled = 0
    for cluster in clusters[:limit]:
        messages = [
            ChatMessage("system", SYSTEM.format(collection=collection)),
            ChatMessage("user", _prompt(cluster)),
        ]
        try:
            reply = chat.complete(messages, max_tokens=400)
        except ChatError as error:
            log.warning("no proposal for a gap cluster: the model failed (%s)", error.kind)
            continue
        parsed = _parse(reply.text)
        if parsed is None:
            log.warning("no proposal for a gap cluster: the model's reply was not the JSON asked for")
            continue
        cluster.title, cluster.proposal = parsed
        filled += 1
    return filled
