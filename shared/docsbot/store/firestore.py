"""The state store on Firestore (the cloud implementation of `StateStore`, DESIGN.md §3).

Layout (`prefix` is prepended to the top-level collection names: tests, or two deployments in one project):

    collections/{name}                      title, description, enabled
    channels/{channel_id}                   collection
    threads/{thread_id}                     ThreadRecord fields (+ extra)
    threads/{thread_id}/messages/{id}       MessageRecord fields; sources as a list of maps
    threads/{thread_id}/votes/{user_id}     vote ("solved" | "failed"), updated_at
    interactions/{interaction_id}           state, attempts, created_at, expires_at, lease_until, thread_id
    quotas/{key}__{window_us}__{bucket}     key, window_us, bucket, used, reset_at, expires_at

`expires_at` on interactions and quotas is what the TTL policies key on (one policy per collection).

How the atomic operations are done, and why not all with transactions: Firestore server-side transactions
lock every document they read until they commit, and two transactions that read the same document and then
both write it wait on each other until one times out (Google's emulator: about 2 s per conflict, and 5
contenders can take 8 s or fail outright). So:

- record_vote is a transaction, but it reads only the voter's own vote document; the thread's counts move
  with `Increment` transforms in the same commit, which needs no read lock. Votes of different users never
  wait on each other, and the update's exists-precondition rejects an unknown thread atomically.
- Single-document read-modify-writes (claim/finish an interaction, set the thread controller, take a quota)
  are optimistic: read, then write with a `last_update_time` precondition (or `create()` when absent) and
  re-read on conflict. The precondition makes each as atomic as a transaction, without holding locks.
- Create-if-absent (ensure_thread, create_interaction, add_message) is `create()`, which fails with
  AlreadyExists when the document exists.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from docsbot.store.model import (
    Claim,
    ClaimResult,
    CollectionRecord,
    InteractionRecord,
    InteractionState,
    MessageRecord,
    NewThread,
    QuotaResult,
    SourceRef,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WRITE_BATCH = 400  # Firestore allows 500 writes per batch
OPTIMISTIC_ATTEMPTS = 100  # each conflict means another writer succeeded, so this bounds only extreme contention
VOTE_TXN_ATTEMPTS = 10  # commit retries inside one vote transaction (the client retries Aborted commits)
VOTE_RETRIES = 5  # whole-transaction retries when a read inside it is aborted (one user voting twice at once)

Write = dict[str, Any]
Snapshot = firestore.DocumentSnapshot[firestore.DocumentReference]


class ContentionError(RuntimeError):
    """A read-modify-write kept losing to other writers."""


def _doc_id(text: str) -> str:
    # Document ids cannot contain "/" and cannot be "." or "..": percent-encode outside a safe set.
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _as_utc(value: Any) -> datetime:
    """A stored timestamp as a plain UTC `datetime` (the client returns its own datetime subclass)."""
    if not isinstance(value, datetime):
        raise ValueError(f"expected a timestamp, got {value!r}")
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def _as_utc_optional(value: Any) -> datetime | None:
    return None if value is None else _as_utc(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _data(snapshot: Snapshot) -> dict[str, Any]:
    return snapshot.to_dict() or {}


def _thread(snapshot: Snapshot) -> ThreadRecord:
    d = _data(snapshot)
    return ThreadRecord(
        thread_id=snapshot.id,
        collection=str(d["collection"]),
        author_id=str(d["author_id"]),
        created_at=_as_utc(d["created_at"]),
        updated_at=_as_utc(d["updated_at"]),
        guild_id=_optional_str(d.get("guild_id")),
        channel_id=_optional_str(d.get("channel_id")),
        title=str(d.get("title", "")),
        open=bool(d.get("open", True)),
        solved=bool(d.get("solved", False)),
        thread_controller_id=_optional_str(d.get("thread_controller_id")),
        solved_votes=int(d.get("solved_votes", 0)),
        failed_votes=int(d.get("failed_votes", 0)),
    )


def _message(thread_id: str, snapshot: Snapshot) -> MessageRecord:
    d = _data(snapshot)
    sources = tuple(
        SourceRef(
            title=str(s["title"]),
            heading_path=tuple(str(h) for h in s.get("heading_path", [])),
            url=str(s["url"]),
            anchor=str(s.get("anchor", "")),
        )
        for s in d.get("sources", [])
    )
    return MessageRecord(
        message_id=snapshot.id,
        thread_id=thread_id,
        author_id=str(d["author_id"]),
        content=str(d["content"]),
        from_bot=bool(d["from_bot"]),
        created_at=_as_utc(d["created_at"]),
        first_message=bool(d.get("first_message", False)),
        asked_bot=bool(d.get("asked_bot", False)),
        sources=sources,
    )


def _interaction(snapshot: Snapshot) -> InteractionRecord:
    d = _data(snapshot)
    return InteractionRecord(
        interaction_id=snapshot.id,
        state=InteractionState(d["state"]),
        attempts=int(d["attempts"]),
        created_at=_as_utc(d["created_at"]),
        expires_at=_as_utc(d["expires_at"]),
        lease_until=_as_utc_optional(d.get("lease_until")),
        thread_id=_optional_str(d.get("thread_id")),
    )


def _lease_live(record: InteractionRecord, now: datetime) -> bool:
    """Another attempt is answering and its lease has not run out."""
    return record.state is InteractionState.ANSWERING and record.lease_until is not None and record.lease_until > now


class FirestoreStore:
    """`StateStore` on a `google.cloud.firestore.Client` (thread-safe: the client is)."""

    def __init__(self, client: firestore.Client, prefix: str = "", *, owns_client: bool = False) -> None:
        self.client = client
        self._owns_client = owns_client  # close the client with the store only when the store made it
        self._collections = client.collection(f"{prefix}collections")
        self._channels = client.collection(f"{prefix}channels")
        self._threads = client.collection(f"{prefix}threads")
        self._interactions = client.collection(f"{prefix}interactions")
        self._quotas = client.collection(f"{prefix}quotas")

    def close(self) -> None:
        if self._owns_client:
            self.client.close()  # type: ignore[no-untyped-call]

    # --- the optimistic read-modify-write ------------------------------------------------------------

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

    # --- collections and the channel → collection map -------------------------------------------------

    def put_collections(self, collections: Sequence[CollectionRecord], channels: dict[str, str]) -> None:
        """Replace the stored collections and channel map (in batches of 400 writes: atomic up to that size)."""
        wanted = {_doc_id(c.name): c for c in collections}
        wanted_channels = {_doc_id(k): v for k, v in channels.items()}
        writes: list[tuple[firestore.DocumentReference, Write | None]] = []
        writes.extend((ref, None) for ref in self._collections.list_documents() if ref.id not in wanted)
        writes.extend((ref, None) for ref in self._channels.list_documents() if ref.id not in wanted_channels)
        for doc_id, record in wanted.items():
            fields = {"name": record.name, "title": record.title, "description": record.description}
            writes.append((self._collections.document(doc_id), {**fields, "enabled": record.enabled}))
        for doc_id, collection in wanted_channels.items():
            writes.append((self._channels.document(doc_id), {"collection": collection}))
        for start in range(0, len(writes), WRITE_BATCH):
            batch = self.client.batch()
            for ref, data in writes[start : start + WRITE_BATCH]:
                if data is None:
                    batch.delete(ref)
                else:
                    batch.set(ref, data)
            batch.commit()

    def list_collections(self) -> list[CollectionRecord]:
        records = []
        for snapshot in self._collections.stream():
            d = _data(snapshot)
            records.append(
                CollectionRecord(
                    name=str(d["name"]),
                    title=str(d["title"]),
                    description=str(d.get("description", "")),
                    enabled=bool(d.get("enabled", True)),
                )
            )
        return sorted(records, key=lambda r: r.name)

    def channel_collection(self, channel_id: str) -> str | None:
        snapshot = self._channels.document(_doc_id(channel_id)).get()
        return _optional_str(_data(snapshot).get("collection")) if snapshot.exists else None

    # --- threads and messages -----------------------------------------------------------------------

    def _thread_ref(self, thread_id: str) -> firestore.DocumentReference:
        return self._threads.document(_doc_id(thread_id))

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        snapshot = self._thread_ref(thread_id).get()
        return _thread(snapshot) if snapshot.exists else None

    def ensure_thread(self, new: NewThread, now: datetime) -> ThreadRecord:
        ref = self._thread_ref(new.thread_id)
        snapshot = ref.get()
        if snapshot.exists:
            return _thread(snapshot)
        stamp = _utc(now)
        with contextlib.suppress(gexc.AlreadyExists):  # another caller created it first: theirs is the thread
            ref.create(
                {
                    "collection": new.collection,
                    "author_id": new.author_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "guild_id": new.guild_id,
                    "channel_id": new.channel_id,
                    "title": new.title,
                    "open": True,
                    "solved": False,
                    "thread_controller_id": None,
                    "solved_votes": 0,
                    "failed_votes": 0,
                    "extra": dict(new.extra),
                }
            )
        return _thread(ref.get())

    def update_thread(self, thread_id: str, update: ThreadUpdate, now: datetime) -> ThreadRecord | None:
        ref = self._thread_ref(thread_id)
        changes: Write = {"updated_at": _utc(now)}
        for name in ("open", "solved", "collection", "title"):
            value = getattr(update, name)
            if value is not None:
                changes[name] = value
        try:
            ref.update(changes)  # fails on a missing document rather than creating a partial one
        except gexc.NotFound:
            return None
        return self.get_thread(thread_id)

    def set_thread_controller(self, thread_id: str, message_id: str, now: datetime) -> str:
        """Set `thread_controller_id` if unset; returns the controller id in effect. KeyError: unknown thread."""

        def decide(snapshot: Snapshot) -> tuple[Write | None, str]:
            if not snapshot.exists:
                raise KeyError(thread_id)
            current = _data(snapshot).get("thread_controller_id")
            if current is not None:
                return None, str(current)
            return {"thread_controller_id": message_id, "updated_at": _utc(now)}, message_id

        return self._read_modify_write(self._thread_ref(thread_id), decide)

    def add_message(self, message: MessageRecord) -> bool:
        ref = self._thread_ref(message.thread_id).collection("messages").document(_doc_id(message.message_id))
        sources = [
            {"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor}
            for s in message.sources
        ]
        try:
            ref.create(
                {
                    "author_id": message.author_id,
                    "content": message.content,
                    "from_bot": message.from_bot,
                    "created_at": _utc(message.created_at),
                    "first_message": message.first_message,
                    "asked_bot": message.asked_bot,
                    "sources": sources,
                }
            )
        except gexc.AlreadyExists:
            return False
        return True

    def list_messages(self, thread_id: str, limit: int = 50) -> list[MessageRecord]:
        if limit <= 0:
            return []  # Firestore reads limit(0) as "no limit"
        query = (
            self._thread_ref(thread_id)
            .collection("messages")
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .order_by(FieldPath.document_id(), direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [_message(thread_id, snapshot) for snapshot in reversed(list(query.stream()))]

    # --- votes ----------------------------------------------------------------------------------------

    def record_vote(
        self, thread_id: str, user_id: str, vote: VoteKind, *, is_author: bool, now: datetime
    ) -> VoteResult:
        """One vote per user; a change moves it. The author's "solved" marks the thread solved, and nothing a
        vote does un-marks it (a later "failed" from the author only moves the vote). KeyError: unknown thread.

        The returned counts are read just after the commit, so they may already include other users' votes."""
        if vote not in ("solved", "failed"):
            raise ValueError(f"unknown vote {vote!r}")
        thread_ref = self._thread_ref(thread_id)
        vote_ref = thread_ref.collection("votes").document(_doc_id(user_id))
        stamp = _utc(now)

        # Decorated per call: a `_Transactional` keeps per-run state (its retry ids), so sharing one across
        # threads would mix their transactions up.
        @firestore.transactional
        def cast(transaction: firestore.Transaction) -> bool:
            old = vote_ref.get(transaction=transaction)
            old_vote = _data(old).get("vote") if old.exists else None
            changes: Write = {}
            if old_vote != vote:
                transaction.set(vote_ref, {"vote": vote, "updated_at": stamp})
                changes[f"{vote}_votes"] = firestore.Increment(1)
                if old_vote in ("solved", "failed"):
                    # Never below zero: this user's old vote was counted when it was written, in the same commit.
                    changes[f"{old_vote}_votes"] = firestore.Increment(-1)
            if is_author and vote == "solved":
                changes["solved"] = True
            if changes:
                # update() requires the thread to exist: for an unknown thread the whole commit fails.
                transaction.update(thread_ref, {**changes, "updated_at": stamp})
            return old_vote != vote

        changed: bool | None = None
        for attempt in range(VOTE_RETRIES):
            try:
                changed = bool(cast(self.client.transaction(max_attempts=VOTE_TXN_ATTEMPTS)))
                break
            except gexc.NotFound as error:
                raise KeyError(thread_id) from error
            except gexc.Aborted:
                # A read inside the transaction lost a lock wait (the client retries only aborted commits).
                if attempt == VOTE_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.05))
        thread = self.get_thread(thread_id)
        if thread is None or changed is None:
            raise KeyError(thread_id)
        return VoteResult(
            solved_votes=thread.solved_votes,
            failed_votes=thread.failed_votes,
            changed=changed,
            thread_solved=thread.solved,
        )

    # --- interactions ---------------------------------------------------------------------------------

    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        try:
            self._interactions.document(_doc_id(interaction_id)).create(
                {
                    "state": InteractionState.QUEUED.value,
                    "attempts": 0,
                    "created_at": _utc(now),
                    "expires_at": _utc(now + ttl),
                    "lease_until": None,
                    "thread_id": thread_id,
                }
            )
        except gexc.AlreadyExists:
            return False
        return True

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        def decide(snapshot: Snapshot) -> tuple[Write | None, Claim]:
            if not snapshot.exists:
                return None, Claim(ClaimResult.MISSING)
            record = _interaction(snapshot)
            if record.state in (InteractionState.DONE, InteractionState.FAILED):
                return None, Claim(ClaimResult.FINISHED, record)
            if _lease_live(record, now):
                return None, Claim(ClaimResult.BUSY, record)
            until = _utc(now + lease)
            claimed = InteractionRecord(
                interaction_id=record.interaction_id,
                state=InteractionState.ANSWERING,
                attempts=record.attempts + 1,
                created_at=record.created_at,
                expires_at=record.expires_at,
                lease_until=until,
                thread_id=record.thread_id,
            )
            write = {"state": claimed.state.value, "attempts": claimed.attempts, "lease_until": until}
            return write, Claim(ClaimResult.CLAIMED, claimed)

        return self._read_modify_write(self._interactions.document(_doc_id(interaction_id)), decide)

    def finish_interaction(self, interaction_id: str, state: InteractionState, *, now: datetime) -> None:
        """Set DONE or FAILED (or QUEUED: hand the work back for a later attempt), dropping the lease.

        Only a QUEUED or ANSWERING interaction changes: finishing twice, or an unknown id, is a no-op."""
        if state is InteractionState.ANSWERING:
            raise ValueError("finish_interaction takes DONE, FAILED or QUEUED; claim_interaction sets ANSWERING")

        def decide(snapshot: Snapshot) -> tuple[Write | None, None]:
            if not snapshot.exists:
                return None, None
            current = _data(snapshot).get("state")
            if current not in (InteractionState.QUEUED.value, InteractionState.ANSWERING.value):
                return None, None
            return {"state": state.value, "lease_until": None}, None

        self._read_modify_write(self._interactions.document(_doc_id(interaction_id)), decide)

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None:
        snapshot = self._interactions.document(_doc_id(interaction_id)).get()
        return _interaction(snapshot) if snapshot.exists else None

    # --- abuse and cost limits ------------------------------------------------------------------------

    def take_quota(self, key: str, *, limit: int, window: timedelta, now: datetime) -> QuotaResult:
        """Count one use of `key` in the fixed window holding `now` (windows are aligned to the Unix epoch,
        e.g. whole hours); refused, and not counted, once `limit` uses are in the window.

        One document per (key, window length, window): a new window starts from a new document, and the TTL
        policy on `expires_at` deletes the old ones."""
        if window <= timedelta(0):
            raise ValueError("the quota window must be positive")
        bucket = (_utc(now) - EPOCH) // window
        reset_at = EPOCH + (bucket + 1) * window
        window_us = window // timedelta(microseconds=1)
        ref = self._quotas.document(f"{_doc_id(key)}__{window_us}__{bucket}")

        def decide(snapshot: Snapshot) -> tuple[Write | None, QuotaResult]:
            used = int(_data(snapshot).get("used", 0)) if snapshot.exists else 0
            if used >= limit:
                return None, QuotaResult(allowed=False, used=used, limit=limit, reset_at=reset_at)
            write: Write = {"used": used + 1}
            if not snapshot.exists:
                write.update(
                    {"key": key, "window_us": window_us, "bucket": bucket, "reset_at": reset_at, "expires_at": reset_at}
                )
            return write, QuotaResult(allowed=True, used=used + 1, limit=limit, reset_at=reset_at)

        return self._read_modify_write(ref, decide)
