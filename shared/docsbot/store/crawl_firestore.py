"""The freshness store on Firestore (the cloud implementation of `FreshnessStore`).

Layout:

    sources/{collection}__{source}              SourceRecord fields
    sources/{collection}__{source}/pages/{id}   one crawled URL: url, etag, last_modified, content_hash,
                                                page_url, checked_at (id: a hash of the URL, which may hold "/")
    runs/{run_id}                               RunRecord fields (times as timestamps)
    leases/{key}                                holder, expires_at; taken and renewed in transactions

`prefix` is prepended to the top-level collection names (tests, or two deployments in one project).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from google.cloud import firestore

from docsbot.store.crawl_model import Lease, PageRecord, RunRecord, SourceRecord

WRITE_BATCH = 400  # Firestore allows 500 writes per batch
LEASE_TXN_ATTEMPTS = 10  # contended lease transactions are retried by the client this many times


def _doc_id(text: str) -> str:
    # Document ids cannot contain "/": percent-encode everything outside a safe set.
    return quote(text, safe="")


def source_doc_id(collection: str, source: str) -> str:
    return f"{collection}__{_doc_id(source)}"


def page_doc_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]


def _as_utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"expected a timestamp, got {value!r}")
    return value.astimezone(UTC)


class FirestoreFreshnessStore:
    """`FreshnessStore` on a `google.cloud.firestore.Client`."""

    def __init__(self, client: firestore.Client, prefix: str = "", *, owns_client: bool = False) -> None:
        self.client = client
        self._owns_client = owns_client  # close the client with the store only when the store made it
        self._sources = client.collection(f"{prefix}sources")
        self._runs = client.collection(f"{prefix}runs")
        self._leases = client.collection(f"{prefix}leases")

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
                checked_at=_as_utc(data.get("checked_at")),
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
            doc_id = page_doc_id(page.url)
            kept.add(doc_id)
            writes.append(
                (
                    doc_id,
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
        for start in range(0, len(writes), WRITE_BATCH):
            batch = self.client.batch()
            for doc_id, data in writes[start : start + WRITE_BATCH]:
                if data is None:
                    batch.delete(pages_ref.document(doc_id))
                else:
                    batch.set(pages_ref.document(doc_id), data)
            batch.commit()

    # --- sources --------------------------------------------------------------------------------------

    def get_source(self, collection: str, source: str) -> SourceRecord | None:
        snapshot = self._source_ref(collection, source).get()
        return SourceRecord.model_validate(snapshot.to_dict()) if snapshot.exists else None

    def put_source(self, record: SourceRecord) -> None:
        self._source_ref(record.collection, record.source).set(record.model_dump())

    def list_sources(self) -> list[SourceRecord]:
        records = [SourceRecord.model_validate(s.to_dict()) for s in self._sources.stream()]
        return sorted(records, key=lambda r: (r.collection, r.source))

    # --- runs -----------------------------------------------------------------------------------------

    def put_run(self, run: RunRecord) -> None:
        self._runs.document(_doc_id(run.run_id)).set(run.model_dump())

    def get_run(self, run_id: str) -> RunRecord | None:
        snapshot = self._runs.document(_doc_id(run_id)).get()
        return RunRecord.model_validate(snapshot.to_dict()) if snapshot.exists else None

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        query = self._runs.order_by("started", direction=firestore.Query.DESCENDING).limit(limit)
        return [RunRecord.model_validate(s.to_dict()) for s in query.stream()]

    # --- leases ---------------------------------------------------------------------------------------

    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        ref = self._leases.document(_doc_id(key))
        expires = now + ttl

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> Lease:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if data is not None and data.get("holder") != holder and _as_utc(data.get("expires_at")) > now:
                return Lease(key, str(data.get("holder")), _as_utc(data.get("expires_at")))
            transaction.set(ref, {"key": key, "holder": holder, "expires_at": expires})
            return Lease(key, holder, expires)

        result: Lease = take(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))
        return result

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        ref = self._leases.document(_doc_id(key))

        @firestore.transactional
        def renew(transaction: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if data is None or data.get("holder") != holder:
                return False
            transaction.update(ref, {"expires_at": now + ttl})
            return True

        renewed: bool = renew(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))
        return renewed

    def release_lease(self, key: str, holder: str) -> None:
        ref = self._leases.document(_doc_id(key))

        @firestore.transactional
        def release(transaction: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if data is not None and data.get("holder") == holder:
                transaction.delete(ref)

        release(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))

    def close(self) -> None:
        if self._owns_client:
            self.client.close()  # type: ignore[no-untyped-call]
