"""The relay's decision ("should this message be answered, and as what task") as a pure function, its
admission (one task per message id), and the responder's side of a relay task (/ask's quotas, the channel
message) against a real SQLite store and the loopback Discord REST fake; no gateway here
(`test_relay_gateway.py` drives the real discord.py against a fake Gateway)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from docsbot.bot.relay import Ask, Ignore, IncomingMessage, Relay, ThreadInfo, decide, relay_task
from docsbot.bot.respond import RelayQuotas, RespondHandler
from docsbot.bot.tasks import RespondTask
from docsbot.discord.rest import DiscordRest
from docsbot.settings.catalog import CollectionRecord, build_catalog
from docsbot.store.sqlite import SqliteStore
from tests.bot.test_handlers import Bot, bot, respond_to_all, searcher  # noqa: F401 - fixtures used here
from tests.bot.test_threads import FixedAnswers, RecordingDiscord
from tests.harness.bot_client import RecordingQueue
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import APPLICATION_ID, FORUM_ID, GUILD_ID, THREAD_ID, USER_ID

BOT_ID = APPLICATION_ID
MENTIONS_FORUM = "1180000000000000010"
OFF_FORUM = "1180000000000000011"
UNMAPPED = "1180000000000000012"
CATALOG = build_catalog(
    [CollectionRecord("docs", "Redux"), CollectionRecord("ionic", "Ionic"), CollectionRecord("old", "Old", "", False)],
    {FORUM_ID: "docs", MENTIONS_FORUM: "ionic", OFF_FORUM: "docs"},
    {FORUM_ID: "new_threads", MENTIONS_FORUM: "mentions"},
)
THREAD = ThreadInfo(THREAD_ID, FORUM_ID, "Reducer never re-renders", owner_id=USER_ID)
POST = IncomingMessage(
    message_id=THREAD_ID,  # a forum post's starter message has the thread's id
    channel_id=THREAD_ID,
    guild_id=GUILD_ID,
    author_id=USER_ID,
    author_is_bot=False,
    content="I dispatch an action but the component never updates.",
    thread=THREAD,
)
MENTION = replace(
    POST, message_id="1180000000000000099", content=f"<@{BOT_ID}> and with hooks?", mentions=frozenset({BOT_ID})
)


def decision(message: IncomingMessage, *, allowed: frozenset[str] | None = None) -> object:
    return decide(message, bot_user_id=BOT_ID, catalog=CATALOG, allowed_guilds=allowed)


def test_a_new_forum_post_is_asked_with_its_title_and_body() -> None:
    asked = decision(POST)
    assert isinstance(asked, Ask) and asked.why == "new_thread" and asked.collection == "docs"
    assert asked.question == "Reducer never re-renders\n\nI dispatch an action but the component never updates."
    assert asked.thread_id == THREAD_ID and asked.author_id == USER_ID


def test_a_mention_is_a_follow_up_without_the_mention_in_the_question() -> None:
    asked = decision(MENTION)
    assert isinstance(asked, Ask) and asked.why == "mention" and asked.question == "and with hooks?"
    replying = replace(MENTION, content="and with hooks?", mentions=frozenset(), replied_to_author_id=BOT_ID)
    assert isinstance(decision(replying), Ask)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (replace(POST, edited=True), "edit"),
        (replace(POST, author_id=BOT_ID), "own message"),
        (replace(POST, author_is_bot=True), "bot"),
        (replace(POST, guild_id=None), "direct message"),
        (replace(POST, thread=None, channel_id=FORUM_ID), "not in a known thread"),
        (replace(POST, thread=replace(THREAD, parent_id=UNMAPPED)), "channel not mapped or auto-answer off"),
        (replace(POST, thread=replace(THREAD, parent_id=OFF_FORUM)), "channel not mapped or auto-answer off"),
        (replace(POST, thread=replace(THREAD, parent_id=MENTIONS_FORUM)), "not addressed to the bot"),
        (replace(MENTION, mentions=frozenset(), content="thanks all"), "not addressed to the bot"),
        (replace(MENTION, content=f"<@{BOT_ID}>"), "no question"),
    ],
)
def test_what_the_relay_ignores(message: IncomingMessage, reason: str) -> None:
    assert decision(message) == Ignore(reason)


def test_a_server_outside_the_allow_list_is_ignored() -> None:
    assert decision(POST, allowed=frozenset({"42"})) == Ignore("guild not allowed")
    assert isinstance(decision(POST, allowed=frozenset({GUILD_ID})), Ask)


def test_a_post_that_mentions_the_bot_is_answered_where_only_mentions_are() -> None:
    in_mentions_forum = replace(POST, thread=replace(THREAD, parent_id=MENTIONS_FORUM), mentions=frozenset({BOT_ID}))
    asked = decision(in_mentions_forum)
    assert isinstance(asked, Ask) and asked.collection == "ionic"


def test_the_task_is_named_after_the_message_and_replies_to_it() -> None:
    asked = decision(POST)
    assert isinstance(asked, Ask)
    task = relay_task(POST, asked, application_id=APPLICATION_ID, now=1000.0)
    assert task.kind == "relay" and task.task_name() == f"message-{THREAD_ID}" and task.token == ""
    assert task.source_message_id == THREAD_ID and task.thread_id == THREAD_ID and task.channel_id == THREAD_ID
    assert RespondTask.from_json(task.to_json()) == task


# --- admission and the responder's side -----------------------------------------------------------------


def test_the_same_message_delivered_twice_is_queued_once() -> None:
    queue = RecordingQueue()
    relay = Relay(queue, CATALOG, application_id=APPLICATION_ID, allowed_guilds=None, clock=lambda: 1e9)
    assert relay.admit(POST, bot_user_id=BOT_ID) == "queued"
    assert relay.admit(POST, bot_user_id=BOT_ID) == "duplicate"
    assert relay.admit(replace(POST, author_is_bot=True), bot_user_id=BOT_ID) == "ignored: bot"
    assert [t.task_name() for t in queue.tasks] == [f"message-{THREAD_ID}"]


def test_a_relay_task_is_answered_once_in_the_thread_within_the_ask_quota(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    queue = RecordingQueue()
    relay = Relay(queue, CATALOG, application_id=APPLICATION_ID, allowed_guilds=None, clock=lambda: 1e9)
    with FakeDiscordApi() as api:
        rest = DiscordRest(APPLICATION_ID, bot_token=api.bot_token, base_url=api.base_url)
        respond = RespondHandler(
            store, rest, FixedAnswers("Wrap it in connect()."), channels=rest, relay_quotas=RelayQuotas(2, 100),
            clock=lambda: 1e9 + 5, heartbeat_s=None,
        )  # fmt: skip
        for number in range(3):
            relay.admit(replace(MENTION, message_id=f"11800000000000002{number:02d}"), bot_user_id=BOT_ID)
        outcomes = [respond.handle(task.to_json()).outcome for task in queue.tasks]
        assert outcomes == ["answered", "answered", "quota"]
        assert respond.handle(queue.tasks[0].to_json()).outcome == "duplicate"  # a second delivery: nothing more
        posted = api.channel_messages(THREAD_ID)
        assert [m["content"] for m in posted] == ["Wrap it in connect()."] * 2
        assert posted[0]["message_reference"]["message_id"] == "1180000000000000200"
        # The quota is /ask's: the same key, so the person has nothing left for /ask either.
        now = datetime.fromtimestamp(1e9, UTC)
        assert not store.take_quota("user:" + USER_ID, limit=2, window=timedelta(hours=1), now=now).allowed
        # The conversation is the thread's record: question and answer stored, the answer its controller.
        thread = store.get_thread(THREAD_ID)
        assert thread is not None and thread.collection == "docs" and thread.thread_controller_id == posted[0]["id"]
    store.close()


def test_a_relay_task_without_a_bot_token_is_refused_not_retried(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    asked = decision(POST)
    assert isinstance(asked, Ask)
    task = relay_task(POST, asked, application_id=APPLICATION_ID, now=1e9)
    respond = RespondHandler(store, RecordingDiscord(), FixedAnswers("x"), clock=lambda: 1e9, heartbeat_s=None)
    assert respond.handle(task.to_json()).outcome == "bad_task"
    store.close()


# --- with the real answer pipeline: /ask and a mention continue one conversation --------------------------


def test_a_mention_after_ask_continues_its_conversation_with_the_same_rendering(bot: Bot) -> None:  # noqa: F811
    payload, _ = bot.ask()
    respond_to_all(bot)
    thread_id = payload["channel_id"]
    rest = DiscordRest(APPLICATION_ID, bot_token=bot.discord.bot_token, base_url=bot.discord.base_url)
    respond = RespondHandler(bot.store, rest, bot.respond.collections, channels=rest, heartbeat_s=None)
    thread = replace(THREAD, thread_id=thread_id, parent_id=FORUM_ID)
    mention = replace(MENTION, channel_id=thread_id, thread=thread, content=f"<@{BOT_ID}> and how do I fix it?")
    queue = RecordingQueue()
    Relay(queue, CATALOG, application_id=APPLICATION_ID, allowed_guilds=None, clock=time.time).admit(
        mention, bot_user_id=BOT_ID
    )
    (task,) = queue.tasks
    assert respond.handle(task.to_json()).outcome == "answered"
    # The model saw the /ask exchange before the mention: one conversation.
    last_chat = bot.openai.requests_to("/v1/chat/completions")[-1].body["messages"]
    assert [m["role"] for m in last_chat] == ["system", "assistant", "user", "assistant", "user"]
    assert last_chat[-1]["content"].startswith("and how do I fix it?")
    # Rendered as /ask's answer: the text with its citations, the sources, the buttons.
    original = bot.discord.messages[payload["token"]].original
    (answer,) = bot.discord.channel_messages(thread_id)
    assert original is not None and answer["embeds"][0]["description"].startswith("[1] [")
    assert [b["label"] for b in answer["components"][0]["components"]] == ["Solved", "Not solved", "Follow up"]
    assert len(bot.store.list_messages(thread_id)) == 4
