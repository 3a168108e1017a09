"""Export formats on threads built in a real SQLite store: what counts as solved, which answer is the assistant
turn, the eval item's relevant pages, the chat format's rules, and `--since`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from docsbot.cli.learning import parse_since
from docsbot.learning.export import InvalidExample, export_lines, validate_chat_example
from docsbot.learning.threads import load_threads
from docsbot.store.model import MessageRecord, NewThread, SourceRef
from docsbot.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
REF = SourceRef("Reducers", ("Reducers",), "https://redux.js.org/reducers", "rules")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "s.sqlite3")
    for thread_id, outcome in (("voted", "answered"), ("nothing", "not_found"), ("open", "answered")):
        store.ensure_thread(NewThread(thread_id, "docs", "asker", title="Reducers?"), NOW)
        store.add_message(
            MessageRecord(f"{thread_id}-q", thread_id, "asker", "How do reducers work?", False, NOW, asked_bot=True)
        )
        sources = (REF,) if outcome == "answered" else ()
        text = "Reducers are pure functions [1]." if outcome == "answered" else "Not in the docs."
        later = NOW + timedelta(seconds=1)
        store.add_message(
            MessageRecord(f"{thread_id}-a", thread_id, "bot", text, True, later, sources=sources, outcome=outcome)
        )
    store.record_vote("voted", "asker", "solved", is_author=True, now=NOW)
    return store


def test_a_bot_answer_voted_solved_is_exported_with_its_sources(store: SqliteStore) -> None:
    views = load_threads(store, "docs")
    assert {v.thread.thread_id: v.outcome for v in views} == {
        "voted": "solved_by_bot",
        "nothing": "not_found",
        "open": "open",
    }
    (chat,) = [json.loads(line) for line in export_lines(views, "chat")]
    assert chat["messages"][-1] == {"role": "assistant", "content": "Reducers are pure functions [1]."}
    (item,) = [json.loads(line) for line in export_lines(views, "eval")]
    assert item["question"] == "How do reducers work?" and item["relevant"] == [REF.url] and item["answerable"]


def test_since_leaves_older_threads_out(store: SqliteStore) -> None:
    assert load_threads(store, "docs", since=NOW + timedelta(days=1)) == []
    assert parse_since("30d", NOW) == NOW - timedelta(days=30)
    assert parse_since("2026-02-01", NOW) == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("example", "why"),
    [
        ({"messages": []}, "no messages"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}, "role"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]}, "non-empty"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}, "no user"),
        ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}, "last message"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "first",
        ),
        (
            {"messages": [{"role": "user", "content": "word " * 70_000}, {"role": "assistant", "content": "a"}]},
            "tokens",
        ),
        ({"messages": [{"role": "user", "content": "q"}], "extra": 1}, "nothing else"),
    ],
)
def test_the_chat_format_rules_are_enforced(example: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidExample, match=why):
        validate_chat_example(example)
