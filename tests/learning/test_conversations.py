"""Whole-conversation capture: finished threads read from the loopback Discord (real `requests` client, Discord's
wire format) and stored scrubbed in the store, idempotently; 403/404 recorded, bounds honoured, 429 waited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from docsbot.discord.rest import DiscordRest, DiscordUnavailableError
from docsbot.learning.conversations import Bounds, capture_conversations, fetch_messages
from docsbot.learning.pii import Scrubber
from docsbot.store.model import MessageRecord, NewThread, Solution, SourceRef, ThreadUpdate
from docsbot.store.sqlite import SqliteStore
from tests.harness.discord_rest import discord_message, rest_client
from tests.harness.fakes.discord_api import FakeDiscordApi

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
THREAD = "1190000000000000001"
ASKER = "1180000000000000005"
HELPER = "1180000000000000077"
REF = SourceRef("Store setup", ("Store setup",), "https://docs.example/store", "setup")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "docsbot.sqlite3")
    yield opened
    opened.close()


def solved_thread(store: SqliteStore, api: FakeDiscordApi, thread_id: str = THREAD) -> None:
    """A thread where the bot answered, a helper replied with the fix, and the asker marked that reply."""
    bot = api.application_id
    store.ensure_thread(NewThread(thread_id, "docs", ASKER, guild_id="1", channel_id="2", title="store?"), NOW)
    store.add_message(MessageRecord("1200000000000000001", thread_id, ASKER, "How do I set up the store?", False,
                                    NOW, asked_bot=True))  # fmt: skip
    store.add_message(MessageRecord("1200000000000000003", thread_id, bot, "Full answer: see Store setup [1].",
                                    True, NOW, sources=(REF,), outcome="answered"))  # fmt: skip
    store.mark_solution(
        thread_id,
        Solution(
            "1200000000000000005", HELPER, "use configureStore", "https://discord.com/channels/1/2/3", False, ASKER, NOW
        ),
        NOW,
    )
    api.add_history(
        thread_id,
        [
            discord_message(1200000000000000001, ASKER, "How do I set up the store? mail me at jane.doe@example.com"),
            discord_message(1200000000000000002, bot, "", kind=20, embeds=[{"description": "part one"}]),
            discord_message(1200000000000000003, bot, "", kind=20, embeds=[{"description": "part two"}]),
            discord_message(1200000000000000004, HELPER, "", kind=7),  # a join: no content
            discord_message(
                1200000000000000005, HELPER, f"<@{ASKER}> use configureStore, my key sk-abcdefghijklmnopqrstuv"
            ),
            discord_message(1200000000000000006, ASKER, "thanks, works from 10.0.0.12 too"),
        ],
    )


def capture(store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi, *, now: datetime = NOW, **kw: Any) -> Any:
    return capture_conversations(store, rest, "docs", since=None, now=now, bot_id=api.application_id,
                                 scrubber=Scrubber(b"test"), **kw)  # fmt: skip


def test_a_solved_thread_is_stored_with_roles_sources_solution_and_no_personal_data(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi
) -> None:
    solved_thread(store, api)
    stats = capture(store, rest, api)
    assert stats.counts["stored"] == 1
    conversation = store.get_conversation(THREAD)
    assert conversation is not None and conversation.status == "complete"
    assert conversation.outcome == "solved_by_person" and conversation.collection == "docs"
    roles = [(m.role, m.solution) for m in conversation.messages]
    # The join is left out; the first part of the bot's two-part answer is folded into the stored whole answer.
    assert roles == [("question", False), ("bot_answer", False), ("human_reply", True), ("question", False)]
    answer = conversation.messages[1]
    assert answer.content == "Full answer: see Store setup [1]." and answer.sources == (REF,)
    assert answer.outcome == "answered" and answer.author == "docsbot"
    text = repr(conversation)
    for planted in ("jane.doe@example.com", "sk-abcdefghijklmnopqrstuv", "10.0.0.12", ASKER, HELPER):
        assert planted not in text, planted
    assert conversation.messages[0].author == conversation.messages[3].author != conversation.messages[2].author


def test_people_s_messages_without_text_say_the_message_content_intent_is_off(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi, caplog: pytest.LogCaptureFixture
) -> None:
    solved_thread(store, api)
    # What Discord sends a bot without the intent: people's messages with empty text.
    blanked = [{**m, "content": ""} if m["author"]["id"] != api.application_id else m for m in api.history(THREAD)]
    api.replace_history(THREAD, blanked)
    with caplog.at_level("WARNING", logger="docsbot"):
        stats = capture(store, rest, api)
    assert stats.counts["no_text"] == 1 and "1 no text" in stats.summary()
    assert any("Message Content intent" in r.getMessage() for r in caplog.records)


def test_a_thread_with_text_raises_no_intent_warning(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi, caplog: pytest.LogCaptureFixture
) -> None:
    solved_thread(store, api)
    with caplog.at_level("WARNING", logger="docsbot"):
        assert capture(store, rest, api).counts["no_text"] == 0
    assert not any("Message Content intent" in r.getMessage() for r in caplog.records)


def test_a_second_run_reads_nothing_until_the_thread_changes(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi
) -> None:
    solved_thread(store, api)
    capture(store, rest, api)
    reads = len(api.requests_to("GET"))
    assert capture(store, rest, api, now=NOW + timedelta(hours=1)).counts["up_to_date"] == 1
    assert len(api.requests_to("GET")) == reads
    store.update_thread(THREAD, ThreadUpdate(open=False), NOW + timedelta(hours=2))  # closed later
    stats = capture(store, rest, api, now=NOW + timedelta(hours=3))
    assert stats.counts["unchanged"] == 1 and len(api.requests_to("GET")) == reads + 1


def test_open_threads_and_simulated_ones_are_not_read(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi
) -> None:
    store.ensure_thread(NewThread("1190000000000000009", "docs", ASKER), NOW)  # still open, no verdict
    store.ensure_thread(NewThread("sim-q1", "docs", ASKER), NOW)
    store.update_thread("sim-q1", ThreadUpdate(solved=True), NOW)
    stats = capture(store, rest, api)
    assert stats.counts["not_discord"] == 1 and api.requests_to("GET") == []


def test_a_forbidden_or_deleted_thread_is_recorded_and_the_run_goes_on(
    store: SqliteStore, rest: DiscordRest, api: FakeDiscordApi
) -> None:
    solved_thread(store, api, "1190000000000000002")
    store.ensure_thread(NewThread("1190000000000000003", "docs", ASKER), NOW)
    store.update_thread("1190000000000000003", ThreadUpdate(open=False), NOW)  # gone from Discord: 404
    solved_thread(store, api)
    api.forbid_channel("1190000000000000002")
    stats = capture(store, rest, api)
    assert (stats.counts["forbidden"], stats.counts["not_found"], stats.counts["stored"]) == (1, 1, 3)
    forbidden = store.get_conversation("1190000000000000002")
    assert forbidden is not None and forbidden.status == "forbidden" and forbidden.messages == ()
    captured = store.get_conversation(THREAD)
    assert captured is not None and captured.status == "complete"


def test_long_threads_are_paged_and_bounded_keeping_the_latest(api: FakeDiscordApi, rest: DiscordRest) -> None:
    api.add_history(THREAD, [discord_message(1200000000000000000 + n, ASKER, f"m{n}") for n in range(250)])
    whole = fetch_messages(rest, THREAD)
    assert whole.status == "complete" and [m["content"] for m in whole.messages] == [f"m{n}" for n in range(250)]
    assert [r.query.get("before") is not None for r in api.requests_to("GET")] == [False, True, True]
    by_pages = fetch_messages(rest, THREAD, Bounds(pages=2))
    assert by_pages.status == "truncated" and by_pages.messages[-1]["content"] == "m249"
    assert len(by_pages.messages) == 200
    by_count = fetch_messages(rest, THREAD, Bounds(messages=30))
    assert by_count.status == "truncated" and by_count.messages[0]["content"] == "m220"
    by_bytes = fetch_messages(rest, THREAD, Bounds(bytes=40))
    assert by_bytes.status == "truncated" and len(by_bytes.messages) == 10  # "m240".."m249": 4 bytes each


def test_a_rate_limit_is_waited_and_one_past_the_bound_stops_the_run(
    store: SqliteStore, api: FakeDiscordApi, sleeps: list[float]
) -> None:
    solved_thread(store, api)
    rest = rest_client(api, sleeps, max_retry_after=5)
    api.rate_limit_next(retry_after=0.5, method="GET")
    assert capture(store, rest, api).counts["stored"] == 1 and sleeps == [0.5]
    store.update_thread(THREAD, ThreadUpdate(open=False), NOW + timedelta(hours=1))
    api.rate_limit_next(retry_after=120, method="GET")
    with pytest.raises(DiscordUnavailableError):
        capture(store, rest, api, now=NOW + timedelta(hours=2))
    rest.session.close()
