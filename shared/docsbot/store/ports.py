"""The state store interface: Firestore in the cloud, an embedded SQLite store locally.

Both implementations pass one contract test suite (tests/store/test_contract.py). Every method that reads
and then writes (votes, claims, quotas, the thread controller) is atomic: a transaction in Firestore, a
`BEGIN IMMEDIATE` transaction in SQLite. Times are timezone-aware UTC datetimes passed in by the caller
(`now`), so tests control the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from docsbot.store.model import (
    Claim,
    CollectionRecord,
    InteractionRecord,
    InteractionState,
    MessageRecord,
    NewThread,
    QuotaResult,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)


class StateStore(Protocol):
    # --- collections and the channel → collection map ---------------------------------------------
    def put_collections(self, collections: Sequence[CollectionRecord], channels: dict[str, str]) -> None:
        """Replace the stored collections and channel map with the collections file's (idempotent)."""
        ...

    def list_collections(self) -> list[CollectionRecord]: ...

    def channel_collection(self, channel_id: str) -> str | None: ...

    # --- threads and messages ---------------------------------------------------------------------
    def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    def ensure_thread(self, new: NewThread, now: datetime) -> ThreadRecord:
        """The stored thread, created from `new` when absent (atomically: two callers get the same one)."""
        ...

    def update_thread(self, thread_id: str, update: ThreadUpdate, now: datetime) -> ThreadRecord | None: ...

    def set_thread_controller(self, thread_id: str, message_id: str, now: datetime) -> str:
        """Set `thread_controller_id` if unset; returns the controller id in effect."""
        ...

    def add_message(self, message: MessageRecord) -> bool:
        """Store a message; False (and nothing changed) when its id is already stored."""
        ...

    def list_messages(self, thread_id: str, limit: int = 50) -> list[MessageRecord]:
        """The thread's latest `limit` messages, oldest first."""
        ...

    # --- votes --------------------------------------------------------------------------------------
    def record_vote(
        self, thread_id: str, user_id: str, vote: VoteKind, *, is_author: bool, now: datetime
    ) -> VoteResult:
        """One vote per user (a change moves it); counts updated in the same transaction. The thread
        author's "solved" marks the thread solved. Raises KeyError for an unknown thread."""
        ...

    # --- interactions (idempotency of the respond task) ----------------------------------------------
    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        """Record a new interaction as QUEUED; False when it exists already."""
        ...

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        """Take the work: QUEUED, or ANSWERING with an expired lease → ANSWERING, attempts + 1."""
        ...

    def finish_interaction(self, interaction_id: str, state: InteractionState, *, now: datetime) -> None:
        """Mark DONE or FAILED."""
        ...

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None: ...

    # --- abuse and cost limits --------------------------------------------------------------------
    def take_quota(self, key: str, *, limit: int, window: timedelta, now: datetime) -> QuotaResult:
        """Count one use of `key` in the current fixed window; refused (not counted) over `limit`."""
        ...
