"""The SQLite adapter's refresh records: page states and sources (`CrawlStates`), runs (`RunLog`).

A mixin of `docsbot.store.sqlite.SqliteStore`. Sources and runs are stored as their JSON; the pydantic models
are imported when first read, so a bot process that never reads them never imports pydantic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from docsbot.store.model import PageRecord
from docsbot.store.sqlite_db import SqliteDb, iso, parse

if TYPE_CHECKING:
    from docsbot.store.model_runs import RunRecord, SourceRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    page_url TEXT,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (collection, source, url)
);
CREATE TABLE IF NOT EXISTS sources (
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
"""


class SqliteCrawl(SqliteDb):
    # --- page states ----------------------------------------------------------------------------------

    def load_pages(self, collection: str, source: str) -> dict[str, PageRecord]:
        rows = self._db().execute(
            "SELECT url, etag, last_modified, content_hash, page_url, checked_at FROM pages "
            "WHERE collection = ? AND source = ?",
            (collection, source),
        )
        return {
            row["url"]: PageRecord(
                url=row["url"],
                checked_at=parse(row["checked_at"]),
                etag=row["etag"],
                last_modified=row["last_modified"],
                content_hash=row["content_hash"],
                page_url=row["page_url"],
            )
            for row in rows
        }

    def save_pages(self, collection: str, source: str, pages: Iterable[PageRecord], *, replace: bool) -> None:
        rows = [
            (collection, source, p.url, p.etag, p.last_modified, p.content_hash, p.page_url, iso(p.checked_at))
            for p in pages
        ]
        with self._write() as db:
            if replace:
                db.execute("DELETE FROM pages WHERE collection = ? AND source = ?", (collection, source))
            db.executemany(
                "INSERT OR REPLACE INTO pages (collection, source, url, etag, last_modified, content_hash, page_url, "
                "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # --- sources --------------------------------------------------------------------------------------

    def get_source(self, collection: str, source: str) -> SourceRecord | None:
        from docsbot.store.model_runs import SourceRecord

        row = (
            self._db()
            .execute("SELECT data FROM sources WHERE collection = ? AND source = ?", (collection, source))
            .fetchone()
        )
        return None if row is None else SourceRecord.model_validate_json(row["data"])

    def put_source(self, record: SourceRecord) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO sources (collection, source, data) VALUES (?, ?, ?)",
            (record.collection, record.source, record.model_dump_json()),
        )

    def list_sources(self) -> list[SourceRecord]:
        from docsbot.store.model_runs import SourceRecord

        rows = self._db().execute("SELECT data FROM sources ORDER BY collection, source")
        return [SourceRecord.model_validate_json(row["data"]) for row in rows]

    # --- runs -----------------------------------------------------------------------------------------

    def put_run(self, run: RunRecord) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO runs (run_id, started, data) VALUES (?, ?, ?)",
            (run.run_id, iso(run.started), run.model_dump_json()),
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        from docsbot.store.model_runs import RunRecord

        row = self._db().execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else RunRecord.model_validate_json(row["data"])

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        from docsbot.store.model_runs import RunRecord

        rows = self._db().execute("SELECT data FROM runs ORDER BY started DESC, run_id DESC LIMIT ?", (max(0, limit),))
        return [RunRecord.model_validate_json(row["data"]) for row in rows]
