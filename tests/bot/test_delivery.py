"""Delivery under faults (issue 15, items 1-6): nothing lost, nothing posted twice or half without saying so,
nobody's quota spent twice. The real handlers, SQLite state, the real `requests` and `openai` clients against
the loopback Discord and OpenAI fakes; the respond side's clock is injected (no test waits on wall-clock time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest

from docsbot.answer.model import Answer, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.bot.respond import RespondHandler
from docsbot.bot.tasks import RespondTask
from docsbot.discord.rest import DiscordRest
from docsbot.index.search import Searcher
from docsbot.store.model import InteractionState
from tests.bot.test_handlers import Bot, bot, searcher  # noqa: F401 - fixtures

LONG_REPLY = " ".join(f"Sentence {n} of a long answer about reducers and the store [1]." for n in range(150))
LEASE_S = 120.0


class Clock:
    """The respond side's clock: tests move it; nothing sleeps."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Gate:
    """Holds the first model call until released: an attempt stuck in a slow model call."""

    entered: threading.Event
    release: threading.Event
    calls: int = 0


class GatedCollections:
    def __init__(self, the_searcher: Searcher, answerer: Answerer, gate: Gate | None) -> None:
        self.the_searcher, self.the_answerer, self.gate = the_searcher, answerer, gate

    def searcher(self, collection: str) -> Searcher:
        return self.the_searcher

    def answerer(self, collection: str) -> Answerer:
        return cast(Answerer, self)  # a stand-in: only `answer` is called

    def answer(self, question: str, history: list[Turn]) -> Answer:
        gate = self.gate
        if gate is not None:
            gate.calls += 1
            if gate.calls == 1:
                gate.entered.set()
                assert gate.release.wait(timeout=60)
        return self.the_answerer.answer(question, history)


@dataclass
class Rig:
    bot: Bot
    clock: Clock
    gate: Gate

    def respond(self, max_attempts: int = 5) -> RespondHandler:
        collections: Any = self.bot.respond.collections
        answerer = collections.the_answerer
        rest = DiscordRest(self.bot.signer.application_id, base_url=self.bot.discord.base_url, sleep=lambda s: None)
        return RespondHandler(
            self.bot.store,
            rest,
            GatedCollections(collections.the_searcher, answerer, self.gate),
            max_attempts=max_attempts,
            heartbeat_s=None,  # a frozen attempt: no renewal (the fence is what is tested)
            clock=self.clock,
        )

    def ask(self) -> tuple[dict[str, Any], RespondTask]:
        payload, response = self.bot.ask()
        assert response.body == {"type": 5}
        task = self.bot.queue.tasks.pop()
        return payload, task

    def chats(self) -> int:
        return len(self.bot.openai.requests_to("/v1/chat/completions"))


@pytest.fixture
def rig(bot: Bot) -> Iterator[Rig]:  # noqa: F811 - the fixture imported above
    gate = Gate(threading.Event(), threading.Event())
    gate.release.set()  # open unless a test closes it
    yield Rig(bot, Clock(), gate)
    gate.release.set()


def visible(the_bot: Bot, token: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    messages = the_bot.discord.messages[token]
    return messages.original, messages.followups


def test_an_attempt_that_outlives_its_lease_writes_nothing_once_another_took_over(rig: Rig) -> None:
    """Item 1: the first attempt is stuck in the model past its lease; the retry answers; the first wakes up."""
    rig.bot.openai.chat_responder = lambda body: LONG_REPLY
    payload, task = rig.ask()
    rig.gate.release.clear()
    respond = rig.respond()
    first: list[str] = []
    stuck = threading.Thread(target=lambda: first.append(respond.handle(task.to_json()).outcome))
    stuck.start()
    assert rig.gate.entered.wait(timeout=60)
    rig.clock.now += 3 * LEASE_S  # the lease ran out: Cloud Tasks' next delivery takes over
    assert respond.handle(task.to_json()).outcome == "answered"
    _, followups = visible(rig.bot, payload["token"])
    parts = 1 + len(followups)
    assert parts >= 2  # a long answer: part 1 edits @original, the rest are follow-ups
    rig.gate.release.set()
    stuck.join(timeout=60)
    assert first == ["superseded"]
    # One edit of @original, each follow-up once, the answer stored once, done once.
    assert len(rig.bot.discord.requests_to("PATCH", "/webhooks")) == 1
    assert len(rig.bot.discord.requests_to("POST", "/webhooks")) == parts - 1
    stored = rig.bot.store.list_messages(payload["channel_id"])
    assert [m.from_bot for m in stored] == [False, True]
    record = rig.bot.store.get_interaction(payload["id"])
    assert record is not None and record.state is InteractionState.DONE


def test_a_cut_off_reply_is_retried_never_posted_as_complete(rig: Rig) -> None:
    """Item 2: a reply with no finish reason is a transient failure; the retry posts the whole answer."""
    payload, task = rig.ask()
    rig.bot.openai.cut_off_next()
    respond = rig.respond()
    assert respond.handle(task.to_json()).outcome == "retry"
    assert rig.bot.discord.requests_to("PATCH", "/webhooks") == []  # nothing shown, nothing stored
    assert rig.bot.store.list_messages(payload["channel_id"]) == []
    assert respond.handle(task.to_json()).outcome == "answered"
    original, _ = visible(rig.bot, payload["token"])
    assert original is not None and "The documentation covers this [1]." in original["content"]


def test_follow_ups_refused_with_429_resume_where_they_stopped_without_asking_the_model_again(rig: Rig) -> None:
    """Item 3: follow-ups rate limited past the client's retries; the next delivery posts only the rest."""
    rig.bot.openai.chat_responder = lambda body: LONG_REPLY
    payload, task = rig.ask()
    rig.bot.discord.rate_limit_next(retry_after=0.01, times=10, method="POST")
    respond = rig.respond()
    assert respond.handle(task.to_json()).outcome == "retry"
    original, followups = visible(rig.bot, payload["token"])
    assert original is not None and followups == []
    record = rig.bot.store.get_interaction(payload["id"])
    assert record is not None and record.delivered == 1 and record.answer is not None
    rig.bot.discord.clear_scripted()
    rig.clock.now += 30
    assert respond.handle(task.to_json()).outcome == "answered"
    assert rig.chats() == 1  # the computed answer came from the ledger
    original, followups = visible(rig.bot, payload["token"])
    assert len(rig.bot.discord.requests_to("PATCH", "/webhooks")) == 1  # part 1 was not sent again
    assert followups and "components" in followups[-1] and "embeds" in followups[-1]  # buttons and sources
    text = original["content"] + "".join(f["content"] for f in followups) if original else ""
    assert "Sentence 149 of a long answer" in text
    assert [m.from_bot for m in rig.bot.store.list_messages(payload["channel_id"])] == [False, True]


def test_a_discord_outage_of_40_seconds_does_not_lose_the_answer(rig: Rig) -> None:
    """Item 4: every edit answers 500 for 40 s; deliveries on the queue's schedule (0, 30, 90 s) get through."""
    payload, task = rig.ask()
    respond = rig.respond()
    outcomes = []
    start = rig.clock.now
    for at in (0, 30, 90):
        rig.clock.now = start + at
        rig.bot.discord.clear_scripted()
        if at < 40:
            rig.bot.discord.fail_next(500, times=10, method="PATCH")
        outcomes.append(respond.handle(task.to_json()).outcome)
    assert outcomes == ["retry", "retry", "answered"]
    assert rig.chats() == 1  # computed once, delivered when Discord came back
    original, _ = visible(rig.bot, payload["token"])
    assert original is not None and "The documentation covers this [1]." in original["content"]


def test_the_apology_waits_until_the_token_is_about_to_expire(rig: Rig) -> None:
    """Item 4: with a queue that keeps delivering, a long outage is retried until the token's last minutes."""
    _, task = rig.ask()
    respond = rig.respond(max_attempts=100)
    rig.bot.discord.fail_next(500, times=10_000, method="PATCH")
    start = task.created_at
    outcomes = {}

    def apologies() -> int:
        return sum("Sorry" in r.json["content"] for r in rig.bot.discord.requests_to("PATCH", "/webhooks"))

    for at in (0, 30, 90, 210, 330, 450, 570, 690):
        rig.clock.now = start + at
        outcomes[at] = respond.handle(task.to_json()).outcome
    assert set(outcomes.values()) == {"retry"} and apologies() == 0  # 11.5 minutes in, still trying
    rig.clock.now = start + 810  # the next delivery comes when the token has 90 s left: the last chance
    assert respond.handle(task.to_json()).outcome == "failed"
    assert apologies() > 0  # tried to tell the user (Discord is still down here)
    assert rig.chats() == 1


def test_the_chat_failure_message_shows_the_sections_it_promises(rig: Rig) -> None:
    """Item 5: "These documentation sections look most relevant" comes with those sections."""
    payload, task = rig.ask()
    rig.bot.openai.fail_next(500, "down", error_type="server_error", headers={"retry-after-ms": "1"}, times=100)
    # "failed" (was "answered"): the user got the failure message, and it is recorded as a failure (item 3 rest).
    assert rig.respond(max_attempts=1).handle(task.to_json()).outcome == "failed"
    original, followups = visible(rig.bot, payload["token"])
    last = followups[-1] if followups else original
    assert original is not None and last is not None
    assert "look most relevant" in original["content"]
    (embed,) = last["embeds"]
    assert "](<https://" in embed["description"]  # linked sections
    assert not last.get("components")  # no vote buttons under a failure


def test_duplicate_deliveries_of_one_interaction_take_the_quota_once(rig: Rig) -> None:
    """Item 6: 4 questions delivered 5 times each cost 4 of the 5 questions per hour; the 5th is answered."""
    for n in range(4):
        payload = rig.bot.signer.slash_command("ask", {"question": f"question number {n} about reducers"})
        for _ in range(5):
            assert rig.bot.send(payload).body == {"type": 5}
    assert len(rig.bot.queue.tasks) == 4
    payload, response = rig.bot.ask("one more question about the store")
    assert response.body == {"type": 5}  # not refused: the duplicates cost nothing


def _bot_answers(rig: Rig, thread_id: str) -> list[tuple[str, str]]:
    return [(m.outcome, m.content) for m in rig.bot.store.list_messages(thread_id) if m.from_bot]


def test_a_model_down_on_the_last_attempt_is_stored_as_a_failed_answer(rig: Rig) -> None:
    """The learning loop sees the failure: the question and a "failed" answer, no controls, kept out of the
    conversation the model sees next time."""
    payload, task = rig.ask()
    rig.bot.openai.fail_next(500, "down", error_type="server_error", headers={"retry-after-ms": "1"}, times=100)
    assert rig.respond(max_attempts=1).handle(task.to_json()).outcome == "failed"
    thread_id = payload["channel_id"]
    ((outcome, text),) = _bot_answers(rig, thread_id)
    assert outcome == "failed" and "couldn't write an answer" in text
    questions = [m for m in rig.bot.store.list_messages(thread_id) if not m.from_bot]
    assert [m.content for m in questions] == [task.question]
    thread = rig.bot.store.get_thread(thread_id)
    assert thread is not None and thread.thread_controller_id is None  # no buttons to honour
    assert record_state(rig, task) is InteractionState.FAILED
    # The next question of the thread: the model sees the question, never the apology as an answer.
    rig.bot.openai.clear_scripted()
    _, second = rig.ask()
    assert rig.respond().handle(second.to_json()).outcome == "answered"
    prompt = str(rig.bot.openai.requests_to("/v1/chat/completions")[-1].body["messages"])
    assert "couldn't write an answer" not in prompt


def test_an_apology_after_a_discord_outage_is_stored_as_a_failed_answer(rig: Rig) -> None:
    payload, task = rig.ask()
    rig.bot.discord.fail_next(500, times=10_000, method="PATCH")
    assert rig.respond(max_attempts=1).handle(task.to_json()).outcome == "failed"
    ((outcome, text),) = _bot_answers(rig, payload["channel_id"])
    assert outcome == "failed"
    assert text == "The documentation covers this [1]."  # what was computed, though never shown


def test_an_apology_when_the_store_failed_early_is_still_recorded(rig: Rig) -> None:
    """Nothing computed (the thread could not even be loaded): the apology itself is stored as the failure."""
    payload, task = rig.ask()
    broken = rig.respond(max_attempts=1)
    calls = {"n": 0}
    real = rig.bot.store.list_messages

    def flaky(thread_id: str, limit: int = 50) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("store unavailable")
        return real(thread_id, limit)

    broken.store = cast(Any, _Patched(rig.bot.store, list_messages=flaky))
    assert broken.handle(task.to_json()).outcome == "failed"
    ((outcome, text),) = _bot_answers(rig, payload["channel_id"])
    assert outcome == "failed" and text.startswith("Sorry, I couldn't answer this time")


class _Patched:
    """A store with some methods replaced (the rest are the real store's)."""

    def __init__(self, store: Any, **methods: Any) -> None:
        self._store, self._methods = store, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._store, name)


def record_state(rig: Rig, task: RespondTask) -> InteractionState:
    record = rig.bot.store.get_interaction(task.interaction_id)
    assert record is not None
    return record.state
