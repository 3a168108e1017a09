"""The SQLite adapter's ledgers with expiry: interactions, quotas and leases.

A mixin of `docsbot.store.sqlite.SqliteStore`. Claims, quotas and leases are decided by `docsbot.store.rules`
inside one `BEGIN IMMEDIATE` transaction (read, decide, write). Expired interactions and past quota windows are
pruned as new ones are written (Firestore's TTL policy does that job in the cloud).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from docsbot.store import rules
from docsbot.store.model import (
    Claim,
    ClaimResult,
    DeliveryProgress,
    InteractionRecord,
    InteractionState,
    Lease,
    QuotaResult,
)
from docsbot.store.sqlite_db import SqliteDb, iso, parse, parse_optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    interaction_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    lease_until TEXT,
    thread_id TEXT,
    answer TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    message_id TEXT
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
CREATE TABLE IF NOT EXISTS quota_uses (
    key TEXT NOT NULL,
    window_us INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    use_id TEXT NOT NULL,
    PRIMARY KEY (key, window_us, bucket, use_id)
);
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at TEXT NOT NULL);
"""


# Columns added after the first release: files created before them get them on open.
_ADDED_COLUMNS = {
    "answer": "ALTER TABLE interactions ADD COLUMN answer TEXT",
    "delivered": "ALTER TABLE interactions ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0",
    "message_id": "ALTER TABLE interactions ADD COLUMN message_id TEXT",
}


def migrate(db: sqlite3.Connection) -> None:
    """Add the delivery ledger's columns to an interactions table created before them."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(interactions)")}
    for column, statement in _ADDED_COLUMNS.items():
        if column not in present:
            db.execute(statement)


def _interaction(row: sqlite3.Row) -> InteractionRecord:
    return InteractionRecord(
        interaction_id=row["interaction_id"],
        state=InteractionState(row["state"]),
        attempts=row["attempts"],
        created_at=parse(row["created_at"]),
        expires_at=parse(row["expires_at"]),
        lease_until=parse_optional(row["lease_until"]),
        thread_id=row["thread_id"],
        answer=row["answer"],
        delivered=int(row["delivered"] or 0),
        message_id=row["message_id"],
    )


def _lease(row: sqlite3.Row | None) -> Lease | None:
    return None if row is None else Lease(row["key"], row["holder"], parse(row["expires_at"]))


class SqliteLedger(SqliteDb):
    # --- interactions ---------------------------------------------------------------------------------

    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        record = rules.new_interaction(interaction_id, now=now, ttl=ttl, thread_id=thread_id)
        with self._write() as db:
            db.execute("DELETE FROM interactions WHERE expires_at < ?", (iso(now),))  # what the TTL policy does
            cursor = db.execute(
                "INSERT OR IGNORE INTO interactions (interaction_id, state, attempts, created_at, expires_at, "
                "lease_until, thread_id) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                (
                    record.interaction_id,
                    record.state.value,
                    record.attempts,
                    iso(record.created_at),
                    iso(record.expires_at),
                    record.thread_id,
                ),
            )
            return cursor.rowcount == 1

    def _put_interaction(self, db: sqlite3.Connection, record: InteractionRecord) -> None:
        lease_until = None if record.lease_until is None else iso(record.lease_until)
        db.execute(
            "UPDATE interactions SET state = ?, attempts = ?, lease_until = ?, answer = ?, delivered = ?, "
            "message_id = ? WHERE interaction_id = ?",
            (
                record.state.value,
                record.attempts,
                lease_until,
                record.answer,
                record.delivered,
                record.message_id,
                record.interaction_id,
            ),
        )

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        with self._write() as db:
            row = db.execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
            claim = rules.decide_claim(None if row is None else _interaction(row), now=now, lease=lease)
            if claim.result is ClaimResult.CLAIMED and claim.record is not None:
                self._put_interaction(db, claim.record)
        return claim

    def renew_interaction(
        self,
        interaction_id: str,
        *,
        attempt: int,
        now: datetime,
        lease: timedelta,
        progress: DeliveryProgress | None = None,
    ) -> bool:
        with self._write() as db:
            row = db.execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
            existing = None if row is None else _interaction(row)
            renewed = rules.decide_renew(existing, attempt=attempt, now=now, lease=lease, progress=progress)
            if renewed is not None:
                self._put_interaction(db, renewed)
        return renewed is not None

    def finish_interaction(
        self, interaction_id: str, state: InteractionState, *, now: datetime, attempt: int | None = None
    ) -> bool:
        """Set DONE or FAILED (or QUEUED: hand the work back for a later attempt), dropping the lease.

        Only a QUEUED or ANSWERING interaction changes: finishing twice, or an unknown id, is a no-op; with
        `attempt`, so is a finish by an attempt that no longer holds the claim."""
        rules.check_finish_state(state)
        with self._write() as db:
            row = db.execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
            finished = rules.decide_finish(None if row is None else _interaction(row), state, attempt=attempt)
            if finished is not None:
                self._put_interaction(db, finished)
        return finished is not None

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None:
        row = self._db().execute("SELECT * FROM interactions WHERE interaction_id = ?", (interaction_id,)).fetchone()
        return None if row is None else _interaction(row)

    # --- abuse and cost limits ------------------------------------------------------------------------

    def take_quota(
        self, key: str, *, limit: int, window: timedelta, now: datetime, use_id: str | None = None
    ) -> QuotaResult:
        """Count one use of `key` in the fixed window holding `now` (windows are aligned to the Unix epoch,
        e.g. whole hours); refused, and not counted, once `limit` uses are in the window. A `use_id` counted
        in this window already is allowed again without counting (duplicate deliveries of one interaction)."""
        slot = rules.quota_window(window, now)
        with self._write() as db:
            # Past windows can never count again: drop them (the TTL policy's job in Firestore).
            db.execute("DELETE FROM quotas WHERE key = ? AND reset_at <= ?", (key, iso(now)))
            db.execute(
                "DELETE FROM quota_uses WHERE key = ? AND window_us = ? AND bucket < ?",
                (key, slot.window_us, slot.bucket),
            )
            row = db.execute(
                "SELECT used FROM quotas WHERE key = ? AND window_us = ? AND bucket = ?",
                (key, slot.window_us, slot.bucket),
            ).fetchone()
            counted = use_id is not None and (
                db.execute(
                    "SELECT 1 FROM quota_uses WHERE key = ? AND window_us = ? AND bucket = ? AND use_id = ?",
                    (key, slot.window_us, slot.bucket, use_id),
                ).fetchone()
                is not None
            )
            used = 0 if row is None else int(row["used"])
            result = rules.decide_quota(used, limit=limit, window=slot, counted=counted)
            if result.allowed and not counted:
                if use_id is not None:
                    db.execute(
                        "INSERT INTO quota_uses (key, window_us, bucket, use_id) VALUES (?, ?, ?, ?)",
                        (key, slot.window_us, slot.bucket, use_id),
                    )
                db.execute(
                    "INSERT INTO quotas (key, window_us, bucket, used, reset_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (key, window_us, bucket) DO UPDATE SET used = excluded.used",
                    (key, slot.window_us, slot.bucket, result.used, iso(slot.reset_at)),
                )
        return result

    # --- leases ---------------------------------------------------------------------------------------

    def _current_lease(self, db: sqlite3.Connection, key: str) -> Lease | None:
        return _lease(db.execute("SELECT key, holder, expires_at FROM leases WHERE key = ?", (key,)).fetchone())

    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        with self._write() as db:
            decision = rules.decide_lease(self._current_lease(db, key), key, holder, ttl=ttl, now=now)
            if decision.write:
                db.execute(
                    "INSERT OR REPLACE INTO leases (key, holder, expires_at) VALUES (?, ?, ?)",
                    (key, holder, iso(decision.lease.expires_at)),
                )
        return decision.lease

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        with self._write() as db:
            renew = rules.may_renew(self._current_lease(db, key), holder)
            if renew:
                db.execute("UPDATE leases SET expires_at = ? WHERE key = ?", (iso(now + ttl), key))
        return renew

    def release_lease(self, key: str, holder: str) -> None:
        with self._write() as db:
            if rules.may_release(self._current_lease(db, key), holder):
                db.execute("DELETE FROM leases WHERE key = ?", (key,))
