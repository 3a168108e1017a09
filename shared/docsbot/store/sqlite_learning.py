"""The SQLite adapter's learning loop: accepted solutions, "not solved" reasons, threads read back for export.

A mixin of `docsbot.store.sqlite.SqliteStore`. A captured conversation is one row of `conversations` (its messages
one JSON text), replaced whole. A thread's solution is one row of `solutions` (keyed by thread),
written with the thread's `solved` flag in one `BEGIN IMMEDIATE` transaction, so a reader never sees a solved
thread without its solution or the reverse. `migrate` adds the columns older files lack.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from docsbot.store.conversation_codec import messages_json, parse_messages
from docsbot.store.model import (
    CONVERSATION_STATUSES,
    Conversation,
    ConversationStatus,
    Feedback,
    FeedbackReason,
    Solution,
    ThreadRecord,
)
from docsbot.store.sqlite_conversations import _thread, parse_sources, sources_json
from docsbot.store.sqlite_db import SqliteDb, iso, parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS solutions (
    thread_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    content TEXT NOT NULL,
    link TEXT NOT NULL,
    from_bot INTEGER NOT NULL,
    marked_by TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    sources TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
CREATE TABLE IF NOT EXISTS conversations (
    thread_id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    solved_votes INTEGER NOT NULL,
    failed_votes INTEGER NOT NULL,
    messages TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS threads_by_collection ON threads (collection, updated_at);
"""


def migrate(db: sqlite3.Connection) -> None:
    """Add the answer outcome column to a messages table created before it."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(messages)")}
    if "outcome" not in present:
        db.execute("ALTER TABLE messages ADD COLUMN outcome TEXT NOT NULL DEFAULT ''")


def _solution(row: sqlite3.Row) -> Solution:
    return Solution(
        message_id=row["message_id"],
        author_id=row["author_id"],
        content=row["content"],
        link=row["link"],
        from_bot=bool(row["from_bot"]),
        marked_by=row["marked_by"],
        marked_at=parse(row["marked_at"]),
        sources=parse_sources(row["sources"]),
    )


def _reason(value: str) -> FeedbackReason:
    known: dict[str, FeedbackReason] = {
        "wrong": "wrong",
        "outdated": "outdated",
        "incomplete": "incomplete",
        "not_what_i_asked": "not_what_i_asked",
    }
    return known.get(value, "other")


class SqliteLearning(SqliteDb):
    def mark_solution(self, thread_id: str, solution: Solution, now: datetime) -> bool:
        with self._write() as db:
            thread = db.execute("SELECT solved FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
            if thread is None:
                raise KeyError(thread_id)
            old = db.execute("SELECT message_id FROM solutions WHERE thread_id = ?", (thread_id,)).fetchone()
            if old is not None and old["message_id"] == solution.message_id and thread["solved"]:
                return False
            db.execute(
                "INSERT OR REPLACE INTO solutions (thread_id, message_id, author_id, content, link, from_bot, "
                "marked_by, marked_at, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    solution.message_id,
                    solution.author_id,
                    solution.content,
                    solution.link,
                    int(solution.from_bot),
                    solution.marked_by,
                    iso(solution.marked_at),
                    sources_json(solution.sources),
                ),
            )
            db.execute("UPDATE threads SET solved = 1, updated_at = ? WHERE thread_id = ?", (iso(now), thread_id))
        return True

    def clear_solution(self, thread_id: str, now: datetime) -> bool:
        with self._write() as db:
            deleted = db.execute("DELETE FROM solutions WHERE thread_id = ?", (thread_id,)).rowcount
            if deleted:
                db.execute("UPDATE threads SET updated_at = ? WHERE thread_id = ?", (iso(now), thread_id))
        return bool(deleted)

    def get_solution(self, thread_id: str) -> Solution | None:
        row = self._db().execute("SELECT * FROM solutions WHERE thread_id = ?", (thread_id,)).fetchone()
        return None if row is None else _solution(row)

    def record_feedback(self, feedback: Feedback) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback (thread_id, user_id, reason, text, created_at) VALUES (?, ?, ?, ?, ?)",
                (feedback.thread_id, feedback.user_id, feedback.reason, feedback.text, iso(feedback.created_at)),
            )

    def list_feedback(self, thread_id: str) -> list[Feedback]:
        rows = self._db().execute(
            "SELECT * FROM feedback WHERE thread_id = ? ORDER BY created_at, user_id", (thread_id,)
        )
        return [
            Feedback(row["thread_id"], row["user_id"], _reason(row["reason"]), row["text"], parse(row["created_at"]))
            for row in rows
        ]

    def list_threads(self, collection: str, *, since: datetime | None = None) -> list[ThreadRecord]:
        rows = self._db().execute(
            "SELECT * FROM threads WHERE collection = ? AND updated_at >= ? ORDER BY updated_at, thread_id",
            (collection, "" if since is None else iso(since)),
        )
        return [_thread(row) for row in rows]

    def put_conversation(self, conversation: Conversation) -> bool:
        body = messages_json(conversation.messages)
        verdict = (conversation.status, conversation.outcome, conversation.solved_votes, conversation.failed_votes)
        with self._write() as db:
            old = db.execute(
                "SELECT status, outcome, solved_votes, failed_votes, messages FROM conversations WHERE thread_id = ?",
                (conversation.thread_id,),
            ).fetchone()
            if old is not None and tuple(old)[:4] == verdict and old["messages"] == body:
                db.execute(
                    "UPDATE conversations SET fetched_at = ? WHERE thread_id = ?",
                    (iso(conversation.fetched_at), conversation.thread_id),
                )
                return False
            db.execute(
                "INSERT OR REPLACE INTO conversations (thread_id, collection, fetched_at, status, outcome, "
                "solved_votes, failed_votes, messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation.thread_id, conversation.collection, iso(conversation.fetched_at), *verdict, body),
            )
        return True

    def get_conversation(self, thread_id: str) -> Conversation | None:
        row = self._db().execute("SELECT * FROM conversations WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None:
            return None
        return Conversation(
            thread_id=row["thread_id"],
            collection=row["collection"],
            fetched_at=parse(row["fetched_at"]),
            status=_status(row["status"]),
            outcome=row["outcome"],
            messages=parse_messages(row["messages"]),
            solved_votes=int(row["solved_votes"]),
            failed_votes=int(row["failed_votes"]),
        )


def _status(value: object) -> ConversationStatus:
    for status in CONVERSATION_STATUSES:
        if value == status:
            return status
    return "truncated"
