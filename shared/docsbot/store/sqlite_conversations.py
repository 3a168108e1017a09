"""The SQLite adapter's conversations: threads, messages, votes.

A mixin of `docsbot.store.sqlite.SqliteStore`; the vote and thread-controller decisions are `docsbot.store.rules`,
made inside one `BEGIN IMMEDIATE` transaction (read, decide, write).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from docsbot.store import rules
from docsbot.store.model import (
    MessageRecord,
    NewThread,
    SourceRef,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)
from docsbot.store.sqlite_db import SqliteDb, iso, parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    author_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    guild_id TEXT,
    channel_id TEXT,
    title TEXT NOT NULL,
    open INTEGER NOT NULL,
    solved INTEGER NOT NULL,
    thread_controller_id TEXT,
    solved_votes INTEGER NOT NULL DEFAULT 0,
    failed_votes INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    content TEXT NOT NULL,
    from_bot INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    first_message INTEGER NOT NULL,
    asked_bot INTEGER NOT NULL,
    sources TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (thread_id, message_id)
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (thread_id, created_at, message_id);
CREATE TABLE IF NOT EXISTS votes (
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    vote TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
"""


def _thread(row: sqlite3.Row) -> ThreadRecord:
    return ThreadRecord(
        thread_id=row["thread_id"],
        collection=row["collection"],
        author_id=row["author_id"],
        created_at=parse(row["created_at"]),
        updated_at=parse(row["updated_at"]),
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        title=row["title"],
        open=bool(row["open"]),
        solved=bool(row["solved"]),
        thread_controller_id=row["thread_controller_id"],
        solved_votes=row["solved_votes"],
        failed_votes=row["failed_votes"],
    )


def sources_json(sources: Sequence[SourceRef]) -> str:
    return json.dumps(
        [{"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor} for s in sources]
    )


def parse_sources(text: str) -> tuple[SourceRef, ...]:
    items = json.loads(text)
    return tuple(
        SourceRef(
            title=str(item["title"]),
            heading_path=tuple(str(h) for h in item["heading_path"]),
            url=str(item["url"]),
            anchor=str(item["anchor"]),
        )
        for item in items
    )


def _message(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        author_id=row["author_id"],
        content=row["content"],
        from_bot=bool(row["from_bot"]),
        created_at=parse(row["created_at"]),
        first_message=bool(row["first_message"]),
        asked_bot=bool(row["asked_bot"]),
        sources=parse_sources(row["sources"]),
        outcome=row["outcome"],
    )


class SqliteConversations(SqliteDb):
    # --- threads and messages -----------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = self._db().execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        return None if row is None else _thread(row)

    def ensure_thread(self, new: NewThread, now: datetime) -> ThreadRecord:
        stamp = iso(now)
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO threads (thread_id, collection, author_id, created_at, updated_at, guild_id, "
                "channel_id, title, open, solved, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)",
                (
                    new.thread_id,
                    new.collection,
                    new.author_id,
                    stamp,
                    stamp,
                    new.guild_id,
                    new.channel_id,
                    new.title,
                    json.dumps(new.extra, sort_keys=True),
                ),
            )
            row = db.execute("SELECT * FROM threads WHERE thread_id = ?", (new.thread_id,)).fetchone()
        return _thread(row)

    def update_thread(self, thread_id: str, update: ThreadUpdate, now: datetime) -> ThreadRecord | None:
        with self._write() as db:
            # COALESCE keeps a column as it is where the update says None.
            db.execute(
                "UPDATE threads SET open = COALESCE(?, open), solved = COALESCE(?, solved), "
                "collection = COALESCE(?, collection), title = COALESCE(?, title), updated_at = ? WHERE thread_id = ?",
                (
                    None if update.open is None else int(update.open),
                    None if update.solved is None else int(update.solved),
                    update.collection,
                    update.title,
                    iso(now),
                    thread_id,
                ),
            )
            row = db.execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        return None if row is None else _thread(row)

    def set_thread_controller(self, thread_id: str, message_id: str, now: datetime) -> str:
        """Set `thread_controller_id` if unset; returns the controller id in effect. KeyError: unknown thread."""
        with self._write() as db:
            row = db.execute("SELECT thread_controller_id FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
            if row is None:
                raise KeyError(thread_id)
            current: str | None = row["thread_controller_id"]
            controller = rules.decide_controller(current, message_id)
            if controller != current:
                db.execute(
                    "UPDATE threads SET thread_controller_id = ?, updated_at = ? WHERE thread_id = ?",
                    (controller, iso(now), thread_id),
                )
        return controller

    def add_message(self, message: MessageRecord) -> bool:
        cursor = self._db().execute(
            "INSERT OR IGNORE INTO messages (message_id, thread_id, author_id, content, from_bot, created_at, "
            "first_message, asked_bot, sources, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.message_id,
                message.thread_id,
                message.author_id,
                message.content,
                int(message.from_bot),
                iso(message.created_at),
                int(message.first_message),
                int(message.asked_bot),
                sources_json(message.sources),
                message.outcome,
            ),
        )
        return cursor.rowcount == 1

    def list_messages(self, thread_id: str, limit: int = 50) -> list[MessageRecord]:
        rows = self._db().execute(
            "SELECT * FROM messages WHERE thread_id = ? ORDER BY created_at DESC, message_id DESC LIMIT ?",
            (thread_id, max(0, limit)),
        )
        return [_message(row) for row in reversed(rows.fetchall())]

    # --- votes ----------------------------------------------------------------------------------------

    def record_vote(
        self, thread_id: str, user_id: str, vote: VoteKind, *, is_author: bool, now: datetime
    ) -> VoteResult:
        """One vote per user; a change moves it. The author's "solved" marks the thread solved, and nothing a
        vote does un-marks it (a later "failed" from the author only moves the vote). KeyError: unknown thread."""
        rules.check_vote(vote)
        stamp = iso(now)
        with self._write() as db:
            thread = db.execute(
                "SELECT solved, solved_votes, failed_votes FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            if thread is None:
                raise KeyError(thread_id)
            old = db.execute(
                "SELECT vote FROM votes WHERE thread_id = ? AND user_id = ?", (thread_id, user_id)
            ).fetchone()
            change = rules.decide_vote(None if old is None else str(old["vote"]), vote, is_author=is_author)
            was_solved = bool(thread["solved"])
            result = rules.apply_vote(int(thread["solved_votes"]), int(thread["failed_votes"]), was_solved, change)
            if change.changed:
                db.execute(
                    "INSERT INTO votes (thread_id, user_id, vote, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (thread_id, user_id) DO UPDATE SET vote = excluded.vote, "
                    "updated_at = excluded.updated_at",
                    (thread_id, user_id, vote, stamp),
                )
            if change.changed or result.thread_solved != was_solved:
                db.execute(
                    "UPDATE threads SET solved_votes = ?, failed_votes = ?, solved = ?, updated_at = ? "
                    "WHERE thread_id = ?",
                    (result.solved_votes, result.failed_votes, int(result.thread_solved), stamp, thread_id),
                )
        return result
