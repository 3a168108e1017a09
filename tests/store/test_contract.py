"""One contract for the one store, run against both adapters: SQLite in a temporary file, Firestore on Google's
emulator. It covers every role: collections, conversations, votes, interactions, quotas (the bot's), page
states, sources, runs and leases (the refresh machinery's), and the factory.

Every test runs against both. Firestore tests isolate themselves with a fresh collection-name prefix.
The concurrency tests start their callers together behind a barrier, so they really contend.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from google.cloud import firestore

from docsbot.app.stores import open_store
from docsbot.store.firestore import FirestoreStore
from docsbot.store.lease import LeaseBusy, LeaseKeeper, LeaseLost, acquire_lease, hold_lease
from docsbot.store.model import (
    ClaimResult,
    DeliveryProgress,
    InteractionState,
    MessageRecord,
    NewThread,
    PageRecord,
    SourceRef,
    ThreadUpdate,
    VoteKind,
)
from docsbot.store.model_runs import RunRecord, SourceRecord, SourceRun
from docsbot.store.ports import Store
from docsbot.store.sqlite import LEGACY_FILES, SQLITE_FILE, SqliteStore
from tests.harness.firestore_emulator import firestore_client, firestore_emulator  # noqa: F401 - session fixtures

T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
TTL = timedelta(days=2)
WAIT_S = 60.0  # bound on any one concurrent caller


def concurrently(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls on as many threads, released together; results in call order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=WAIT_S)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=WAIT_S) for future in futures]


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "store.sqlite3")
        yield sqlite
        sqlite.close()
    else:
        client: firestore.Client = request.getfixturevalue("firestore_client")
        yield FirestoreStore(client, prefix=f"t{uuid.uuid4().hex[:12]}_")


def new_thread(thread_id: str = "t1", author_id: str = "author", **fields: str) -> NewThread:
    return NewThread(
        thread_id=thread_id,
        collection=fields.get("collection", "docs"),
        author_id=author_id,
        guild_id="g1",
        channel_id="forum1",
        title=fields.get("title", "How do I install?"),
    )


def message(message_id: str, at: datetime, thread_id: str = "t1", **flags: bool) -> MessageRecord:
    return MessageRecord(
        message_id=message_id,
        thread_id=thread_id,
        author_id="bot" if flags.get("from_bot") else "author",
        content=f"message {message_id}",
        from_bot=flags.get("from_bot", False),
        created_at=at,
        first_message=flags.get("first_message", False),
        asked_bot=flags.get("asked_bot", False),
    )


# --- threads -----------------------------------------------------------------------------------------------


def test_ensure_thread_creates_once(store: Store) -> None:
    assert store.get_thread("t1") is None
    created = store.ensure_thread(new_thread(), NOW)
    assert created.thread_id == "t1"
    assert (created.collection, created.author_id, created.title) == ("docs", "author", "How do I install?")
    assert (created.guild_id, created.channel_id) == ("g1", "forum1")
    assert created.created_at == created.updated_at == NOW
    assert created.open and not created.solved
    assert created.thread_controller_id is None
    assert (created.solved_votes, created.failed_votes) == (0, 0)

    again = store.ensure_thread(new_thread(author_id="someone-else", title="Other"), NOW + timedelta(hours=1))
    assert again == created
    assert store.get_thread("t1") == created


def test_ensure_thread_concurrently_creates_one_thread(store: Store) -> None:
    calls = [
        partial(store.ensure_thread, new_thread(author_id=f"user{i}"), NOW + timedelta(seconds=i)) for i in range(10)
    ]
    results = concurrently(calls)
    assert len(set(results)) == 1  # every caller got the same record
    assert store.get_thread("t1") == results[0]


def test_update_thread_changes_only_given_fields(store: Store) -> None:
    assert store.update_thread("missing", ThreadUpdate(open=False), NOW) is None
    assert store.get_thread("missing") is None  # no partial record appears

    store.ensure_thread(new_thread(), NOW)
    later = NOW + timedelta(minutes=3)
    closed = store.update_thread("t1", ThreadUpdate(open=False), later)
    assert closed is not None
    assert (closed.open, closed.solved, closed.collection, closed.title) == (False, False, "docs", "How do I install?")
    assert closed.updated_at == later
    assert closed.created_at == NOW

    moved = store.update_thread("t1", ThreadUpdate(collection="api", title="Renamed", solved=True), later)
    assert moved is not None
    assert (moved.open, moved.solved, moved.collection, moved.title) == (False, True, "api", "Renamed")

    reopened = store.update_thread("t1", ThreadUpdate(open=True, solved=False), later)
    assert reopened is not None
    assert (reopened.open, reopened.solved, reopened.collection) == (True, False, "api")
    assert store.get_thread("t1") == reopened


# --- messages ----------------------------------------------------------------------------------------------


def test_add_message_is_idempotent_and_sources_round_trip(store: Store) -> None:
    sources = (
        SourceRef(title="Install", heading_path=("Guide", "Install"), url="https://docs.example/install", anchor="pip"),
        SourceRef(title="FAQ", heading_path=(), url="https://docs.example/faq", anchor=""),
    )
    answer = MessageRecord(
        message_id="m2",
        thread_id="t1",
        author_id="bot",
        content="Run `pip install x`.",
        from_bot=True,
        created_at=NOW + timedelta(seconds=5),
        sources=sources,
    )
    question = message("m1", NOW, first_message=True, asked_bot=True)
    assert store.add_message(question)
    assert store.add_message(answer)
    assert not store.add_message(answer)
    assert not store.add_message(replace(answer, content="changed"))
    assert store.list_messages("t1") == [question, answer]  # nothing changed by the repeats
    assert store.list_messages("t1")[1].sources == sources
    assert store.list_messages("other") == []


def test_list_messages_latest_first_n_oldest_first(store: Store) -> None:
    # Added out of order; m3 and m4 share a timestamp and are ordered by id.
    times = {"m5": 50, "m1": 10, "m4": 30, "m2": 20, "m3": 30, "m6": 60}
    for message_id, seconds in times.items():
        assert store.add_message(message(message_id, NOW + timedelta(seconds=seconds)))
    assert [m.message_id for m in store.list_messages("t1")] == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert [m.message_id for m in store.list_messages("t1", limit=3)] == ["m4", "m5", "m6"]
    assert [m.message_id for m in store.list_messages("t1", limit=4)] == ["m3", "m4", "m5", "m6"]
    assert [m.message_id for m in store.list_messages("t1", limit=1)] == ["m6"]
    assert store.list_messages("t1", limit=0) == []
    assert store.list_messages("t1")[0].created_at == NOW + timedelta(seconds=10)


# --- votes -------------------------------------------------------------------------------------------------


def test_fifty_users_voting_concurrently_are_counted_exactly(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    votes: list[VoteKind] = ["solved" if i % 5 else "failed" for i in range(50)]  # 40 solved, 10 failed
    calls = [partial(store.record_vote, "t1", f"user{i}", v, is_author=False, now=NOW) for i, v in enumerate(votes)]
    results = concurrently(calls)
    assert all(r.changed for r in results)
    thread = store.get_thread("t1")
    assert thread is not None
    assert (thread.solved_votes, thread.failed_votes) == (40, 10)
    assert not thread.solved  # only the author marks it solved
    # Every result saw at least its own vote, never more than all of them.
    assert all(1 <= r.solved_votes + r.failed_votes <= 50 for r in results)


def test_the_same_vote_twice_counts_once(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    first = store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    assert (first.solved_votes, first.failed_votes, first.changed) == (1, 0, True)
    again = store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    assert (again.solved_votes, again.failed_votes, again.changed) == (1, 0, False)
    other = store.record_vote("t1", "u2", "solved", is_author=False, now=NOW)
    assert (other.solved_votes, other.failed_votes, other.changed) == (2, 0, True)


def test_switching_moves_the_vote(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    store.record_vote("t1", "u2", "failed", is_author=False, now=NOW)
    switched = store.record_vote("t1", "u1", "failed", is_author=False, now=NOW)
    assert (switched.solved_votes, switched.failed_votes, switched.changed) == (0, 2, True)
    back = store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    assert (back.solved_votes, back.failed_votes, back.changed) == (1, 1, True)
    for _ in range(3):  # flapping never drives a count below zero or above the voters
        store.record_vote("t1", "u2", "solved", is_author=False, now=NOW)
        store.record_vote("t1", "u2", "failed", is_author=False, now=NOW)
    thread = store.get_thread("t1")
    assert thread is not None
    assert (thread.solved_votes, thread.failed_votes) == (1, 1)


def test_only_the_authors_solved_vote_marks_the_thread_solved(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    other = store.record_vote("t1", "helper", "solved", is_author=False, now=NOW)
    assert not other.thread_solved
    thread = store.get_thread("t1")
    assert thread is not None and not thread.solved

    author_failed = store.record_vote("t1", "author", "failed", is_author=True, now=NOW)
    assert not author_failed.thread_solved

    later = NOW + timedelta(minutes=1)
    author_solved = store.record_vote("t1", "author", "solved", is_author=True, now=later)
    assert author_solved.thread_solved
    assert (author_solved.solved_votes, author_solved.failed_votes) == (2, 0)
    thread = store.get_thread("t1")
    assert thread is not None and thread.solved and thread.updated_at == later

    # Documented simplification: the author voting "failed" afterwards moves the vote but does not unsolve.
    author_again = store.record_vote("t1", "author", "failed", is_author=True, now=later)
    assert author_again.thread_solved
    assert (author_again.solved_votes, author_again.failed_votes) == (1, 1)


def test_voting_on_an_unknown_thread_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.record_vote("missing", "u1", "solved", is_author=True, now=NOW)
    store.ensure_thread(new_thread(), NOW)
    result = store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    assert (result.solved_votes, result.changed) == (1, True)  # the failed vote left nothing behind


# --- the thread controller ---------------------------------------------------------------------------------


def test_set_thread_controller_first_wins(store: Store) -> None:
    with pytest.raises(KeyError):
        store.set_thread_controller("missing", "m1", NOW)
    store.ensure_thread(new_thread(), NOW)
    assert store.set_thread_controller("t1", "m1", NOW) == "m1"
    assert store.set_thread_controller("t1", "m2", NOW) == "m1"
    thread = store.get_thread("t1")
    assert thread is not None and thread.thread_controller_id == "m1"


def test_set_thread_controller_concurrently_agrees_on_one(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    results = concurrently([partial(store.set_thread_controller, "t1", f"m{i}", NOW) for i in range(10)])
    assert len(set(results)) == 1
    thread = store.get_thread("t1")
    assert thread is not None and thread.thread_controller_id == results[0]


# --- interactions ------------------------------------------------------------------------------------------


def test_create_interaction_once(store: Store) -> None:
    assert store.get_interaction("i1") is None
    assert store.create_interaction("i1", now=NOW, ttl=TTL, thread_id="t1")
    assert not store.create_interaction("i1", now=NOW + timedelta(seconds=1), ttl=TTL)
    record = store.get_interaction("i1")
    assert record is not None
    assert (record.state, record.attempts, record.lease_until, record.thread_id) == (
        InteractionState.QUEUED,
        0,
        None,
        "t1",
    )
    assert (record.created_at, record.expires_at) == (NOW, NOW + TTL)


def test_claim_lifecycle(store: Store) -> None:
    assert store.claim_interaction("missing", now=NOW, lease=LEASE).result is ClaimResult.MISSING
    store.create_interaction("i1", now=NOW, ttl=TTL)

    claim = store.claim_interaction("i1", now=NOW, lease=LEASE)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None
    assert (claim.record.state, claim.record.attempts, claim.record.lease_until) == (
        InteractionState.ANSWERING,
        1,
        NOW + LEASE,
    )
    assert store.get_interaction("i1") == claim.record
    assert store.claim_interaction("i1", now=NOW + LEASE - timedelta(seconds=1), lease=LEASE).result is (
        ClaimResult.BUSY
    )

    # The lease ran out (the first attempt died): the next attempt takes over.
    later = NOW + LEASE + timedelta(seconds=1)
    retaken = store.claim_interaction("i1", now=later, lease=LEASE)
    assert retaken.result is ClaimResult.CLAIMED and retaken.record is not None
    assert (retaken.record.attempts, retaken.record.lease_until) == (2, later + LEASE)

    store.finish_interaction("i1", InteractionState.DONE, now=later)
    finished = store.claim_interaction("i1", now=later, lease=LEASE)
    assert finished.result is ClaimResult.FINISHED
    assert finished.record is not None and finished.record.state is InteractionState.DONE

    # Finishing again is harmless and keeps the first outcome; an unknown id is a no-op.
    store.finish_interaction("i1", InteractionState.FAILED, now=later)
    record = store.get_interaction("i1")
    assert record is not None and record.state is InteractionState.DONE and record.attempts == 2
    store.finish_interaction("missing", InteractionState.DONE, now=later)
    assert store.get_interaction("missing") is None


def test_finish_as_queued_hands_the_work_back(store: Store) -> None:
    store.create_interaction("i1", now=NOW, ttl=TTL)
    store.claim_interaction("i1", now=NOW, lease=LEASE)
    store.finish_interaction("i1", InteractionState.QUEUED, now=NOW)
    record = store.get_interaction("i1")
    assert record is not None and (record.state, record.lease_until) == (InteractionState.QUEUED, None)
    again = store.claim_interaction("i1", now=NOW, lease=LEASE)  # no need to wait for the lease
    assert again.result is ClaimResult.CLAIMED and again.record is not None and again.record.attempts == 2
    store.finish_interaction("i1", InteractionState.FAILED, now=NOW)
    assert store.claim_interaction("i1", now=NOW, lease=LEASE).result is ClaimResult.FINISHED


def test_one_task_claimed_concurrently_is_claimed_once(store: Store) -> None:
    store.create_interaction("i1", now=NOW, ttl=TTL)
    claims = concurrently([(lambda: store.claim_interaction("i1", now=NOW, lease=LEASE)) for _ in range(10)])
    results = sorted(c.result for c in claims)
    assert results == [ClaimResult.BUSY] * 9 + [ClaimResult.CLAIMED]
    record = store.get_interaction("i1")
    assert record is not None and record.attempts == 1 and record.state is InteractionState.ANSWERING


def test_a_stale_attempt_is_fenced_off_once_another_claimed_the_work(store: Store) -> None:
    store.create_interaction("i1", now=NOW, ttl=TTL)
    first = store.claim_interaction("i1", now=NOW, lease=LEASE)
    assert first.record is not None and first.record.attempts == 1
    # Renewing while it holds the claim extends the lease, so nobody can take over.
    assert store.renew_interaction("i1", attempt=1, now=NOW + LEASE - timedelta(seconds=1), lease=LEASE)
    assert store.claim_interaction("i1", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE).result is ClaimResult.BUSY
    # The first attempt stops renewing (stuck in a model call): its lease runs out and a retry takes over.
    late = NOW + 3 * LEASE
    second = store.claim_interaction("i1", now=late, lease=LEASE)
    assert second.result is ClaimResult.CLAIMED and second.record is not None and second.record.attempts == 2
    # Every write of the first attempt is refused now, and changes nothing.
    progress = DeliveryProgress(answer='{"stale": true}', delivered=1, message_id="m-stale")
    assert not store.renew_interaction("i1", attempt=1, now=late, lease=LEASE, progress=progress)
    assert not store.finish_interaction("i1", InteractionState.DONE, now=late, attempt=1)
    record = store.get_interaction("i1")
    assert record is not None and record.state is InteractionState.ANSWERING and record.answer is None
    # The holder's writes go through; its finish drops the lease.
    assert store.renew_interaction("i1", attempt=2, now=late, lease=LEASE, progress=progress)
    assert store.finish_interaction("i1", InteractionState.DONE, now=late, attempt=2)
    assert not store.finish_interaction("i1", InteractionState.FAILED, now=late, attempt=2)  # finished already


def test_the_delivery_ledger_survives_handing_the_work_back(store: Store) -> None:
    store.create_interaction("i1", now=NOW, ttl=TTL)
    store.claim_interaction("i1", now=NOW, lease=LEASE)
    answer = '{"messages": [{"content": "part 1"}, {"content": "part 2 \u00e9"}]}'
    assert store.renew_interaction("i1", attempt=1, now=NOW, lease=LEASE, progress=DeliveryProgress(answer))
    progress = DeliveryProgress(answer, delivered=1, message_id="111")
    assert store.renew_interaction("i1", attempt=1, now=NOW, lease=LEASE, progress=progress)
    assert store.finish_interaction("i1", InteractionState.QUEUED, now=NOW, attempt=1)
    again = store.claim_interaction("i1", now=NOW, lease=LEASE)
    assert again.result is ClaimResult.CLAIMED and again.record is not None
    assert (again.record.answer, again.record.delivered, again.record.message_id) == (answer, 1, "111")
    # A renewal without progress keeps what was recorded.
    assert store.renew_interaction("i1", attempt=2, now=NOW, lease=LEASE)
    record = store.get_interaction("i1")
    assert record is not None and (record.answer, record.delivered, record.message_id) == (answer, 1, "111")


# --- quotas ------------------------------------------------------------------------------------------------


def test_take_quota_concurrently_respects_the_limit_exactly(store: Store) -> None:
    hour = timedelta(hours=1)
    now = NOW + timedelta(minutes=10)
    results = concurrently([(lambda: store.take_quota("user:1", limit=7, window=hour, now=now)) for _ in range(20)])
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 7
    assert sorted(r.used for r in allowed) == list(range(1, 8))
    assert all(r.used == 7 and r.limit == 7 for r in results if not r.allowed)
    assert all(r.reset_at == NOW + hour for r in results)  # hourly windows are whole hours

    # Refused requests were not counted: the window stays at the limit; another key is untouched.
    refused = store.take_quota("user:1", limit=7, window=hour, now=now)
    assert (refused.allowed, refused.used) == (False, 7)
    assert store.take_quota("user:2", limit=7, window=hour, now=now).used == 1


def test_take_quota_new_window_resets(store: Store) -> None:
    hour = timedelta(hours=1)
    for _ in range(2):
        assert store.take_quota("guild/1", limit=2, window=hour, now=NOW + timedelta(minutes=59)).allowed
    assert not store.take_quota("guild/1", limit=2, window=hour, now=NOW + timedelta(minutes=59)).allowed
    fresh = store.take_quota("guild/1", limit=2, window=hour, now=NOW + hour)
    assert (fresh.allowed, fresh.used, fresh.reset_at) == (True, 1, NOW + 2 * hour)
    # A different window length counts separately, even where the windows start together.
    daily = store.take_quota("guild/1", limit=2, window=timedelta(days=1), now=NOW + hour)
    assert (daily.allowed, daily.used) == (True, 1)
    assert not store.take_quota("k", limit=0, window=hour, now=NOW).allowed


def test_a_duplicate_delivery_of_one_interaction_takes_the_quota_once(store: Store) -> None:
    hour = timedelta(hours=1)
    for _ in range(5):
        result = store.take_quota("user:1", limit=2, window=hour, now=NOW, use_id="interaction-1")
        assert (result.allowed, result.used) == (True, 1)
    results = concurrently(
        [(lambda: store.take_quota("user:1", limit=2, window=hour, now=NOW, use_id="interaction-2")) for _ in range(5)]
    )
    assert all(r.allowed and r.used == 2 for r in results)
    refused = store.take_quota("user:1", limit=2, window=hour, now=NOW, use_id="interaction-3")
    assert (refused.allowed, refused.used) == (False, 2)
    # Counted once per window: the next hour counts it afresh.
    assert store.take_quota("user:1", limit=2, window=hour, now=NOW + hour, use_id="interaction-1").used == 1


# --- page states, sources and runs ------------------------------------------------------------------------


def test_store_keeps_page_states_per_source(store: Store) -> None:
    pages = [
        PageRecord("https://d.example/a", T0, etag='"1"', last_modified="Sat, 01 Mar 2025 12:00:00 GMT"),
        PageRecord("https://d.example/b?x=1/2", T0, content_hash="h", page_url="https://d.example/b"),
    ]
    store.save_pages("docs", "site/one", pages, replace=True)
    store.save_pages("docs", "other", [PageRecord("https://d.example/z", T0)], replace=True)
    assert store.load_pages("docs", "site/one") == {p.url: p for p in pages}
    later = PageRecord("https://d.example/c", T0 + timedelta(hours=1))
    store.save_pages("docs", "site/one", [later], replace=False)
    assert set(store.load_pages("docs", "site/one")) == {p.url for p in [*pages, later]}
    store.save_pages("docs", "site/one", [later], replace=True)
    assert store.load_pages("docs", "site/one") == {later.url: later}
    assert set(store.load_pages("docs", "other")) == {"https://d.example/z"}
    assert store.load_pages("nothing", "here") == {}


def test_store_keeps_sources_and_runs(store: Store) -> None:
    assert store.get_source("docs", "site") is None
    record = SourceRecord(collection="docs", source="site", last_outcome="degraded", last_reasons=["why"],
                          last_finished=T0, last_good_pages=12)  # fmt: skip
    store.put_source(record)
    store.put_source(SourceRecord(collection="api", source="site"))
    assert store.get_source("docs", "site") == record
    assert [(r.collection, r.source) for r in store.list_sources()] == [("api", "site"), ("docs", "site")]

    runs = []
    for hour in range(3):
        run = RunRecord(run_id=f"run-{hour}", started=T0 + timedelta(hours=hour))
        run.sources.append(SourceRun(collection="docs", source="site", started=run.started, errors={"http_503": 2}))
        run.finish(run.started + timedelta(minutes=5))
        store.put_run(run)
        runs.append(run)
    assert store.get_run("run-1") == runs[1]
    assert [r.run_id for r in store.recent_runs(limit=2)] == ["run-2", "run-1"]
    assert store.get_run("missing") is None


# --- leases --------------------------------------------------------------------------------------------------


def test_store_leases_admit_one_holder(store: Store) -> None:
    ttl = timedelta(minutes=1)
    assert store.acquire_lease("scrape/docs/site", "a", ttl=ttl, now=T0).holder == "a"
    held = store.acquire_lease("scrape/docs/site", "b", ttl=ttl, now=T0 + timedelta(seconds=30))
    assert held.holder == "a" and held.expires_at == T0 + ttl
    assert store.acquire_lease("ingest/docs", "b", ttl=ttl, now=T0).holder == "b"  # another key
    assert store.renew_lease("scrape/docs/site", "a", ttl=ttl, now=T0 + timedelta(seconds=50))
    assert store.acquire_lease("scrape/docs/site", "b", ttl=ttl, now=T0 + timedelta(seconds=70)).holder == "a"
    assert store.acquire_lease("scrape/docs/site", "b", ttl=ttl, now=T0 + timedelta(seconds=111)).holder == "b"
    assert not store.renew_lease("scrape/docs/site", "a", ttl=ttl, now=T0 + timedelta(seconds=112))
    store.release_lease("scrape/docs/site", "a")  # not a's any more: nothing happens
    assert store.acquire_lease("scrape/docs/site", "c", ttl=ttl, now=T0 + timedelta(seconds=113)).holder == "b"
    store.release_lease("scrape/docs/site", "b")
    assert store.acquire_lease("scrape/docs/site", "c", ttl=ttl, now=T0 + timedelta(seconds=114)).holder == "c"


def test_concurrent_lease_attempts_admit_exactly_one(store: Store) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(3)

    def attempt(name: str) -> None:
        barrier.wait()
        if store.acquire_lease("race", name, ttl=timedelta(minutes=1), now=T0).holder == name:
            winners.append(name)

    threads = [threading.Thread(target=attempt, args=(f"h{k}",)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1


def test_sqlite_leases_are_exclusive_across_processes(tmp_path: Path) -> None:
    # The scrape job and the ingest endpoint may run as separate processes on one machine.
    SqliteStore(tmp_path / "store.sqlite3").close()  # the schema, before the processes race
    code = (
        "import sys; from datetime import datetime, timedelta, timezone; from docsbot.store.sqlite import SqliteStore; "
        "store = SqliteStore(sys.argv[1]); now = datetime(2025, 3, 1, tzinfo=timezone.utc); "
        "print(store.acquire_lease('race', sys.argv[2], ttl=timedelta(minutes=1), now=now).holder)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "store.sqlite3"), f"p{k}"], stdout=subprocess.PIPE, text=True
        )
        for k in range(4)
    ]
    holders = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(holders) == 1  # every process saw the same single winner


def test_a_crashed_runs_lease_expires(store: Store) -> None:
    now = [T0]

    def clock() -> datetime:
        return now[0]

    acquire_lease(store, "scrape/docs/site", "crashed-run", ttl=timedelta(minutes=15), clock=clock)
    with pytest.raises(LeaseBusy, match="held by crashed-run"):
        acquire_lease(store, "scrape/docs/site", "next-run", ttl=timedelta(minutes=15), clock=clock)
    now[0] = T0 + timedelta(minutes=16)
    with hold_lease(store, "scrape/docs/site", "next-run", ttl=timedelta(minutes=15), clock=clock) as keeper:
        keeper.keep()
        # The crashed run wakes up: its next renewal finds the lease gone and it must stop writing.
        stale = LeaseKeeper(store, "scrape/docs/site", "crashed-run", keeper.ttl, clock)
        now[0] += timedelta(minutes=6)
        with pytest.raises(LeaseLost):
            stale.keep()
    assert store.acquire_lease("scrape/docs/site", "third", ttl=timedelta(seconds=1), now=now[0]).holder == "third"


# --- the factory ---------------------------------------------------------------------------------------------


def test_open_store_sqlite(tmp_path: Path) -> None:
    store = open_store("sqlite", data_dir=tmp_path / "data", project=None)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "data" / SQLITE_FILE == tmp_path / "data" / "docsbot.sqlite3"
    store.ensure_thread(new_thread(), NOW)
    store.put_run(RunRecord(run_id="r1", started=T0))
    store.close()
    reopened = SqliteStore(tmp_path / "data" / "docsbot.sqlite3")
    assert reopened.get_thread("t1") is not None and reopened.get_run("r1") is not None
    reopened.close()
    with pytest.raises(ValueError, match="unknown store 'postgres'"):
        open_store("postgres", data_dir=tmp_path, project=None)


def _legacy_files(data_dir: Path) -> None:
    """The two files of the days before one store, each written by an adapter with that file's tables."""
    assert LEGACY_FILES == ("state.sqlite3", "freshness.sqlite3")
    state = SqliteStore(data_dir / "state.sqlite3")
    state.ensure_thread(new_thread(), NOW)
    state.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    state.create_interaction("i1", now=NOW, ttl=TTL)
    state.close()
    # The old freshness file kept its times in its own format (isoformat(), lease expiry as a number).
    fresh = sqlite3.connect(data_dir / "freshness.sqlite3")
    fresh.executescript(
        "CREATE TABLE pages (collection TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL, etag TEXT, "
        "last_modified TEXT, content_hash TEXT, page_url TEXT, checked_at TEXT NOT NULL, "
        "PRIMARY KEY (collection, source, url));"
        "CREATE TABLE sources (collection TEXT NOT NULL, source TEXT NOT NULL, data TEXT NOT NULL, "
        "PRIMARY KEY (collection, source));"
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, data TEXT NOT NULL);"
        "CREATE TABLE leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);"
    )
    run = RunRecord(run_id="old-run", started=T0)
    with fresh:
        fresh.execute(
            "INSERT INTO pages VALUES ('docs', 'site', 'https://d.example/a', '\"1\"', NULL, 'h', NULL, ?)",
            (T0.isoformat(),),
        )
        fresh.execute(
            "INSERT INTO sources VALUES ('docs', 'site', ?)",
            (SourceRecord(collection="docs", source="site").model_dump_json(),),
        )
        fresh.execute("INSERT INTO runs VALUES ('old-run', ?, ?)", (T0.isoformat(), run.model_dump_json()))
        fresh.execute("INSERT INTO leases VALUES ('scrape/docs/site', 'old', ?)", (T0.timestamp(),))
    fresh.close()


def test_open_store_copies_the_old_files_rows_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _legacy_files(tmp_path)
    with caplog.at_level(logging.INFO, logger="docsbot.store.sqlite"):
        store = open_store("sqlite", data_dir=tmp_path, project=None)
    assert isinstance(store, SqliteStore)
    assert sum("from the old" in r.getMessage() for r in caplog.records) == 2  # one line per old file
    thread = store.get_thread("t1")
    assert thread is not None and thread.solved_votes == 1
    again = store.record_vote("t1", "u1", "solved", is_author=False, now=NOW)
    assert not again.changed  # the vote itself came along, not only the count
    interaction = store.get_interaction("i1")
    assert interaction is not None and interaction.state is InteractionState.QUEUED
    assert store.load_pages("docs", "site") == {
        "https://d.example/a": PageRecord("https://d.example/a", T0, etag='"1"', content_hash="h")
    }
    assert store.get_source("docs", "site") == SourceRecord(collection="docs", source="site")
    newer = RunRecord(run_id="new-run", started=T0 + timedelta(microseconds=1))
    store.put_run(newer)
    assert [r.run_id for r in store.recent_runs()] == ["new-run", "old-run"]
    assert store.acquire_lease("scrape/docs/site", "new", ttl=LEASE, now=T0).holder == "new"  # leases not copied

    # Changes after the import are never overwritten by a second import, in this process or the next.
    store.record_vote("t1", "u1", "failed", is_author=False, now=NOW)
    store.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="docsbot.store.sqlite"):
        reopened = open_store("sqlite", data_dir=tmp_path, project=None)
    kept = reopened.get_thread("t1")
    assert kept is not None and (kept.solved_votes, kept.failed_votes) == (0, 1) and not caplog.records
    reopened.close()


def test_an_unreadable_old_file_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"not a database, " * 100)
    with caplog.at_level(logging.WARNING, logger="docsbot.store.sqlite"):
        store = open_store("sqlite", data_dir=tmp_path, project=None)
    assert any("start afresh" in r.getMessage() for r in caplog.records)
    assert store.get_thread("t1") is None  # nothing copied, and the store works
    store.close()


def test_open_store_firestore(firestore_client: firestore.Client) -> None:  # noqa: F811 - the fixture
    store = open_store("firestore", data_dir=Path("unused"), project="docsbot-test")
    assert isinstance(store, FirestoreStore)
    assert store.get_thread(f"never-{uuid.uuid4().hex}") is None
    assert store.get_run(f"never-{uuid.uuid4().hex}") is None
    store.close()


def test_importing_the_store_loads_neither_firestore_nor_pydantic() -> None:
    # The interactions function's cold path: the store's interface, records and SQLite adapter stay light.
    code = (
        "import sys; import docsbot.store, docsbot.app.stores, docsbot.store.ports, docsbot.store.model, "
        "docsbot.store.rules, docsbot.store.sqlite, docsbot.settings.store; "
        "assert 'google.cloud.firestore' not in sys.modules, 'firestore was imported'; "
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_firestore_documents_carry_the_ttl_field_the_deployment_expires_them_by(
    firestore_client: firestore.Client,  # noqa: F811 - the fixture
) -> None:
    # infra/terraform sets TTL policies on interactions.expires_at and quotas.expires_at: a policy on a field
    # nobody writes would silently never fire, so the documents the adapter writes must carry it, as a timestamp.
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    store = FirestoreStore(firestore_client, prefix=prefix)
    assert store.create_interaction("ttl-check", now=NOW, ttl=TTL)
    assert store.take_quota("user:ttl", limit=5, window=timedelta(hours=1), now=NOW).allowed
    for collection in ("interactions", "quotas"):
        documents = list(firestore_client.collection(f"{prefix}{collection}").stream())
        assert documents, collection
        for document in documents:
            expires = (document.to_dict() or {}).get("expires_at")
            assert isinstance(expires, datetime) and expires > NOW, (collection, expires)
