"""The whole store in one SQLite file, `DATA_DIR/docsbot.sqlite3` (`docsbot serve`, the CLI, local runs).

`SqliteStore` implements every port of `docsbot.store.ports`; its roles live in mixins, one file each
(`sqlite_conversations`: threads, messages, votes; `sqlite_learning`: solutions, reasons; `sqlite_ledger`:
interactions, quotas, leases; `sqlite_crawl`: page states, sources, runs) over `sqlite_db` (a connection per thread,
WAL, `BEGIN IMMEDIATE` for every read-modify-write), so it is safe to share between threads and between processes of
one machine.

Old files: before there was one store, the bot kept `state.sqlite3` and the refresh machinery `freshness.sqlite3` in
the same directory. `open_sqlite` copies their rows into the new file once (a marker row remembers each import, so
later opens and concurrent openers do nothing), logs one line per file, and leaves the old files in place, no longer
read; an unreadable one is logged as a warning and skipped. Leases are not copied: they last minutes, and nothing
holds one across an upgrade.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from docsbot.store import sqlite_conversations, sqlite_crawl, sqlite_learning, sqlite_ledger
from docsbot.store.sqlite_conversations import SqliteConversations
from docsbot.store.sqlite_crawl import SqliteCrawl
from docsbot.store.sqlite_learning import SqliteLearning
from docsbot.store.sqlite_ledger import SqliteLedger

logger = logging.getLogger(__name__)

SQLITE_FILE = "docsbot.sqlite3"
LEGACY_FILES = ("state.sqlite3", "freshness.sqlite3")  # the bot's and the refresh machinery's, before one store
NOT_IMPORTED = frozenset({"leases"})

SCHEMA = (
    sqlite_conversations.SCHEMA
    + sqlite_learning.SCHEMA
    + sqlite_ledger.SCHEMA
    + sqlite_crawl.SCHEMA
    + "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
)


class SqliteStore(SqliteConversations, SqliteLearning, SqliteLedger, SqliteCrawl):
    """`docsbot.store.ports.Store` in a SQLite file; safe to share between threads (and processes)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
        db.executescript(SCHEMA)
        sqlite_ledger.migrate(db)
        sqlite_learning.migrate(db)

    def import_legacy(self, old: Path) -> int:
        """Copy the rows of an old store file (same tables and columns) into this one, once; rows copied."""
        marker = f"imported {old.name}"
        db = self._db()
        if db.execute("SELECT 1 FROM meta WHERE key = ?", (marker,)).fetchone() is not None:
            return 0
        tables = [row["name"] for row in db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
        db.execute("ATTACH DATABASE ? AS legacy", (str(old),))  # not allowed inside a transaction
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM meta WHERE key = ?", (marker,)).fetchone() is not None:
                    return 0  # another process imported it while we attached
                old_tables = {row["name"] for row in db.execute("SELECT name FROM legacy.sqlite_master")}
                copied = 0
                for table in tables:
                    if table in NOT_IMPORTED or table not in old_tables:
                        continue
                    old_columns = {row["name"] for row in db.execute(f"PRAGMA legacy.table_info({table})")}
                    new_columns = [row["name"] for row in db.execute(f"PRAGMA main.table_info({table})")]
                    columns = ", ".join(c for c in new_columns if c in old_columns)
                    # Table and column names come from the two schemas, never from input.
                    sql = f"INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM legacy.{table}"  # noqa: S608
                    copied += db.execute(sql).rowcount
                db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (marker, str(copied)))
        finally:
            db.execute("DETACH DATABASE legacy")
        logger.info(
            "copied %d rows from the old %s into %s; the old file is no longer read and may be deleted",
            copied,
            old,
            self.path.name,
        )
        return copied


def open_sqlite(data_dir: Path) -> SqliteStore:
    """DATA_DIR/docsbot.sqlite3, with the rows of the old per-family files copied in on first open."""
    store = SqliteStore(data_dir / SQLITE_FILE)
    for name in LEGACY_FILES:
        if (data_dir / name).is_file():
            try:
                store.import_legacy(data_dir / name)
            except sqlite3.DatabaseError as error:
                # An unreadable old file must not keep the bot or the job from starting: its rows start afresh.
                logger.warning("could not copy the rows of the old %s (%s): they start afresh", data_dir / name, error)
    return store
