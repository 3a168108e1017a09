"""Open the configured state store: "sqlite" (a file under the data directory) or "firestore" (the cloud).

google-cloud-firestore is imported only when asked for: the interactions function imports `docsbot.store`
and must cold-start fast.
"""

from __future__ import annotations

from pathlib import Path

from docsbot.store.ports import StateStore

SQLITE_FILE = "state.sqlite3"
KINDS = ("sqlite", "firestore")


def open_store(kind: str, *, data_dir: Path, project: str | None) -> StateStore:
    """The store of `kind`: "sqlite" → DATA_DIR/state.sqlite3, "firestore" → `Client(project=project)`."""
    if kind == "sqlite":
        from docsbot.store.sqlite import SqliteStore

        data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteStore(data_dir / SQLITE_FILE)
    if kind == "firestore":
        from google.cloud import firestore

        from docsbot.store.firestore import FirestoreStore

        return FirestoreStore(firestore.Client(project=project), owns_client=True)
    raise ValueError(f"unknown state store {kind!r}: expected one of {', '.join(KINDS)}")
