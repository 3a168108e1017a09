"""The store's decisions without any database: claims, finishes, votes, the thread controller, quotas, leases.

Both adapters call these inside their transactions; tests/store/test_contract.py checks that they do.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from docsbot.store import rules
from docsbot.store.model import Claim, ClaimResult, InteractionRecord, InteractionState, Lease, QuotaResult, VoteResult

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
HOUR = timedelta(hours=1)


def queued() -> InteractionRecord:
    return rules.new_interaction("i1", now=NOW, ttl=timedelta(days=2), thread_id="t1")


# --- interactions ---------------------------------------------------------------------------------------------


def test_a_new_interaction_is_queued_and_expires_after_its_ttl() -> None:
    record = queued()
    assert (record.state, record.attempts, record.lease_until, record.thread_id) == (
        InteractionState.QUEUED,
        0,
        None,
        "t1",
    )
    assert (record.created_at, record.expires_at) == (NOW, NOW + timedelta(days=2))
    with pytest.raises(ValueError, match="timezone-aware"):
        rules.new_interaction("i2", now=datetime(2026, 3, 1), ttl=HOUR)  # naive: the point of the test


def test_claim_takes_queued_work_and_counts_the_attempt() -> None:
    claim = rules.decide_claim(queued(), now=NOW, lease=LEASE)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None
    assert (claim.record.state, claim.record.attempts, claim.record.lease_until) == (
        InteractionState.ANSWERING,
        1,
        NOW + LEASE,
    )


def test_claim_waits_for_a_live_lease_and_takes_over_an_expired_one() -> None:
    answering = replace(queued(), state=InteractionState.ANSWERING, attempts=1, lease_until=NOW + LEASE)
    busy = rules.decide_claim(answering, now=NOW + LEASE - timedelta(microseconds=1), lease=LEASE)
    assert busy.result is ClaimResult.BUSY and busy.record == answering
    taken = rules.decide_claim(answering, now=NOW + LEASE, lease=LEASE)  # the lease ends at its instant
    assert taken.result is ClaimResult.CLAIMED and taken.record is not None
    assert (taken.record.attempts, taken.record.lease_until) == (2, NOW + 2 * LEASE)


def test_claim_of_missing_or_finished_work_does_nothing() -> None:
    assert rules.decide_claim(None, now=NOW, lease=LEASE).result is ClaimResult.MISSING
    for state in (InteractionState.DONE, InteractionState.FAILED):
        finished = replace(queued(), state=state)
        assert rules.decide_claim(finished, now=NOW, lease=LEASE) == Claim(ClaimResult.FINISHED, finished)


def test_finish_drops_the_lease_once_and_never_sets_answering() -> None:
    answering = replace(queued(), state=InteractionState.ANSWERING, attempts=1, lease_until=NOW + LEASE)
    done = rules.decide_finish(answering, InteractionState.DONE)
    assert done is not None and (done.state, done.lease_until, done.attempts) == (InteractionState.DONE, None, 1)
    handed_back = rules.decide_finish(answering, InteractionState.QUEUED)
    assert handed_back is not None and (handed_back.state, handed_back.lease_until) == (InteractionState.QUEUED, None)
    assert rules.decide_finish(done, InteractionState.FAILED) is None  # finished already
    assert rules.decide_finish(None, InteractionState.DONE) is None
    with pytest.raises(ValueError, match="claim_interaction sets ANSWERING"):
        rules.decide_finish(answering, InteractionState.ANSWERING)


# --- votes ----------------------------------------------------------------------------------------------------


def test_a_first_vote_counts_one() -> None:
    change = rules.decide_vote(None, "solved", is_author=False)
    assert (change.changed, dict(change.deltas), change.marks_solved) == (True, {"solved": 1}, False)
    assert rules.apply_vote(2, 3, False, change) == VoteResult(3, 3, changed=True, thread_solved=False)


def test_a_repeated_vote_changes_nothing() -> None:
    change = rules.decide_vote("failed", "failed", is_author=False)
    assert (change.changed, dict(change.deltas)) == (False, {})
    assert rules.apply_vote(1, 1, False, change) == VoteResult(1, 1, changed=False, thread_solved=False)


def test_a_changed_vote_moves_from_one_count_to_the_other() -> None:
    change = rules.decide_vote("solved", "failed", is_author=False)
    assert dict(change.deltas) == {"failed": 1, "solved": -1}
    assert rules.apply_vote(1, 0, False, change) == VoteResult(0, 1, changed=True, thread_solved=False)
    assert rules.apply_vote(0, 0, False, change).solved_votes == 0  # never below zero


def test_only_the_authors_solved_marks_the_thread_and_nothing_unmarks_it() -> None:
    assert not rules.decide_vote(None, "solved", is_author=False).marks_solved
    assert not rules.decide_vote(None, "failed", is_author=True).marks_solved
    author = rules.decide_vote("solved", "solved", is_author=True)  # a repeat still marks it
    assert author.marks_solved and not author.changed
    assert rules.apply_vote(1, 0, False, author).thread_solved
    later = rules.decide_vote("solved", "failed", is_author=True)
    assert rules.apply_vote(1, 0, True, later).thread_solved


def test_an_unknown_vote_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vote"):
        rules.decide_vote(None, "maybe", is_author=False)  # type: ignore[arg-type]


def test_the_first_controller_stays() -> None:
    assert rules.decide_controller(None, "m1") == "m1"
    assert rules.decide_controller("m1", "m2") == "m1"


# --- quotas ---------------------------------------------------------------------------------------------------


def test_quota_windows_are_aligned_to_the_epoch() -> None:
    window = rules.quota_window(HOUR, NOW + timedelta(minutes=59, seconds=59))
    assert window.reset_at == NOW + HOUR
    assert window == rules.quota_window(HOUR, NOW.astimezone(timezone(timedelta(hours=2))))  # any time zone
    assert rules.quota_window(HOUR, NOW + HOUR).bucket == window.bucket + 1
    daily = rules.quota_window(timedelta(days=1), NOW)
    assert daily.window_us != window.window_us and daily.reset_at == datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="positive"):
        rules.quota_window(timedelta(0), NOW)


def test_quota_counts_up_to_the_limit_and_never_counts_a_refusal() -> None:
    window = rules.quota_window(HOUR, NOW)
    assert rules.decide_quota(0, limit=2, window=window) == QuotaResult(True, 1, 2, NOW + HOUR)
    assert rules.decide_quota(1, limit=2, window=window) == QuotaResult(True, 2, 2, NOW + HOUR)
    assert rules.decide_quota(2, limit=2, window=window) == QuotaResult(False, 2, 2, NOW + HOUR)
    assert not rules.decide_quota(0, limit=0, window=window).allowed


# --- leases ---------------------------------------------------------------------------------------------------


def test_a_free_or_expired_lease_is_taken() -> None:
    free = rules.decide_lease(None, "k", "a", ttl=LEASE, now=NOW)
    assert free == rules.LeaseDecision(Lease("k", "a", NOW + LEASE), write=True)
    expired = Lease("k", "b", NOW)
    assert rules.decide_lease(expired, "k", "a", ttl=LEASE, now=NOW) == free  # it ends at its instant


def test_a_live_lease_of_another_holder_is_kept_and_ones_own_is_extended() -> None:
    held = Lease("k", "b", NOW + timedelta(seconds=1))
    assert rules.decide_lease(held, "k", "a", ttl=LEASE, now=NOW) == rules.LeaseDecision(held, write=False)
    own = rules.decide_lease(held, "k", "b", ttl=LEASE, now=NOW)
    assert own == rules.LeaseDecision(Lease("k", "b", NOW + LEASE), write=True)


def test_only_the_holder_renews_or_releases() -> None:
    lease = Lease("k", "a", NOW - timedelta(seconds=1))
    assert rules.may_renew(lease, "a")  # expired but nobody took it: nobody else wrote in between
    assert not rules.may_renew(lease, "b") and not rules.may_renew(None, "a")
    assert rules.may_release(lease, "a")
    assert not rules.may_release(lease, "b") and not rules.may_release(None, "a")
