"""The relay end to end on 127.0.0.1: the real discord.py client against a fake Gateway (HELLO, IDENTIFY,
READY, heartbeats, dispatches, RECONNECT, RESUME) and the loopback Discord REST fake; the relay's tasks run
through the in-process queue into the real respond handler on a SQLite store, which posts the answers into
the thread with the bot token. Nothing waits on wall-clock time: every step waits on an event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket

from docsbot.answer.model import Answer, AnswerKind
from docsbot.bot.gateway import BackgroundClient, RelayClient, configure_endpoints
from docsbot.bot.queue import InProcessQueue
from docsbot.bot.relay import Relay
from docsbot.bot.respond import RelayQuotas, RespondHandler
from docsbot.discord.rest import DiscordRest
from docsbot.settings.catalog import CollectionRecord, build_catalog
from docsbot.store.sqlite import SqliteStore
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import APPLICATION_ID, FORUM_ID, GUILD_ID, OTHER_USER_ID, USER_ID, snowflake
from tests.harness.fakes.gateway import FakeGateway, forum_guild

UNMAPPED_FORUM = "1180000000000000020"
RELAY_INTENTS = (1 << 0) | (1 << 9) | (1 << 15)  # guilds, guild messages, message content


@dataclass
class HistoryEcho:
    """Answers with the question and the conversation it was given, so a test can see the history arrive."""

    seen: list[tuple[str, list[str]]] = field(default_factory=list)

    def searcher(self, collection: str) -> Any:
        raise AssertionError("questions are answered, not searched")

    def answerer(self, collection: str) -> Any:
        return self

    def answer(self, question: str, history: Any) -> Answer:
        self.seen.append((question, [turn.content for turn in history]))
        return Answer(AnswerKind.GENERATED, f"Answer #{len(self.seen)} to: {question}", collection="docs")


class Outcomes:
    """What the relay made of each message, waited on by message id."""

    def __init__(self) -> None:
        self.by_message: dict[str, list[str]] = {}
        self._changed = threading.Condition()

    def __call__(self, message_id: str, outcome: str) -> None:
        with self._changed:
            self.by_message.setdefault(message_id, []).append(outcome)
            self._changed.notify_all()

    def wait(self, message_id: str, count: int = 1) -> list[str]:
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.by_message.get(message_id, [])) >= count, timeout=30)
        assert done, f"the relay never handled {message_id}: {self.by_message}"
        return self.by_message[message_id]


@dataclass
class World:
    api: FakeDiscordApi
    gateway: FakeGateway
    store: SqliteStore
    queue: InProcessQueue
    outcomes: Outcomes
    answers: HistoryEcho

    def post(self, title: str, text: str, *, forum: str = FORUM_ID, wait: bool = True) -> str:
        """A new forum post: THREAD_CREATE, then its starter message (whose id is the thread's); with `wait`,
        returns once the relay has handled the message."""
        thread_id = snowflake()
        self.gateway.dispatch("THREAD_CREATE", thread_payload(thread_id, forum, title, USER_ID))
        self.gateway.dispatch("MESSAGE_CREATE", message_payload(thread_id, thread_id, text))
        if wait:
            self.outcomes.wait(thread_id)
        return thread_id

    def answered(self, thread_id: str, count: int = 1) -> list[dict[str, Any]]:
        assert self.queue.drain(timeout=30)
        posted = self.api.channel_messages(thread_id)
        assert len(posted) == count, posted
        return posted


def thread_payload(thread_id: str, forum: str, title: str, owner: str) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat()
    return {"id": thread_id, "type": 11, "guild_id": GUILD_ID, "parent_id": forum, "name": title,
            "owner_id": owner, "newly_created": True, "message_count": 0, "member_count": 1, "flags": 0,
            "thread_metadata": {"archived": False, "locked": False, "auto_archive_duration": 4320,
                                "archive_timestamp": stamp}}  # fmt: skip


def message_payload(
    message_id: str, channel_id: str, content: str, *, author: str = USER_ID, bot: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"id": message_id, "channel_id": channel_id, "guild_id": GUILD_ID, "type": 0, "content": content,
            "author": {"id": author, "username": "someone", "discriminator": "0", "avatar": None, "bot": bot},
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False},
            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, **extra}  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    store = SqliteStore(tmp_path / "state.sqlite3")
    answers, outcomes = HistoryEcho(), Outcomes()
    with FakeDiscordApi() as api:
        gateway = FakeGateway(forum_guild([FORUM_ID, UNMAPPED_FORUM]), bot_user=api.bot_user(), token=api.bot_token)
        with gateway:
            rest = DiscordRest(APPLICATION_ID, bot_token=api.bot_token, base_url=api.base_url)
            quotas = RelayQuotas(user_per_hour=50, guild_per_hour=500)
            respond = RespondHandler(store, rest, answers, channels=rest, relay_quotas=quotas, heartbeat_s=None)
            queue = InProcessQueue(lambda body, headers: respond.handle(body, headers).status, retries=0)
            catalog = build_catalog([CollectionRecord("docs", "Redux")], {FORUM_ID: "docs"}, {FORUM_ID: "new_threads"})
            relay = Relay(queue, catalog, application_id=APPLICATION_ID, allowed_guilds=None, clock=time.time)
            configure_endpoints(api.base_url, gateway.url)
            client = RelayClient(relay, on_outcome=outcomes)
            running = BackgroundClient(client, api.bot_token).start()
            try:
                gateway.wait_until(lambda log: log.identifies and log.heartbeats >= 1)
                yield World(api, gateway, store, queue, outcomes, answers)
            finally:
                running.stop()
                queue.close()
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
    store.close()


def test_the_client_identifies_with_only_the_intents_it_needs(world: World) -> None:
    (identify,) = world.gateway.log.identifies
    assert identify["intents"] == RELAY_INTENTS
    assert world.gateway.log.heartbeats >= 1  # the library's heartbeat, acknowledged
    before = world.gateway.log.heartbeats
    world.gateway.request_heartbeat()  # Discord may ask for one at any time: the library answers at once
    world.gateway.wait_until(lambda log: log.heartbeats > before)


def test_a_new_forum_post_is_answered_in_its_thread(world: World) -> None:
    thread_id = world.post("Store never updates", "I dispatch an action but the component never re-renders.")
    assert world.outcomes.wait(thread_id) == ["queued"]
    (answer,) = world.answered(thread_id)
    assert answer["content"].startswith("Answer #1 to: Store never updates")
    # A reply to the post, never pinging anyone, with the answer's buttons.
    assert answer["message_reference"] == {"message_id": thread_id, "fail_if_not_exists": False}
    route = f"POST /channels/{thread_id}/messages"
    assert world.api.allowed_mentions_log == [(route, {"parse": [], "replied_user": False})]
    assert answer["components"]
    assert world.api.typing == [thread_id]  # "thinking…" first
    assert world.api.unguarded_messages() == []


def test_a_mention_in_that_thread_is_answered_with_the_conversation(world: World) -> None:
    thread_id = world.post("Store never updates", "My component never re-renders.")
    world.answered(thread_id)
    follow = snowflake()
    mention = message_payload(follow, thread_id, f"<@{APPLICATION_ID}> and with hooks?", author=OTHER_USER_ID,
                              mentions=[world.api.bot_user()])  # fmt: skip
    world.gateway.dispatch("MESSAGE_CREATE", mention)
    assert world.outcomes.wait(follow) == ["queued"]
    first, second = world.answered(thread_id, count=2)
    assert second["message_reference"]["message_id"] == follow
    question, history = world.answers.seen[-1]
    assert question == "and with hooks?"
    assert history == ["Store never updates\n\nMy component never re-renders.", first["content"]]


def test_bots_unmapped_channels_and_edits_are_ignored(world: World) -> None:
    bots = world.post("Asked by a person", "but only a bot answers", forum=UNMAPPED_FORUM)
    by_bot = snowflake()
    world.gateway.dispatch("MESSAGE_CREATE", message_payload(by_bot, bots, f"<@{APPLICATION_ID}> hi", bot=True))
    elsewhere = world.post("Off topic", "anyone around?", forum=UNMAPPED_FORUM)
    answered = world.post("Store never updates", "My component never re-renders.")
    world.answered(answered)
    edit = message_payload(answered, answered, f"<@{APPLICATION_ID}> edited", edited_timestamp="2026-01-01T00:00:00Z")
    world.gateway.dispatch("MESSAGE_UPDATE", edit)
    last = world.post("Marker", "the last event")  # events are handled in order: once it is done, so are the rest
    world.answered(last)
    assert world.outcomes.by_message[elsewhere] == ["ignored: channel not mapped or auto-answer off"]
    assert world.outcomes.by_message[by_bot] == ["ignored: bot"]
    assert world.outcomes.by_message[answered] == ["queued"]  # the edit never reached the relay
    assert world.api.channel_messages(bots) == [] and world.api.channel_messages(elsewhere) == []
    assert len(world.api.channel_messages(answered)) == 1  # the edit was not answered


def test_the_bots_own_message_is_ignored(world: World) -> None:
    thread_id = world.post("Store never updates", "My component never re-renders.")
    (answer,) = world.answered(thread_id)
    own = message_payload(answer["id"], thread_id, answer["content"], author=APPLICATION_ID, bot=True)
    world.gateway.dispatch("MESSAGE_CREATE", own)
    assert world.outcomes.wait(answer["id"]) == ["ignored: own message"]


def test_a_message_delivered_again_after_a_resume_is_answered_once(world: World) -> None:
    thread_id = world.post("Store never updates", "My component never re-renders.")
    world.outcomes.wait(thread_id)
    world.gateway.replay_overlap = 1  # the RESUME replays the last dispatch: the starter message, again
    world.gateway.reconnect()
    world.gateway.wait_until(lambda log: len(log.resumes) == 1)
    assert world.outcomes.wait(thread_id, count=2) == ["queued", "duplicate"]
    world.answered(thread_id, count=1)
    assert len(world.gateway.log.identifies) == 1  # resumed, not a new session


def test_a_dropped_connection_reconnects_and_loses_nothing(world: World) -> None:
    world.gateway.drop()
    # Posted while the relay is away: Discord keeps the session's events and replays them on RESUME.
    thread_id = world.post("Asked while offline", "Does the relay miss this?", wait=False)
    world.gateway.wait_until(lambda log: len(log.resumes) == 1)
    assert world.outcomes.wait(thread_id) == ["queued"]
    (answer,) = world.answered(thread_id)
    assert "Asked while offline" in answer["content"]
    assert world.gateway.log.resumes[0]["session_id"] == "fake-session-0001"
