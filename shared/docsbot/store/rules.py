"""The store's decisions, as pure functions over records and `now`: claims, votes, quotas, leases.

Written once here and used by both adapters inside their atomic sections: an adapter reads the records, asks
the rule what to do, and writes what the rule decided (a `BEGIN IMMEDIATE` transaction in SQLite; a
transaction or a precondition-guarded write in Firestore). No I/O and no clock: tests call these directly
(tests/store/test_rules.py). Times are timezone-aware; every time a rule returns is in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from docsbot.store.model import (
    Claim,
    ClaimResult,
    DeliveryProgress,
    InteractionRecord,
    InteractionState,
    Lease,
    QuotaResult,
    VoteKind,
    VoteResult,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VOTES: tuple[VoteKind, ...] = ("solved", "failed")
FINISHED = (InteractionState.DONE, InteractionState.FAILED)


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is a bug in the caller (whose clock is it?), so it raises."""
    if value.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


# --- interactions: the respond task's idempotency ---------------------------------------------------------


def new_interaction(
    interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
) -> InteractionRecord:
    """A fresh QUEUED record; it expires (and the TTL policy deletes it) `ttl` after `now`."""
    return InteractionRecord(
        interaction_id=interaction_id,
        state=InteractionState.QUEUED,
        attempts=0,
        created_at=utc(now),
        expires_at=utc(now + ttl),
        lease_until=None,
        thread_id=thread_id,
    )


def decide_claim(existing: InteractionRecord | None, *, now: datetime, lease: timedelta) -> Claim:
    """Who does the work: CLAIMED (with the record to write) for QUEUED, or ANSWERING whose lease ran out
    (its attempt died); BUSY while another attempt's lease is live; FINISHED once done or failed."""
    if existing is None:
        return Claim(ClaimResult.MISSING)
    if existing.state in FINISHED:
        return Claim(ClaimResult.FINISHED, existing)
    until = existing.lease_until
    if existing.state is InteractionState.ANSWERING and until is not None and until > now:
        return Claim(ClaimResult.BUSY, existing)
    claimed = replace(
        existing, state=InteractionState.ANSWERING, attempts=existing.attempts + 1, lease_until=utc(now + lease)
    )
    return Claim(ClaimResult.CLAIMED, claimed)


def check_finish_state(state: InteractionState) -> None:
    """`finish_interaction` takes DONE, FAILED or QUEUED (handing the work back); only a claim sets ANSWERING."""
    if state is InteractionState.ANSWERING:
        raise ValueError("finish_interaction takes DONE, FAILED or QUEUED; claim_interaction sets ANSWERING")


def holds_claim(existing: InteractionRecord | None, attempt: int) -> bool:
    """Whether attempt number `attempt` still holds the work: the fence on every write an attempt makes.

    `attempts` is the fencing token: each claim increments it, so once another attempt has claimed the work,
    the earlier attempt's number no longer matches, whatever the clocks say. An expired lease nobody took yet
    is still held (nobody else can have written in between)."""
    return existing is not None and existing.state is InteractionState.ANSWERING and existing.attempts == attempt


def decide_renew(
    existing: InteractionRecord | None,
    *,
    attempt: int,
    now: datetime,
    lease: timedelta,
    progress: DeliveryProgress | None = None,
) -> InteractionRecord | None:
    """The record with the lease extended to now + lease (and `progress` recorded), or None when `attempt`
    no longer holds the claim: the caller must stop without writing anything anywhere."""
    if existing is None or not holds_claim(existing, attempt):
        return None
    renewed = replace(existing, lease_until=utc(now + lease))
    if progress is not None:
        renewed = replace(renewed, answer=progress.answer, delivered=progress.delivered, message_id=progress.message_id)
    return renewed


def decide_finish(
    existing: InteractionRecord | None, state: InteractionState, *, attempt: int | None = None
) -> InteractionRecord | None:
    """The record to write (state set, lease dropped), or None: an unknown id, or finished already, is a no-op,
    and so is a fenced finish (`attempt` given) by an attempt that no longer holds the claim."""
    check_finish_state(state)
    if existing is None or existing.state in FINISHED:
        return None
    if attempt is not None and not holds_claim(existing, attempt):
        return None
    return replace(existing, state=state, lease_until=None)


# --- votes ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteChange:
    """What one user's vote does to a thread's counts, whatever they are now."""

    changed: bool  # False when the user repeated the vote they already had
    deltas: Mapping[VoteKind, int]  # count changes: +1 for the new vote, -1 for the one it replaces
    marks_solved: bool  # the author's "solved" marks the thread solved; no vote ever un-marks it


def check_vote(vote: str) -> None:
    if vote not in VOTES:
        raise ValueError(f"unknown vote {vote!r}")


def decide_vote(old_vote: str | None, vote: VoteKind, *, is_author: bool) -> VoteChange:
    """One vote per user: a change moves it from the old kind to the new one; a repeat changes no count."""
    check_vote(vote)
    deltas: dict[VoteKind, int] = {}
    if old_vote != vote:
        deltas[vote] = 1
        for kind in VOTES:
            if kind == old_vote:
                deltas[kind] = -1
    return VoteChange(changed=old_vote != vote, deltas=deltas, marks_solved=is_author and vote == "solved")


def apply_vote(solved_votes: int, failed_votes: int, solved: bool, change: VoteChange) -> VoteResult:
    """The thread's counts and solved mark after `change` (a count never goes below zero)."""
    return VoteResult(
        solved_votes=max(0, solved_votes + change.deltas.get("solved", 0)),
        failed_votes=max(0, failed_votes + change.deltas.get("failed", 0)),
        changed=change.changed,
        thread_solved=solved or change.marks_solved,
    )


# --- the thread controller ----------------------------------------------------------------------------------


def decide_controller(current: str | None, message_id: str) -> str:
    """The first answer to be recorded keeps the controls: the controller in effect after this attempt."""
    return message_id if current is None else current


# --- quotas ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaWindow:
    """One fixed window of a quota: windows are aligned to the Unix epoch (e.g. whole hours)."""

    window_us: int  # the window's length: different lengths count separately
    bucket: int  # which window since the epoch
    reset_at: datetime  # when the next window starts


def quota_window(window: timedelta, now: datetime) -> QuotaWindow:
    """The window of length `window` that holds `now`."""
    if window <= timedelta(0):
        raise ValueError("the quota window must be positive")
    bucket = (utc(now) - EPOCH) // window
    return QuotaWindow(
        window_us=window // timedelta(microseconds=1), bucket=bucket, reset_at=EPOCH + (bucket + 1) * window
    )


def decide_quota(used: int, *, limit: int, window: QuotaWindow, counted: bool = False) -> QuotaResult:
    """Count one more use unless `limit` uses are in the window already (a refusal is not counted).

    `counted`: this use (one interaction id) was counted in this window already: a duplicate delivery of the
    same interaction is allowed again and costs nothing."""
    if counted:
        return QuotaResult(allowed=True, used=used, limit=limit, reset_at=window.reset_at)
    if used >= limit:
        return QuotaResult(allowed=False, used=used, limit=limit, reset_at=window.reset_at)
    return QuotaResult(allowed=True, used=used + 1, limit=limit, reset_at=window.reset_at)


# --- leases ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseDecision:
    lease: Lease  # the lease in force afterwards: the caller got it when its holder is the caller
    write: bool  # store `lease` (taken or extended)


def decide_lease(current: Lease | None, key: str, holder: str, *, ttl: timedelta, now: datetime) -> LeaseDecision:
    """Take `key` for `holder` until now + ttl unless someone else holds a lease that has not expired.
    A holder taking its own lease again extends it."""
    if current is not None and current.holder != holder and current.expires_at > now:
        return LeaseDecision(current, write=False)
    return LeaseDecision(Lease(key, holder, utc(now + ttl)), write=True)


def may_renew(current: Lease | None, holder: str) -> bool:
    """Renewing extends only `holder`'s own lease; once another holder took it over, it is lost.
    (An expired lease nobody took yet is still renewable: nobody else wrote in between.)"""
    return current is not None and current.holder == holder


def may_release(current: Lease | None, holder: str) -> bool:
    """Only the holder gives a lease up; releasing one that another holder took leaves it alone."""
    return current is not None and current.holder == holder
