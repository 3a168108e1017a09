"""The Firestore adapter's learning loop: accepted solutions, "not solved" reasons, threads read back for export.

A mixin of `docsbot.store.firestore.FirestoreStore`. Layout (added to `threads`, nothing renamed):

    threads/{thread_id}.solution            the accepted solution, a map (absent: none)
    threads/{thread_id}/feedback/{user_id}  reason, text, created_at
    conversations/{thread_id}               a captured conversation: its verdicts, and its messages as one JSON
                                            text (bounded by the capture, far under the 1 MiB document limit)

The solution and the thread's `solved` flag live in one document, so one optimistic read-modify-write
(`last_update_time` precondition) changes both atomically. `list_threads` filters on `collection` alone and
applies `since` while streaming, so it needs no composite index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

from google.cloud import firestore

from docsbot.store.conversation_codec import messages_json, parse_messages
from docsbot.store.firestore_base import FirestoreDb, Snapshot, Write, as_utc, data, doc_id
from docsbot.store.firestore_conversations import _thread
from docsbot.store.model import (
    CONVERSATION_STATUSES,
    FEEDBACK_REASONS,
    Conversation,
    ConversationStatus,
    Feedback,
    FeedbackReason,
    Solution,
    SourceRef,
    ThreadRecord,
)
from docsbot.store.rules import utc


def _solution_fields(solution: Solution) -> Write:
    return {
        "message_id": solution.message_id,
        "author_id": solution.author_id,
        "content": solution.content,
        "link": solution.link,
        "from_bot": solution.from_bot,
        "marked_by": solution.marked_by,
        "marked_at": utc(solution.marked_at),
        "sources": [
            {"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor}
            for s in solution.sources
        ],
    }


def _solution(raw: dict[str, Any]) -> Solution:
    return Solution(
        message_id=str(raw["message_id"]),
        author_id=str(raw["author_id"]),
        content=str(raw["content"]),
        link=str(raw["link"]),
        from_bot=bool(raw["from_bot"]),
        marked_by=str(raw["marked_by"]),
        marked_at=as_utc(raw["marked_at"]),
        sources=tuple(
            SourceRef(
                str(s["title"]), tuple(str(h) for h in s.get("heading_path", [])), str(s["url"]), str(s["anchor"])
            )
            for s in raw.get("sources", [])
        ),
    )


def _reason(value: object) -> FeedbackReason:
    for reason in FEEDBACK_REASONS:
        if value == reason:
            return reason
    return "other"


class FirestoreLearning(FirestoreDb):
    def mark_solution(self, thread_id: str, solution: Solution, now: datetime) -> bool:
        def decide(snapshot: Snapshot) -> tuple[Write | None, bool]:
            if not snapshot.exists:
                raise KeyError(thread_id)
            d = data(snapshot)
            old = d.get("solution")
            if isinstance(old, dict) and old.get("message_id") == solution.message_id and d.get("solved"):
                return None, False
            return {"solution": _solution_fields(solution), "solved": True, "updated_at": utc(now)}, True

        return self._read_modify_write(self._threads.document(doc_id(thread_id)), decide)

    def clear_solution(self, thread_id: str, now: datetime) -> bool:
        def decide(snapshot: Snapshot) -> tuple[Write | None, bool]:
            if not snapshot.exists or not isinstance(data(snapshot).get("solution"), dict):
                return None, False
            return {"solution": firestore.DELETE_FIELD, "updated_at": utc(now)}, True

        return self._read_modify_write(self._threads.document(doc_id(thread_id)), decide)

    def get_solution(self, thread_id: str) -> Solution | None:
        snapshot = self._threads.document(doc_id(thread_id)).get()
        raw = data(snapshot).get("solution") if snapshot.exists else None
        return _solution(raw) if isinstance(raw, dict) else None

    def record_feedback(self, feedback: Feedback) -> None:
        ref = (
            self._threads.document(doc_id(feedback.thread_id)).collection("feedback").document(doc_id(feedback.user_id))
        )
        ref.set({"reason": feedback.reason, "text": feedback.text, "created_at": utc(feedback.created_at)})

    def list_feedback(self, thread_id: str) -> list[Feedback]:
        items = [
            (snapshot.id, data(snapshot))
            for snapshot in self._threads.document(doc_id(thread_id)).collection("feedback").stream()
        ]
        feedback = [
            Feedback(
                thread_id, unquote(user), _reason(d.get("reason")), str(d.get("text", "")), as_utc(d["created_at"])
            )
            for user, d in items
        ]
        return sorted(feedback, key=lambda f: (f.created_at, f.user_id))

    def list_threads(self, collection: str, *, since: datetime | None = None) -> list[ThreadRecord]:
        query = self._threads.where(filter=firestore.FieldFilter("collection", "==", collection))
        threads = [_thread(snapshot) for snapshot in query.stream()]
        if since is not None:
            threads = [t for t in threads if t.updated_at >= utc(since)]
        return sorted(threads, key=lambda t: (t.updated_at, t.thread_id))

    def put_conversation(self, conversation: Conversation) -> bool:
        fields: Write = {
            "collection": conversation.collection,
            "fetched_at": utc(conversation.fetched_at),
            "status": conversation.status,
            "outcome": conversation.outcome,
            "solved_votes": conversation.solved_votes,
            "failed_votes": conversation.failed_votes,
            "messages": messages_json(conversation.messages),
        }
        unchanged = ("status", "outcome", "solved_votes", "failed_votes", "messages")

        def decide(snapshot: Snapshot) -> tuple[Write | None, bool]:
            old = data(snapshot) if snapshot.exists else {}
            if old and all(old.get(k) == fields[k] for k in unchanged):
                return {"fetched_at": fields["fetched_at"]}, False
            return fields, True

        return self._read_modify_write(self._conversations.document(doc_id(conversation.thread_id)), decide)

    def get_conversation(self, thread_id: str) -> Conversation | None:
        snapshot = self._conversations.document(doc_id(thread_id)).get()
        if not snapshot.exists:
            return None
        d = data(snapshot)
        return Conversation(
            thread_id=thread_id,
            collection=str(d["collection"]),
            fetched_at=as_utc(d["fetched_at"]),
            status=_status(d.get("status")),
            outcome=str(d.get("outcome", "")),
            messages=parse_messages(str(d.get("messages", "[]"))),
            solved_votes=int(d.get("solved_votes", 0)),
            failed_votes=int(d.get("failed_votes", 0)),
        )


def _status(value: object) -> ConversationStatus:
    for status in CONVERSATION_STATUSES:
        if value == status:
            return status
    return "truncated"
