"""The state store in one SQLite file (`docsbot serve` and other local runs).

Every thread gets its own connection (WAL mode, so readers never wait for the writer); every read-modify-write
runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock up front, so two writers cannot both read
the old value. Times are stored as fixed-width ISO 8601 strings in UTC, which sort chronologically.
Expired interactions and past quota windows are pruned as new ones are written (Firestore's TTL policy does
that job in the cloud).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docsbot.store.model import (
    Claim,
    ClaimResult,
    CollectionRecord,
    InteractionRecord,
    InteractionState,
    MessageRecord,
    NewThread,
    QuotaResult,
    SourceRef,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BUSY_TIMEOUT_S = 30.0  # how long a connection waits for another writer before "database is locked"

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS channels (
    channel_id TEXT PRIMARY KEY,
    collection TEXT NOT NULL
);
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
CREATE TABLE IF NOT EXISTS interactions (
    interaction_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    lease_until TEXT,
    thread_id TEXT
);
CREATE INDEX IF NOT EXISTS interactions_by_expiry ON interactions (expires_at);
CREATE TABLE IF NOT EXISTS quotas (
    key TEXT NOT NULL,
    window_us INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    used INTEGER NOT NULL,
    reset_at TEXT NOT NULL,
    PRIMARY KEY (key, window_us, bucket)
);
"""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _iso(value: datetime) -> str:
    """A fixed-width UTC timestamp (microseconds always present, so the strings sort by time)."""
    return _utc(value).isoformat(timespec="microseconds")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _parse_optional(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _thread(row: sqlite3.Row) -> ThreadRecord:
    return ThreadRecord(
        thread_id=row["thread_id"],
        collection=row["collection"],
        author_id=row["author_id"],
        created_at=_parse(row["created_at"]),
        updated_at=_parse(row["updated_at"]),
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        title=row["title"],
        open=bool(row["open"]),
        solved=bool(row["solved"]),
        thread_controller_id=row["thread_controller_id"],
        solved_votes=row["solved_votes"],
        failed_votes=row["failed_votes"],
    )


def _sources_json(sources: Sequence[SourceRef]) -> str:
    return json.dumps(
        [{"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor} for s in sources]
    )


def _sources(text: str) -> tuple[SourceRef, ...]:
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
        created_at=_parse(row["created_at"]),
        first_message=bool(row["first_message"]),
        asked_bot=bool(row["asked_bot"]),
        sources=_sources(row["sources"]),
    )


def _interaction(row: sqlite3.Row) -> InteractionRecord:
    return InteractionRecord(
        interaction_id=row["interaction_id"],
        state=InteractionState(row["state"]),
        attempts=row["attempts"],
        created_at=_parse(row["created_at"]),
        expires_at=_parse(row["expires_at"]),
        lease_until=_parse_optional(row["lease_until"]),
        thread_id=row["thread_id"],
    )


def _lease_live(record: InteractionRecord, now: datetime) -> bool:
    """Another attempt is answering and its lease has not run out."""
    return record.state is InteractionState.ANSWERING and record.lease_until is not None and record.lease_until > now


class SqliteStore:
    """`StateStore` in a SQLite file; safe to share between threads (and processes) of one machine."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
        db.executescript(SCHEMA)

    # --- connections and transactions ------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise RuntimeError("the state store is closed")
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: no implicit transactions; we issue BEGIN IMMEDIATE ourselves.
            # check_same_thread=False only so that close() may close every thread's connection.
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commits
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A `BEGIN IMMEDIATE` transaction: committed when the block ends, rolled back when it raises."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection; the store is unusable afterwards."""
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()

    # --- collections and the channel → collection map -------------------------------------------------

    def put_collections(self, collections: Sequence[CollectionRecord], channels: dict[str, str]) -> None:
        with self._write() as db:
            db.execute("DELETE FROM collections")
            db.execute("DELETE FROM channels")
            db.executemany(
                "INSERT OR REPLACE INTO collections (name, title, description, enabled) VALUES (?, ?, ?, ?)",
                [(c.name, c.title, c.description, int(c.enabled)) for c in collections],
            )
            db.executemany(
                "INSERT INTO channels (channel_id, collection) VALUES (?, ?)",
                sorted(channels.items()),
            )

    def list_collections(self) -> list[CollectionRecord]:
        rows = self._db().execute("SELECT name, title, description, enabled FROM collections ORDER BY name")
        return [
            CollectionRecord(name=r["name"], title=r["title"], description=r["description"], enabled=bool(r["enabled"]))
            for r in rows
        ]

    def channel_collection(self, channel_id: str) -> str | None:
        row = self._db().execute("SELECT collection FROM channels WHERE channel_id = ?", (channel_id,)).fetchone()
        return None if row is None else str(row["collection"])

    # --- threads and messages -----------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = self._db().execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        return None if row is None else _thread(row)

    def ensure_thread(self, new: NewThread, now: datetime) -> ThreadRecord:
        stamp = _iso(now)
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
                    _iso(now),
                    thread_id,
                ),
            )
            row = db.execute("SELECT * FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        return None if row is None else _thread(row)

    def set_thread_controller(self, thread_id: str, message_id: str, now: datetime) -> str:
        """Set `thread_controller_id` if unset; returns the controller id in effect. KeyError: unknown thread."""
        with self._write() as db:
            db.execute(
                "UPDATE threads SET thread_controller_id = ?, updated_at = ? "
                "WHERE thread_id = ? AND thread_controller_id IS NULL",
                (message_id, _iso(now), thread_id),
            )
            row = db.execute("SELECT thread_controller_id FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None:
            raise KeyError(thread_id)
        return str(row["thread_controller_id"])

    def add_message(self, message: MessageRecord) -> bool:
        cursor = self._db().execute(
            "INSERT OR IGNORE INTO messages (message_id, thread_id, author_id, content, from_bot, created_at, "
            "first_message, asked_bot, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.message_id,
                message.thread_id,
                message.author_id,
                message.content,
                int(message.from_bot),
                _iso(message.created_at),
                int(message.first_message),
                int(message.asked_bot),
                _sources_json(message.sources),
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
        if vote not in ("solved", "failed"):
            raise ValueError(f"unknown vote {vote!r}")
        stamp = _iso(now)
        with self._write() as db:
            thread = db.execute(
                "SELECT solved, solved_votes, failed_votes FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            if thread is None:
                raise KeyError(thread_id)
            counts = {"solved": int(thread["solved_votes"]), "failed": int(thread["failed_votes"])}
            old = db.execute(
                "SELECT vote FROM votes WHERE thread_id = ? AND user_id = ?", (thread_id, user_id)
            ).fetchone()
            old_vote: str | None = None if old is None else str(old["vote"])
            changed = old_vote != vote
            if changed:
                if old_vote in counts:
                    counts[old_vote] = max(0, counts[old_vote] - 1)
                counts[vote] += 1
                db.execute(
                    "INSERT INTO votes (thread_id, user_id, vote, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (thread_id, user_id) DO UPDATE SET vote = excluded.vote, "
                    "updated_at = excluded.updated_at",
                    (thread_id, user_id, vote, stamp),
                )
            solved = bool(thread["solved"]) or (is_author and vote == "solved")
            if changed or solved != bool(thread["solved"]):
                db.execute(
                    "UPDATE threads SET solved_votes = ?, failed_votes = ?, solved = ?, updated_at = ? "
                    "WHERE thread_id = ?",
                    (counts["solved"], counts["failed"], int(solved), stamp, thread_id),
                )
        return VoteResult(
            solved_votes=counts["solved"], failed_votes=counts["failed"], changed=changed, thread_solved=solved
        )

    # --- interactions ---------------------------------------------------------------------------------

    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        stamp = _iso(now)
        with self._write() as db:
            db.execute("DELETE FROM interactions WHERE expires_at < ?", (stamp,))  # what the TTL policy does
            cursor = db.execute(
                "INSERT OR IGNORE INTO interactions (interaction_id, state, attempts, created_at, expires_at, "
                "lease_until, thread_id) VALUES (?, ?, 0, ?, ?, NULL, ?)",
                (interaction_id, InteractionState.QUEUED.value, stamp, _iso(now + ttl), thread_id),
            )
            return cursor.rowcount == 1

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        with self._write() as db:
            row = db.execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
            if row is None:
                return Claim(ClaimResult.MISSING)
            record = _interaction(row)
            if record.state in (InteractionState.DONE, InteractionState.FAILED):
                return Claim(ClaimResult.FINISHED, record)
            if _lease_live(record, now):
                return Claim(ClaimResult.BUSY, record)
            claimed = replace(
                record, state=InteractionState.ANSWERING, attempts=record.attempts + 1, lease_until=_utc(now + lease)
            )
            db.execute(
                "UPDATE interactions SET state = ?, attempts = ?, lease_until = ? WHERE interaction_id = ?",
                (claimed.state.value, claimed.attempts, _iso(now + lease), interaction_id),
            )
        return Claim(ClaimResult.CLAIMED, claimed)

    def finish_interaction(self, interaction_id: str, state: InteractionState, *, now: datetime) -> None:
        """Set DONE or FAILED (or QUEUED: hand the work back for a later attempt), dropping the lease.

        Only a QUEUED or ANSWERING interaction changes: finishing twice, or an unknown id, is a no-op."""
        if state is InteractionState.ANSWERING:
            raise ValueError("finish_interaction takes DONE, FAILED or QUEUED; claim_interaction sets ANSWERING")
        with self._write() as db:
            db.execute(
                "UPDATE interactions SET state = ?, lease_until = NULL WHERE interaction_id = ? AND state IN (?, ?)",
                (state.value, interaction_id, InteractionState.QUEUED.value, InteractionState.ANSWERING.value),
            )

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None:
        row = self._db().execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
        return None if row is None else _interaction(row)

    # --- abuse and cost limits ------------------------------------------------------------------------

    def take_quota(self, key: str, *, limit: int, window: timedelta, now: datetime) -> QuotaResult:
        """Count one use of `key` in the fixed window holding `now` (windows are aligned to the Unix epoch,
        e.g. whole hours); refused, and not counted, once `limit` uses are in the window."""
        if window <= timedelta(0):
            raise ValueError("the quota window must be positive")
        bucket = (_utc(now) - EPOCH) // window
        reset_at = EPOCH + (bucket + 1) * window
        window_us = window // timedelta(microseconds=1)
        with self._write() as db:
            # Past windows can never count again: drop them (the TTL policy's job in Firestore).
            db.execute("DELETE FROM quotas WHERE key = ? AND reset_at <= ?", (key, _iso(now)))
            row = db.execute(
                "SELECT used FROM quotas WHERE key = ? AND window_us = ? AND bucket = ?", (key, window_us, bucket)
            ).fetchone()
            used = 0 if row is None else int(row["used"])
            if used >= limit:
                return QuotaResult(allowed=False, used=used, limit=limit, reset_at=reset_at)
            db.execute(
                "INSERT INTO quotas (key, window_us, bucket, used, reset_at) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (key, window_us, bucket) DO UPDATE SET used = used + 1",
                (key, window_us, bucket, _iso(reset_at)),
            )
        return QuotaResult(allowed=True, used=used + 1, limit=limit, reset_at=reset_at)
