"""A captured conversation's messages as one JSON text, the same in SQLite and Firestore.

One text (not a row or document per message) because a conversation is written and read whole: one write keeps
the capture idempotent (storing the same conversation again changes nothing) and a reader never sees half of
one. Its size is bounded by the capture (`docsbot.learning.conversations.MAX_BYTES`), well under Firestore's
1 MiB per document. Standard library only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from docsbot.store.model import ConversationMessage, ConversationRole, SourceRef

_ROLES: dict[str, ConversationRole] = {"question": "question", "bot_answer": "bot_answer", "human_reply": "human_reply"}


def messages_json(messages: tuple[ConversationMessage, ...]) -> str:
    return json.dumps(
        [
            {
                "id": m.message_id,
                "author": m.author,
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at.isoformat(),
                "sources": [
                    {"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor}
                    for s in m.sources
                ],
                "outcome": m.outcome,
                "solution": m.solution,
            }
            for m in messages
        ],
        ensure_ascii=False,
        sort_keys=True,
    )


def parse_messages(text: str) -> tuple[ConversationMessage, ...]:
    items: list[dict[str, Any]] = json.loads(text)
    return tuple(
        ConversationMessage(
            message_id=str(item["id"]),
            author=str(item["author"]),
            role=_ROLES.get(str(item["role"]), "human_reply"),
            content=str(item["content"]),
            created_at=datetime.fromisoformat(str(item["created_at"])),
            sources=tuple(
                SourceRef(str(s["title"]), tuple(str(h) for h in s["heading_path"]), str(s["url"]), str(s["anchor"]))
                for s in item.get("sources", [])
            ),
            outcome=str(item.get("outcome", "")),
            solution=bool(item.get("solution", False)),
        )
        for item in items
    )
