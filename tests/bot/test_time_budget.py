"""Each respond attempt has a time budget (issue 15, item 1's rest): the model call's timeout and retries shrink
to the time left, so an attempt always ends, handing the work back, before the function's timeout and the
queue's dispatch deadline. Clocks and sleeps are injected: time moves because the test moves it."""

from __future__ import annotations

import threading
from typing import Any

import openai
import pytest

from docsbot.answer.chat import ChatError, ChatMessage, OpenAIChat
from docsbot.answer.deadline import Deadline, current, within
from docsbot.bot.respond import DELIVERY_RESERVE_S, RespondHandler
from docsbot.discord.rest import DiscordRest
from docsbot.errors import TransientError
from docsbot.store.model import InteractionState
from tests.bot.test_delivery import Clock, Rig, rig  # noqa: F401 - fixtures
from tests.bot.test_handlers import bot, searcher  # noqa: F401 - fixtures
from tests.harness.fakes.openai_server import FakeOpenAIServer

CHAT = "/v1/chat/completions"
MESSAGES = [ChatMessage("user", "how do reducers work?")]


class SimTime:
    """An injected clock whose sleeps move it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_chat(server: FakeOpenAIServer, *, timeout: float = 60.0, max_retries: int = 5) -> OpenAIChat:
    client = openai.OpenAI(base_url=server.base_url, api_key="test-key", timeout=timeout, max_retries=max_retries)
    return OpenAIChat("gpt-4o-mini", api_key="test-key", base_url=server.base_url, client=client)


def read_timeouts(server: FakeOpenAIServer) -> list[float]:
    """The timeout each chat request was sent with (the openai client says it in a header)."""
    return [float(r.headers["x-stainless-read-timeout"]) for r in server.requests_to(CHAT)]


def test_with_less_than_a_try_left_the_model_is_not_called(fake_openai: FakeOpenAIServer) -> None:
    time = SimTime()
    with within(Deadline(time.now + 0.5, time.clock, time.sleep)), pytest.raises(ChatError) as caught:
        make_chat(fake_openai).complete(MESSAGES, max_tokens=100)
    assert caught.value.kind == "timeout" and isinstance(caught.value, TransientError)
    assert fake_openai.requests_to(CHAT) == []


def test_retries_and_timeouts_shrink_to_the_time_left(fake_openai: FakeOpenAIServer) -> None:
    """Six tries of 60 s configured; 2.5 s left and Retry-After 1 s: two tries, each within what was left."""
    fake_openai.fail_next(500, headers={"retry-after-ms": "1000"}, times=100)
    time = SimTime()
    deadline = Deadline(time.now + 2.5, time.clock, time.sleep)
    with within(deadline), pytest.raises(ChatError):
        make_chat(fake_openai, timeout=60.0, max_retries=5).complete(MESSAGES, max_tokens=100)
    assert len(fake_openai.requests_to(CHAT)) == 2
    assert time.slept == [1.0]  # the server's Retry-After, once; the next wait would not leave a try's time
    assert read_timeouts(fake_openai) == [2.5, 1.5]  # each try's timeout: the time left when it started
    assert deadline.remaining() > 0  # ended before the deadline


def test_without_a_deadline_the_configured_timeout_and_retries_apply(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail_next(500, headers={"retry-after-ms": "1"}, times=2)
    assert make_chat(fake_openai, timeout=7.0, max_retries=2).complete(MESSAGES, max_tokens=100).text
    assert read_timeouts(fake_openai) == [7.0, 7.0, 7.0]
    assert current() is None


def test_the_deadline_belongs_to_its_thread() -> None:
    seen: list[Deadline | None] = []
    with within(Deadline(5.0)):
        other = threading.Thread(target=lambda: seen.append(current()))
        other.start()
        other.join()
        assert current() == Deadline(5.0)
    assert seen == [None] and current() is None


def test_an_attempt_whose_model_stalls_hands_the_work_back_within_its_budget(rig: Rig) -> None:  # noqa: F811
    """The model never answers: the attempt gives up when its budget is spent, releases its claim (the next
    delivery takes over at once) and says "retry", instead of running until the queue gives up on it."""
    release = threading.Event()
    time = SimTime()
    budget_s = 1.5  # for the model: the test's real wait (the client's timeout firing) stays short

    def stalls(body: dict[str, Any]) -> str:
        time.now = started + budget_s  # the stall lasts as long as the client waits: the simulated time passes
        release.wait(timeout=60)
        return "too late"

    rig.bot.openai.chat_responder = stalls
    _, task = rig.ask()
    rest = DiscordRest(rig.bot.signer.application_id, base_url=rig.bot.discord.base_url, sleep=lambda s: None)
    collections: Any = rig.bot.respond.collections
    respond = RespondHandler(
        rig.bot.store,
        rest,
        collections,
        max_attempts=9,
        attempt_s=DELIVERY_RESERVE_S + budget_s,
        clock=time.clock,
        sleep=time.sleep,
    )
    time.now = started = task.created_at
    try:
        result = respond.handle(task.to_json())
    finally:
        release.set()
    assert (result.status, result.outcome) == (503, "retry")
    record = rig.bot.store.get_interaction(task.interaction_id)
    assert record is not None and record.state is InteractionState.QUEUED  # handed back, not left leased
    assert read_timeouts(rig.bot.openai) == [budget_s]  # one try, given exactly the budget; none after it
    assert time.now - started <= budget_s  # nothing waited past it


def test_the_budget_is_the_lease_when_nothing_renews_it(rig: Rig) -> None:  # noqa: F811
    collections: Any = rig.bot.respond.collections
    rest = DiscordRest(rig.bot.signer.application_id, base_url=rig.bot.discord.base_url)
    clock = Clock()
    frozen = RespondHandler(rig.bot.store, rest, collections, heartbeat_s=None, attempt_s=600, clock=clock)
    renewed = RespondHandler(rig.bot.store, rest, collections, heartbeat_s=30, attempt_s=600, clock=clock)
    assert frozen._model_deadline().remaining() == 120 - DELIVERY_RESERVE_S  # the 2-minute lease
    assert renewed._model_deadline().remaining() == 600 - DELIVERY_RESERVE_S
