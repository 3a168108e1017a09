"""The SQLite adapter's plumbing: one connection per thread, `BEGIN IMMEDIATE` transactions, time codecs.

Every thread gets its own connection (WAL mode, so readers never wait for the writer); every read-modify-write
runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock up front, so two writers (threads or
processes) cannot both read the old value. Times are stored as fixed-width ISO 8601 strings in UTC, which sort
chronologically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from docsbot.store.rules import utc

BUSY_TIMEOUT_S = 30.0  # how long a connection waits for another writer before "database is locked"


def iso(value: datetime) -> str:
    """A fixed-width UTC timestamp (microseconds always present, so the strings sort by time)."""
    return utc(value).isoformat(timespec="microseconds")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def parse_optional(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SqliteDb:
    """A SQLite file shared by the threads of this process (and other processes on this machine)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise RuntimeError("the store is closed")
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
