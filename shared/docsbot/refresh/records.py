"""The refresh's durable records: page states (the checkpoint) and the source record, as the pipeline keeps them.

A page state says "this URL gave this content, with these validators": the next crawl asks conditionally and
skips what did not change. Only states of pages the index has are trusted (a state must never hide a page the
index lost), with one exception: a page that gave no chunks (a title-only or link-only page) has nothing in
the index by design. Its record is marked (`content_hash` stored as `no-chunks:<hash>`, no schema change), so
its validators are kept and the page is not downloaded in full on every run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from docsbot.store.model import PageRecord
from docsbot.store.model_runs import SourceRecord, SourceRun
from docsbot.store.ports import FreshnessStore

if TYPE_CHECKING:
    from docsbot.sources.site.crawl import PageState

NO_CHUNKS = "no-chunks:"  # the prefix of a chunkless page's stored content hash


def page_url(url: str, record: PageRecord) -> str:
    """The indexed page a record is about: its page URL, else the crawled URL."""
    return record.page_url or url


def is_chunkless(record: PageRecord) -> bool:
    """Whether the page gave no chunks when it was last read (so the index rightly has nothing of it)."""
    return (record.content_hash or "").startswith(NO_CHUNKS)


def trusted_states(stored: dict[str, PageRecord], indexed: set[str]) -> dict[str, PageState]:
    """The states the next load may rely on: pages the index has, and pages that gave no chunks."""
    return {
        url: page_state(record)
        for url, record in stored.items()
        if page_url(url, record) in indexed or is_chunkless(record)
    }


def page_state(record: PageRecord) -> PageState:
    from docsbot.sources.site.crawl import PageState

    content_hash = record.content_hash
    if content_hash is not None and content_hash.startswith(NO_CHUNKS):
        content_hash = content_hash[len(NO_CHUNKS) :]
    return PageState(
        etag=record.etag, last_modified=record.last_modified, content_hash=content_hash, page_url=record.page_url
    )


def chunkless_pages(stored: dict[str, PageRecord], empty_now: Iterable[str], read_now: Iterable[str]) -> set[str]:
    """Page URLs without chunks: those the sync found empty, and those recorded so that this load did not re-read."""
    read = set(read_now)
    before = {page_url(url, r) for url, r in stored.items() if is_chunkless(r)}
    return set(empty_now) | (before - read)


def page_records(
    states: dict[str, PageState],
    stored: dict[str, PageRecord],
    confirmed: set[str],
    now: datetime,
    chunkless: Collection[str] = (),
) -> Iterable[PageRecord]:
    """The records to save for `states`; the check time moves on only for URLs this load confirmed."""
    for url, state in states.items():
        before = stored.get(url)
        checked_at = now if url in confirmed or before is None else before.checked_at
        content_hash = state.content_hash
        if content_hash is not None and (state.page_url or url) in chunkless:
            content_hash = NO_CHUNKS + content_hash
        yield PageRecord(
            url=url,
            checked_at=checked_at,
            etag=state.etag,
            last_modified=state.last_modified,
            content_hash=content_hash,
            page_url=state.page_url,
        )


def remember(store: FreshnessStore, run_id: str, result: SourceRun, now: datetime, *, good_pages: int | None) -> None:
    """Record a refresh's outcome on its source; `good_pages` (a complete, trusted load) moves the drop baseline."""
    record = store.get_source(result.collection, result.source)
    record = record or SourceRecord(collection=result.collection, source=result.source)
    update: dict[str, Any] = {
        "kind": result.kind,
        "last_run_id": run_id,
        "last_outcome": result.outcome,
        "last_reasons": list(result.reasons),
        "last_started": result.started,
        "last_finished": now,
    }
    if good_pages is not None:
        update.update(last_good_pages=good_pages, last_good_at=now)
    store.put_source(record.model_copy(update=update))
