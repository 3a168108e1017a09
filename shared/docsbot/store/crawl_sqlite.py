"""Where the scrape job and the ingest endpoint keep their durable records: page states, sources, runs, leases.

`FreshnessStore` is the contract; `SqliteFreshnessStore` is the embedded implementation (one file under
DOCSBOT_DATA_DIR, safe across threads and processes), `docsbot.store.crawl_firestore` the cloud one.
Both pass the same contract tests (tests/refresh/test_job.py). Lease changes are atomic: a `BEGIN IMMEDIATE`
transaction here, a Firestore transaction there. Callers pass `now`, so tests control the clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from docsbot.store.crawl_model import Lease, PageRecord, RunRecord, SourceRecord

SQLITE_FILE = "freshness.sqlite3"


class FreshnessStore(Protocol):
    # --- page states of a crawled source ----------------------------------------------------------
    def load_pages(self, collection: str, source: str) -> dict[str, PageRecord]:
        """Crawled URL → record, for every page the source's last indexed crawls remembered."""
        ...

    def save_pages(self, collection: str, source: str, pages: Iterable[PageRecord], *, replace: bool) -> None:
        """Store `pages` (upsert by URL); with `replace`, forget every other page of the source."""
        ...

    # --- sources ------------------------------------------------------------------------------------
    def get_source(self, collection: str, source: str) -> SourceRecord | None: ...

    def put_source(self, record: SourceRecord) -> None: ...

    def list_sources(self) -> list[SourceRecord]: ...

    # --- runs ---------------------------------------------------------------------------------------
    def put_run(self, run: RunRecord) -> None:
        """Create or replace the run's record."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        ...

    # --- leases -------------------------------------------------------------------------------------
    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        """Take `key` for `holder` until now + ttl, unless someone else holds an unexpired lease on it.

        Returns the lease in force afterwards: `holder` got it when `lease.holder == holder`. A holder
        acquiring its own lease again extends it."""
        ...

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        """Extend `holder`'s lease to now + ttl; False when it is no longer `holder`'s (expired and taken)."""
        ...

    def release_lease(self, key: str, holder: str) -> None:
        """Give the lease up, if `holder` still has it."""
        ...

    def close(self) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    collection TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    etag TEXT, last_modified TEXT, content_hash TEXT, page_url TEXT, checked_at TEXT NOT NULL,
    PRIMARY KEY (collection, source, url)
);
CREATE TABLE IF NOT EXISTS sources (
    collection TEXT NOT NULL, source TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
"""


class SqliteFreshnessStore:
    """The embedded store: one SQLite file. A connection per call keeps it safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            # WAL lets `docsbot status` read while a job writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock now: read-then-write is atomic
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- pages ----------------------------------------------------------------------------------------

    def load_pages(self, collection: str, source: str) -> dict[str, PageRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT url, etag, last_modified, content_hash, page_url, checked_at FROM pages "
                "WHERE collection = ? AND source = ?",
                (collection, source),
            ).fetchall()
        records: dict[str, PageRecord] = {}
        for url, etag, last_modified, content_hash, page_url, checked_at in rows:
            checked = _datetime(checked_at)
            assert checked is not None  # the column is NOT NULL
            records[url] = PageRecord(url, checked, etag, last_modified, content_hash, page_url)
        return records

    def save_pages(self, collection: str, source: str, pages: Iterable[PageRecord], *, replace: bool) -> None:
        rows = [
            (collection, source, p.url, p.etag, p.last_modified, p.content_hash, p.page_url, _iso(p.checked_at))
            for p in pages
        ]
        with self._transaction() as db:
            if replace:
                db.execute("DELETE FROM pages WHERE collection = ? AND source = ?", (collection, source))
            db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # --- sources --------------------------------------------------------------------------------------

    def get_source(self, collection: str, source: str) -> SourceRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT data FROM sources WHERE collection = ? AND source = ?", (collection, source)
            ).fetchone()
        return SourceRecord.model_validate_json(row[0]) if row else None

    def put_source(self, record: SourceRecord) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?)",
                (record.collection, record.source, record.model_dump_json()),
            )

    def list_sources(self) -> list[SourceRecord]:
        with self._connect() as db:
            rows = db.execute("SELECT data FROM sources ORDER BY collection, source").fetchall()
        return [SourceRecord.model_validate_json(row[0]) for row in rows]

    # --- runs -----------------------------------------------------------------------------------------

    def put_run(self, run: RunRecord) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (run.run_id, _iso(run.started), run.model_dump_json())
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute("SELECT data FROM runs ORDER BY started DESC, run_id DESC LIMIT ?", (limit,)).fetchall()
        return [RunRecord.model_validate_json(row[0]) for row in rows]

    # --- leases ---------------------------------------------------------------------------------------

    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        expires = now + ttl
        with self._transaction() as db:
            row = db.execute("SELECT holder, expires_at FROM leases WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now.timestamp():
                return Lease(key, row[0], datetime.fromtimestamp(row[1], UTC))
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (key, holder, expires.timestamp()))
        return Lease(key, holder, expires)

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE leases SET expires_at = ? WHERE key = ? AND holder = ?",
                ((now + ttl).timestamp(), key, holder),
            ).rowcount
        return updated == 1

    def release_lease(self, key: str, holder: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM leases WHERE key = ? AND holder = ?", (key, holder))

    def close(self) -> None:
        pass  # nothing held between calls


def open_store(kind: str, *, data_dir: Path, project: str | None = None) -> FreshnessStore:
    """The configured store: "firestore" (the cloud) or "sqlite" (DATA_DIR/freshness.sqlite3)."""
    if kind == "firestore":
        from google.cloud import firestore

        from docsbot.store.crawl_firestore import FirestoreFreshnessStore

        return FirestoreFreshnessStore(firestore.Client(project=project), owns_client=True)
    return SqliteFreshnessStore(data_dir / SQLITE_FILE)
