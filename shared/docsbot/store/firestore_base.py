"""The Firestore adapter's plumbing: the one client, the collections, codecs, the optimistic read-modify-write.

How the atomic operations are done, and why not all with transactions: Firestore server-side transactions
lock every document they read until they commit, and two transactions that read the same document and then
both write it wait on each other until one times out (Google's emulator: about 2 s per conflict, and 5
contenders can take 8 s or fail outright). So single-document read-modify-writes (claim/finish an interaction,
set the thread controller, take a quota) are optimistic: read, decide (`docsbot.store.rules`), then write with a
`last_update_time` precondition (or `create()` when absent) and re-read on conflict. The precondition makes
each as atomic as a transaction, without holding locks. Votes and leases are transactions (see their modules).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from google.api_core import exceptions as gexc
from google.cloud import firestore

T = TypeVar("T")

WRITE_BATCH = 400  # Firestore allows 500 writes per batch
OPTIMISTIC_ATTEMPTS = 100  # each conflict means another writer succeeded, so this bounds only extreme contention

Write = dict[str, Any]
Snapshot = firestore.DocumentSnapshot[firestore.DocumentReference]


class ContentionError(RuntimeError):
    """A read-modify-write kept losing to other writers."""


def doc_id(text: str) -> str:
    # Document ids cannot contain "/" and cannot be "." or "..": percent-encode outside a safe set.
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def as_utc(value: Any) -> datetime:
    """A stored timestamp as a plain UTC `datetime` (the client returns its own datetime subclass)."""
    if not isinstance(value, datetime):
        raise ValueError(f"expected a timestamp, got {value!r}")
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def as_utc_optional(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)


def optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def data(snapshot: Snapshot) -> dict[str, Any]:
    return snapshot.to_dict() or {}


class FirestoreDb:
    """The client and the top-level collections (`prefix` first: tests, or two deployments in one project)."""

    def __init__(self, client: firestore.Client, prefix: str = "", *, owns_client: bool = False) -> None:
        self.client = client
        self._owns_client = owns_client  # close the client with the store only when the store made it
        self._threads = client.collection(f"{prefix}threads")
        self._interactions = client.collection(f"{prefix}interactions")
        self._quotas = client.collection(f"{prefix}quotas")
        self._sources = client.collection(f"{prefix}sources")
        self._runs = client.collection(f"{prefix}runs")
        self._leases = client.collection(f"{prefix}leases")
        self._conversations = client.collection(f"{prefix}conversations")

    def close(self) -> None:
        if self._owns_client:
            self.client.close()  # type: ignore[no-untyped-call]

    def _batched(self, writes: list[tuple[firestore.DocumentReference, Write | None]]) -> None:
        """Set (or, for None, delete) documents in batches of 400 writes: atomic up to that size."""
        for start in range(0, len(writes), WRITE_BATCH):
            batch = self.client.batch()
            for ref, fields in writes[start : start + WRITE_BATCH]:
                if fields is None:
                    batch.delete(ref)
                else:
                    batch.set(ref, fields)
            batch.commit()

    def _read_modify_write(
        self, ref: firestore.DocumentReference, decide: Callable[[Snapshot], tuple[Write | None, T]]
    ) -> T:
        """Read `ref`, let `decide` return (fields to write or None, result), and write them only if the
        document is still as read: `update` with a `last_update_time` precondition, or `create` when it was
        absent. On a conflict someone else wrote first: read again and decide again."""
        for attempt in range(OPTIMISTIC_ATTEMPTS):
            snapshot = ref.get()
            write, result = decide(snapshot)
            if write is None:
                return result
            try:
                if snapshot.exists:
                    ref.update(write, option=self.client.write_option(last_update_time=snapshot.update_time))
                else:
                    ref.create(write)
            except (gexc.FailedPrecondition, gexc.AlreadyExists):
                # A little jitter so that losers of the same race do not all retry in lockstep.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
                continue
            return result
        raise ContentionError(f"{ref.path}: still conflicting after {OPTIMISTIC_ATTEMPTS} attempts")
