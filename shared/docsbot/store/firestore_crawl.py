"""The Firestore adapter's refresh records: page states and sources (`CrawlStates`), runs (`RunLog`).

A mixin of `docsbot.store.firestore.FirestoreStore`. Layout:

    sources/{collection}__{source}              SourceRecord fields
    sources/{collection}__{source}/pages/{id}   one crawled URL: url, etag, last_modified, content_hash,
                                                page_url, checked_at (id: a hash of the URL, which may hold "/")
    runs/{run_id}                               RunRecord fields (times as timestamps)

The pydantic models are imported when first read, so a bot process never imports pydantic for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.cloud import firestore

from docsbot.store.firestore_base import FirestoreDb, as_utc, doc_id
from docsbot.store.model import PageRecord

if TYPE_CHECKING:
    from docsbot.store.model_runs import RunRecord, SourceRecord


def source_doc_id(collection: str, source: str) -> str:
    return f"{collection}__{doc_id(source)}"


def page_doc_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]


class FirestoreCrawl(FirestoreDb):
    def _source_ref(self, collection: str, source: str) -> firestore.DocumentReference:
        return self._sources.document(source_doc_id(collection, source))

    # --- pages ----------------------------------------------------------------------------------------

    def load_pages(self, collection: str, source: str) -> dict[str, PageRecord]:
        records: dict[str, PageRecord] = {}
        for snapshot in self._source_ref(collection, source).collection("pages").stream():
            data = snapshot.to_dict() or {}
            url = data.get("url")
            if not isinstance(url, str):
                continue
            records[url] = PageRecord(
                url=url,
                checked_at=as_utc(data.get("checked_at")),
                etag=data.get("etag"),
                last_modified=data.get("last_modified"),
                content_hash=data.get("content_hash"),
                page_url=data.get("page_url"),
            )
        return records

    def save_pages(self, collection: str, source: str, pages: Iterable[PageRecord], *, replace: bool) -> None:
        pages_ref = self._source_ref(collection, source).collection("pages")
        writes: list[tuple[str, dict[str, Any] | None]] = []
        kept: set[str] = set()
        for page in pages:
            page_id = page_doc_id(page.url)
            kept.add(page_id)
            writes.append(
                (
                    page_id,
                    {
                        "url": page.url,
                        "etag": page.etag,
                        "last_modified": page.last_modified,
                        "content_hash": page.content_hash,
                        "page_url": page.page_url,
                        "checked_at": page.checked_at,
                    },
                )
            )
        if replace:
            writes.extend((ref.id, None) for ref in pages_ref.list_documents() if ref.id not in kept)
        self._batched([(pages_ref.document(page_id), fields) for page_id, fields in writes])

    # --- sources --------------------------------------------------------------------------------------

    def get_source(self, collection: str, source: str) -> SourceRecord | None:
        from docsbot.store.model_runs import SourceRecord

        snapshot = self._source_ref(collection, source).get()
        return SourceRecord.model_validate(snapshot.to_dict()) if snapshot.exists else None

    def put_source(self, record: SourceRecord) -> None:
        self._source_ref(record.collection, record.source).set(record.model_dump())

    def list_sources(self) -> list[SourceRecord]:
        from docsbot.store.model_runs import SourceRecord

        records = [SourceRecord.model_validate(s.to_dict()) for s in self._sources.stream()]
        return sorted(records, key=lambda r: (r.collection, r.source))

    # --- runs -----------------------------------------------------------------------------------------

    def put_run(self, run: RunRecord) -> None:
        self._runs.document(doc_id(run.run_id)).set(run.model_dump())

    def get_run(self, run_id: str) -> RunRecord | None:
        from docsbot.store.model_runs import RunRecord

        snapshot = self._runs.document(doc_id(run_id)).get()
        return RunRecord.model_validate(snapshot.to_dict()) if snapshot.exists else None

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        from docsbot.store.model_runs import RunRecord

        if limit <= 0:
            return []  # Firestore reads limit(0) as "no limit"
        query = self._runs.order_by("started", direction=firestore.Query.DESCENDING).limit(limit)
        return [RunRecord.model_validate(s.to_dict()) for s in query.stream()]
