"""The store's interface: small protocols by role, and `Store`, which is all of them.

One store keeps everything durable: the bot's threads, messages, votes, interactions and quotas,
and the refresh machinery's page states, sources, runs and leases. Two adapters implement it, SQLite
(`docsbot.store.sqlite`, one file, local runs) and Firestore (`docsbot.store.firestore`, the cloud), and
both pass one contract suite (tests/store/test_contract.py). Code asks for the narrowest role it uses.

Every method that reads and then writes (claims, votes, quotas, leases, the thread controller) is atomic, and
its decision is made by `docsbot.store.rules`. Times are timezone-aware UTC datetimes passed in by the caller
(`now`), so tests control the clock. Standard library only at run time: the interactions function imports
this module on its cold path.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from docsbot.store.model import (
    Claim,
    Conversation,
    DeliveryProgress,
    Feedback,
    InteractionRecord,
    InteractionState,
    Lease,
    MessageRecord,
    NewThread,
    PageRecord,
    QuotaResult,
    Solution,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)

if TYPE_CHECKING:  # pydantic models: only for the annotations, which are never evaluated at run time
    from docsbot.store.model_runs import RunRecord, SourceRecord


class Conversations(Protocol):
    """Threads (Discord threads or plain channels) and their messages."""

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


class Votes(Protocol):
    """The "solved" / "failed" buttons under the bot's first answer of a thread."""

    def record_vote(
        self, thread_id: str, user_id: str, vote: VoteKind, *, is_author: bool, now: datetime
    ) -> VoteResult:
        """One vote per user (a change moves it); counts updated in the same transaction. The thread
        author's "solved" marks the thread solved. Raises KeyError for an unknown thread."""
        ...


class Learning(Protocol):
    """The learning loop's capture: accepted solutions, "not solved" reasons, whole conversations, reading back."""

    def mark_solution(self, thread_id: str, solution: Solution, now: datetime) -> bool:
        """Record `solution` as the thread's accepted one (replacing another) and mark the thread solved, in one
        write. False (nothing changed) when that message is already the solution. KeyError: unknown thread."""
        ...

    def clear_solution(self, thread_id: str, now: datetime) -> bool:
        """Forget the thread's accepted solution; False when it had none. Leaves `solved` to the caller."""
        ...

    def get_solution(self, thread_id: str) -> Solution | None: ...

    def record_feedback(self, feedback: Feedback) -> None:
        """Store one user's "not solved" reason for a thread, replacing theirs."""
        ...

    def list_feedback(self, thread_id: str) -> list[Feedback]:
        """The thread's reasons, oldest first."""
        ...

    def list_threads(self, collection: str, *, since: datetime | None = None) -> list[ThreadRecord]:
        """The collection's threads updated at or after `since` (all when None), oldest first."""
        ...

    def put_conversation(self, conversation: Conversation) -> bool:
        """Store the thread's captured conversation, replacing the previous capture. False when the stored one has
        the same status, verdicts and messages (a re-capture of an unchanged thread): only its `fetched_at` moves."""
        ...

    def get_conversation(self, thread_id: str) -> Conversation | None: ...


class InteractionLedger(Protocol):
    """Interactions: makes the respond task idempotent (Cloud Tasks delivers at least once)."""

    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        """Record a new interaction as QUEUED; False when it exists already."""
        ...

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        """Take the work: QUEUED, or ANSWERING with an expired lease → ANSWERING, attempts + 1."""
        ...

    def renew_interaction(
        self,
        interaction_id: str,
        *,
        attempt: int,
        now: datetime,
        lease: timedelta,
        progress: DeliveryProgress | None = None,
    ) -> bool:
        """Fenced: while claim number `attempt` still holds the work, extend its lease to now + lease and record
        `progress` (answer, parts delivered); False (nothing written) once another attempt has claimed it."""
        ...

    def finish_interaction(
        self, interaction_id: str, state: InteractionState, *, now: datetime, attempt: int | None = None
    ) -> bool:
        """Mark DONE or FAILED (or QUEUED: hand the work back), dropping the lease; a no-op once finished.
        With `attempt`, fenced: only while that claim still holds the work. True when written."""
        ...

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None: ...


class Quotas(Protocol):
    """Abuse and cost limits: uses counted per key in fixed windows."""

    def take_quota(
        self, key: str, *, limit: int, window: timedelta, now: datetime, use_id: str | None = None
    ) -> QuotaResult:
        """Count one use of `key` in the current fixed window; refused (not counted) over `limit`. A use with
        a `use_id` (the interaction id) counted in this window already is allowed again and not counted twice."""
        ...


class CrawlStates(Protocol):
    """What the refresh machinery remembers per source: its crawled pages and its latest state."""

    def load_pages(self, collection: str, source: str) -> dict[str, PageRecord]:
        """Crawled URL → record, for every page the source's last indexed crawls remembered."""
        ...

    def save_pages(self, collection: str, source: str, pages: Iterable[PageRecord], *, replace: bool) -> None:
        """Store `pages` (upsert by URL); with `replace`, forget every other page of the source."""
        ...

    def get_source(self, collection: str, source: str) -> SourceRecord | None: ...

    def put_source(self, record: SourceRecord) -> None: ...

    def list_sources(self) -> list[SourceRecord]: ...


class RunLog(Protocol):
    """One record per scrape run, with what every source in it did."""

    def put_run(self, run: RunRecord) -> None:
        """Create or replace the run's record."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        ...


class Leases(Protocol):
    """One writer at a time per key: time-limited leases (see `docsbot.store.lease`)."""

    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        """Take `key` for `holder` until now + ttl, unless someone else holds an unexpired lease on it.

        Returns the lease in force afterwards: `holder` got it when `lease.holder == holder`. A holder
        acquiring its own lease again extends it."""
        ...

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        """Extend `holder`'s lease to now + ttl; False when it is no longer `holder`'s (expired and taken)."""
        ...

    def release_lease(self, key: str, holder: str) -> None:
        """Give the lease up, if `holder` still has it."""
        ...


class Closeable(Protocol):
    def close(self) -> None:
        """Release connections and clients; the store is unusable afterwards."""
        ...


class StateStore(Conversations, Votes, Learning, InteractionLedger, Quotas, Protocol):
    """What the Discord bot uses."""


class FreshnessStore(CrawlStates, RunLog, Leases, Closeable, Protocol):
    """What the scrape job, the ingest endpoint and `docsbot status` use."""


class Store(StateStore, FreshnessStore, Protocol):
    """The whole store: every role, and `close()`. `docsbot.app.stores.open_store` opens the configured one."""
