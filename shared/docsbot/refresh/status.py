"""What `docsbot status` reports per collection: the last run and its outcome, index size, staleness."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from docsbot.index.errors import IndexStoreError
from docsbot.index.ports import VectorIndex
from docsbot.store.model import SourceOutcome, worst_outcome
from docsbot.store.ports import FreshnessStore


@dataclass
class CollectionStatus:
    collection: str
    last_run_id: str | None = None
    last_finished: datetime | None = None
    last_outcome: str | None = None  # the worst last outcome of the collection's crawled sources
    reasons: list[str] = field(default_factory=list)  # "source: reason" lines of that outcome
    sources: list[str] = field(default_factory=list)  # crawled sources the job has handled
    pages: int | None = None  # distinct page URLs in the index (None: unknown)
    chunks: int | None = None
    oldest_checked_at: datetime | None = None  # the least recently confirmed crawled page
    index_problem: str | None = None

    def oldest_page_age_seconds(self, now: datetime) -> float | None:
        return (now - self.oldest_checked_at).total_seconds() if self.oldest_checked_at else None

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "last_run_id": self.last_run_id,
            "last_finished": self.last_finished.isoformat() if self.last_finished else None,
            "last_outcome": self.last_outcome,
            "reasons": self.reasons,
            "sources": self.sources,
            "pages": self.pages,
            "chunks": self.chunks,
            "oldest_page_checked_at": self.oldest_checked_at.isoformat() if self.oldest_checked_at else None,
            "oldest_page_age_seconds": self.oldest_page_age_seconds(now),
            "index_problem": self.index_problem,
        }


def collection_status(
    store: FreshnessStore, collections: Iterable[str], open_index: Callable[[str], VectorIndex]
) -> list[CollectionStatus]:
    """One status per collection named (plus any the store knows of), sorted by name."""
    records = store.list_sources()
    names = sorted(set(collections) | {r.collection for r in records})
    statuses: list[CollectionStatus] = []
    for name in names:
        status = CollectionStatus(collection=name)
        mine = [r for r in records if r.collection == name]
        finished = [r for r in mine if r.last_finished is not None]
        if finished:
            latest = max(finished, key=lambda r: r.last_finished or datetime.min)
            status.last_run_id, status.last_finished = latest.last_run_id, latest.last_finished
            outcomes: list[SourceOutcome] = [r.last_outcome for r in mine if r.last_outcome is not None]
            status.last_outcome = worst_outcome(outcomes)
            status.reasons = [f"{r.source}: {reason}" for r in mine for reason in r.last_reasons]
        status.sources = [r.source for r in mine]
        checked = [p.checked_at for r in mine for p in store.load_pages(name, r.source).values()]
        status.oldest_checked_at = min(checked, default=None)
        _index_counts(status, open_index)
        statuses.append(status)
    return statuses


def _index_counts(status: CollectionStatus, open_index: Callable[[str], VectorIndex]) -> None:
    try:
        index = open_index(status.collection)
    except IndexStoreError as error:
        status.index_problem = str(error)
        return
    try:
        if index.info() is None:
            status.pages, status.chunks, status.index_problem = 0, 0, "not indexed yet"
            return
        status.chunks = index.count()
        status.pages = len({point.url for point in index.stored_points()})
    except IndexStoreError as error:
        status.index_problem = str(error)
    finally:
        index.close()
