"""Open the configured store: "sqlite" (one file under the data directory) or "firestore" (the cloud).

The one factory of the one store: the bot functions, the scrape job, the ingest endpoint and the CLI all open
their store here, from the settings `docsbot.settings.store` parsed. google-cloud-firestore is imported only
when asked for: the interactions function imports `docsbot.store` and must cold-start fast.
"""

from __future__ import annotations

from pathlib import Path

from docsbot.settings.store import KINDS, StoreSettings
from docsbot.store.ports import Store


def open_store(kind: str, *, data_dir: Path, project: str | None = None) -> Store:
    """The store of `kind`: "sqlite" → DATA_DIR/docsbot.sqlite3 (the rows of older files copied in once, see
    `docsbot.store.sqlite`), "firestore" → `Client(project=project)`, closed with the store."""
    if kind == "sqlite":
        from docsbot.store.sqlite import open_sqlite

        return open_sqlite(data_dir)
    if kind == "firestore":
        from google.cloud import firestore

        from docsbot.store.firestore import FirestoreStore

        return FirestoreStore(firestore.Client(project=project), owns_client=True)
    raise ValueError(f"unknown store {kind!r}: expected one of {', '.join(KINDS)}")


def open_configured_store(settings: StoreSettings) -> Store:
    return open_store(settings.kind, data_dir=settings.data_dir, project=settings.project)
