"""The learning loop's part of the store contract, on both adapters (SQLite file, Firestore emulator): accepted
solutions mark the thread solved atomically and idempotently, unmarking forgets them, "not solved" reasons are one
per user, answer outcomes round-trip, and threads are listed back per collection and since a time."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from docsbot.store.model import Feedback, MessageRecord, Solution, SourceRef
from docsbot.store.ports import Store
from docsbot.store.sqlite import SqliteStore
from tests.harness.firestore_emulator import firestore_client, firestore_emulator  # noqa: F401 - session fixtures
from tests.store import test_contract
from tests.store.test_contract import NOW, message, new_thread

store = test_contract.store  # the two-adapter fixture (SQLite file, Firestore emulator)

REF = SourceRef("Store setup", ("Guide", "Store setup"), "https://docs.example/store", "configure")


def solution(message_id: str = "m2", *, by: str = "author", from_bot: bool = False) -> Solution:
    return Solution(
        message_id=message_id,
        author_id="helper",
        content="Call configureStore with your reducers.",
        link=f"https://discord.com/channels/g1/t1/{message_id}",
        from_bot=from_bot,
        marked_by=by,
        marked_at=NOW,
        sources=(REF,) if from_bot else (),
    )


def test_marking_a_solution_solves_the_thread_once(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    assert store.get_solution("t1") is None
    assert store.mark_solution("t1", solution(), NOW) is True
    assert store.mark_solution("t1", solution(), NOW + timedelta(seconds=1)) is False  # idempotent
    thread = store.get_thread("t1")
    assert thread is not None and thread.solved
    assert store.get_solution("t1") == solution()


def test_another_message_replaces_the_solution_and_keeps_the_bots_sources(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    store.mark_solution("t1", solution("m2"), NOW)
    assert store.mark_solution("t1", solution("m3", from_bot=True), NOW) is True
    stored = store.get_solution("t1")
    assert stored is not None and stored.message_id == "m3" and stored.from_bot and stored.sources == (REF,)


def test_clearing_the_solution_forgets_it(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    assert store.clear_solution("t1", NOW) is False
    store.mark_solution("t1", solution(), NOW)
    assert store.clear_solution("t1", NOW) is True
    assert store.get_solution("t1") is None
    assert store.clear_solution("t1", NOW) is False


def test_marking_on_an_unknown_thread_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.mark_solution("nope", solution(), NOW)


def test_feedback_is_one_reason_per_user(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    store.record_feedback(Feedback("t1", "u1", "outdated", "", NOW))
    store.record_feedback(Feedback("t1", "u2", "wrong", "It says v1", NOW + timedelta(seconds=1)))
    store.record_feedback(Feedback("t1", "u1", "incomplete", "misses TS", NOW + timedelta(seconds=2)))
    reasons = [(f.user_id, f.reason, f.text) for f in store.list_feedback("t1")]
    assert reasons == [("u2", "wrong", "It says v1"), ("u1", "incomplete", "misses TS")]


def test_answer_outcomes_round_trip(store: Store) -> None:
    store.ensure_thread(new_thread(), NOW)
    answer = MessageRecord("a1", "t1", "bot", "Not in the docs.", from_bot=True, created_at=NOW, outcome="not_found")
    store.add_message(answer)
    store.add_message(message("q1", NOW - timedelta(seconds=1)))
    assert [(m.message_id, m.outcome) for m in store.list_messages("t1")] == [("q1", ""), ("a1", "not_found")]


def test_threads_are_listed_per_collection_and_since(store: Store) -> None:
    store.ensure_thread(new_thread("t1"), NOW)
    store.ensure_thread(new_thread("t2"), NOW + timedelta(days=2))
    store.ensure_thread(new_thread("t3", collection="other"), NOW)
    assert [t.thread_id for t in store.list_threads("docs")] == ["t1", "t2"]
    assert [t.thread_id for t in store.list_threads("docs", since=NOW + timedelta(days=1))] == ["t2"]
    assert store.list_threads("none") == []


def test_an_older_sqlite_file_gains_the_outcome_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE messages (thread_id TEXT NOT NULL, message_id TEXT NOT NULL, author_id TEXT NOT NULL, "
        "content TEXT NOT NULL, from_bot INTEGER NOT NULL, created_at TEXT NOT NULL, first_message INTEGER NOT NULL,"
        " asked_bot INTEGER NOT NULL, sources TEXT NOT NULL, PRIMARY KEY (thread_id, message_id));"
        "INSERT INTO messages VALUES ('t1', 'm1', 'a', 'hello', 0, '2026-03-01T12:00:00.000000+00:00', 1, 0, '[]');"
    )
    db.commit()
    db.close()
    migrated = SqliteStore(path)
    assert [(m.content, m.outcome) for m in migrated.list_messages("t1")] == [("hello", "")]
    migrated.close()


# --- captured conversations ------------------------------------------------------------------------------


def conversation(*, status: str = "complete", fetched_minutes: int = 0, reply: str = "Use configureStore.") -> Any:
    from docsbot.store.model import Conversation, ConversationMessage

    messages = (
        ConversationMessage("m1", "<user-aaaa1111>", "question", "How do I set up the store?", NOW),
        ConversationMessage(
            "m2", "docsbot", "bot_answer", "See Store setup.", NOW + timedelta(seconds=5), (REF,), "answered"
        ),
        ConversationMessage("m3", "<user-bbbb2222>", "human_reply", reply, NOW + timedelta(minutes=1), solution=True),
    )
    return Conversation(
        thread_id="t1",
        collection="docs",
        fetched_at=NOW + timedelta(minutes=fetched_minutes),
        status=status,  # type: ignore[arg-type]
        outcome="solved_by_person",
        messages=messages,
        solved_votes=1,
        failed_votes=2,
    )


def test_a_conversation_round_trips_and_a_recapture_of_the_same_thread_writes_nothing(store: Store) -> None:
    assert store.get_conversation("t1") is None
    first = conversation()
    assert store.put_conversation(first) is True
    assert store.get_conversation("t1") == first
    # The same messages fetched again later: nothing changes but the time of the latest fetch.
    assert store.put_conversation(conversation(fetched_minutes=10)) is False
    assert store.get_conversation("t1") == conversation(fetched_minutes=10)


def test_a_changed_conversation_replaces_the_stored_one(store: Store) -> None:
    store.put_conversation(conversation())
    changed = conversation(fetched_minutes=10, reply="Use configureStore from Redux Toolkit.")
    assert store.put_conversation(changed) is True
    assert store.get_conversation("t1") == changed
    refused = conversation(status="forbidden", fetched_minutes=20)
    assert store.put_conversation(refused) is True
    stored = store.get_conversation("t1")
    assert stored is not None and stored.status == "forbidden"
