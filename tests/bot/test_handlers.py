"""The bot's two handlers with real parts: signed requests, SQLite state, the embedded index, the real
`requests` and `openai` clients against loopback Discord and OpenAI servers.

Routing alone (commands, buttons, collection choice, quotas, bad requests) is tested without servers in
`test_routing.py`; what stays here needs the respond side or real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest

from docsbot.answer.chat import OpenAIChat
from docsbot.answer.pipeline import Answerer
from docsbot.answer.prompt import Product
from docsbot.bot.interactions import HttpResponse, InteractionsHandler, Limits
from docsbot.bot.respond import RespondHandler, history_turns
from docsbot.cli.demo import demo_source
from docsbot.discord.rest import DiscordRest
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.catalog import CollectionRecord, build_catalog
from docsbot.store.model import InteractionState
from docsbot.store.sqlite import SqliteStore
from tests.harness.bot_client import RecordingQueue
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import FORUM_ID, OTHER_USER_ID, STAFF_ROLE_ID, USER_ID, TestSigner, snowflake
from tests.harness.fakes.openai_server import FakeOpenAIServer

QUESTION = "my reducer runs but the component never re-renders, what am I doing wrong?"


@dataclass
class Bot:
    signer: TestSigner
    store: SqliteStore
    queue: RecordingQueue
    interactions: InteractionsHandler
    respond: RespondHandler
    discord: FakeDiscordApi
    openai: FakeOpenAIServer

    def send(self, payload: dict[str, Any], **sign: Any) -> HttpResponse:
        body, headers = self.signer.signed(payload, **sign)
        return self.interactions.handle(headers, body)

    def ask(self, question: str = QUESTION, **context: Any) -> tuple[dict[str, Any], HttpResponse]:
        payload = self.signer.slash_command("ask", {"question": question}, **context)
        return payload, self.send(payload)


@dataclass
class OneCollection:
    """Every collection name gets the same searcher and answerer."""

    the_searcher: Searcher
    the_answerer: Answerer

    def searcher(self, collection: str) -> Searcher:
        return self.the_searcher

    def answerer(self, collection: str) -> Answerer:
        return self.the_answerer


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    index = EdgeIndex(tmp_path_factory.mktemp("index"), "docs")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    ingest_folder(index, embedder, sparse, demo_source())
    yield Searcher(index, embedder, sparse)
    index.close()


@pytest.fixture
def bot(tmp_path: Path, searcher: Searcher, fake_openai: FakeOpenAIServer) -> Iterator[Bot]:
    signer = TestSigner()
    store = SqliteStore(tmp_path / "state.sqlite3")
    queue = RecordingQueue()
    with FakeDiscordApi() as discord:
        rest = DiscordRest(signer.application_id, bot_token="fake-bot-token", base_url=discord.base_url)
        client = openai.OpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=1, timeout=5)
        chat = OpenAIChat("gpt-4o-mini", api_key="test-key", base_url=fake_openai.base_url, client=client)

        def search(query: str, limit: int) -> SearchResult:
            return searcher.search(query, limit=limit)

        answerer = Answerer(search, chat, Product("Redux"), collection="docs")
        respond = RespondHandler(store, rest, OneCollection(searcher, answerer), max_attempts=2)
        interactions = InteractionsHandler(
            signer.public_key_hex,
            store,
            queue,
            build_catalog([CollectionRecord("docs", "Redux", "A JavaScript state container.")], {FORUM_ID: "docs"}),
            archiver=rest,
            limits=Limits(
                user_questions_per_hour=5, guild_questions_per_hour=100, staff_roles=frozenset({STAFF_ROLE_ID})
            ),
        )
        yield Bot(signer, store, queue, interactions, respond, discord, fake_openai)
        client.close()
    store.close()


def ephemeral_text(response: HttpResponse) -> str:
    assert response.status == 200 and response.body["type"] == 4
    assert response.body["data"]["flags"] & 64
    return str(response.body["data"]["content"])


# --- interactions: verification and bad input -------------------------------------------------------------


# --- /ask end to end through the handlers --------------------------------------------------------------------


def respond_to_all(bot: Bot) -> list[str]:
    outcomes = [bot.respond.handle(task.to_json()).outcome for task in bot.queue.tasks]
    bot.queue.tasks.clear()
    return outcomes


def test_ask_defers_then_the_answer_replaces_the_thinking_message(bot: Bot) -> None:
    payload, response = bot.ask()
    assert response.body == {"type": 5}  # public, deferred
    (task,) = bot.queue.tasks
    assert task.collection == "docs" and task.question == QUESTION and task.task_name().endswith(payload["id"])
    assert respond_to_all(bot) == ["answered"]
    original = bot.discord.messages[payload["token"]].original
    assert original is not None
    assert "The documentation covers this [1]." in original["content"]
    (sent,) = bot.discord.requests_to("PATCH", "/webhooks")
    assert sent.json["allowed_mentions"] == {"parse": []}
    assert original["embeds"][0]["description"].startswith("[1] [")
    labels = [b["label"] for b in original["components"][0]["components"]]
    assert labels == ["Solved", "Not solved", "Follow up"]
    thread = bot.store.get_thread(payload["channel_id"])
    assert thread is not None and thread.thread_controller_id == original["id"] and thread.author_id == USER_ID
    messages = bot.store.list_messages(payload["channel_id"])
    assert [m.from_bot for m in messages] == [False, True]
    assert messages[1].sources and "[1]" in messages[1].content


def test_a_follow_up_in_the_same_thread_uses_the_history(bot: Bot) -> None:
    bot.ask()
    respond_to_all(bot)
    payload, _ = bot.ask("and how do I fix it?")
    respond_to_all(bot)
    last_chat = bot.openai.requests_to("/v1/chat/completions")[-1].body["messages"]
    assert [m["role"] for m in last_chat] == ["system", "assistant", "user", "assistant", "user"]
    assert last_chat[2]["content"] == QUESTION
    assert last_chat[-1]["content"].startswith("and how do I fix it?")
    assert len(bot.store.list_messages(payload["channel_id"])) == 4


def test_the_follow_up_button_opens_a_modal_whose_answer_continues_the_thread(bot: Bot) -> None:
    payload, _ = bot.ask()
    respond_to_all(bot)
    thread_id = payload["channel_id"]
    modal = bot.send(bot.signer.component(f"followup:{thread_id}", answer_of(bot, thread_id))).body
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"followup:{thread_id}"
    form = bot.signer.modal_submit(f"followup:{thread_id}", {"question": "what about thunks?"})
    form["message"] = {"id": answer_of(bot, thread_id)}  # Discord sends the message whose button opened it
    submitted = bot.send(form)
    assert submitted.body == {"type": 5}
    (task,) = bot.queue.tasks
    assert task.kind == "followup" and task.question == "what about thunks?"
    assert respond_to_all(bot) == ["answered"]
    assert len(bot.store.list_messages(thread_id)) == 4


def test_the_context_menu_answers_the_target_message(bot: Bot) -> None:
    payload = bot.signer.message_command("dispatch throws 'Actions must be plain objects'")
    assert bot.send(payload).body == {"type": 5}
    (task,) = bot.queue.tasks
    assert task.kind == "context_ask" and task.question.startswith("dispatch throws")
    assert respond_to_all(bot) == ["answered"]


def test_search_is_ephemeral_and_needs_no_model(bot: Bot) -> None:
    payload = bot.signer.slash_command("search", {"query": "combineReducers"})
    assert bot.send(payload).body == {"type": 5, "data": {"flags": 64}}
    assert respond_to_all(bot) == ["answered"]
    original = bot.discord.messages[payload["token"]].original
    assert original is not None and "combineReducers" in json.dumps(original)
    assert bot.openai.requests_to("/v1/chat/completions") == []


# --- at-least-once delivery -----------------------------------------------------------------------------------


def test_the_same_task_delivered_twice_and_concurrently_is_answered_once(bot: Bot) -> None:
    payload, _ = bot.ask()
    (task,) = bot.queue.tasks
    body = task.to_json()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(bot.respond.handle(body).outcome)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("answered") == 1 and set(results) <= {"answered", "busy", "duplicate"}
    assert bot.respond.handle(body).outcome == "duplicate"
    bot_messages = [m for m in bot.store.list_messages(payload["channel_id"]) if m.from_bot]
    assert len(bot_messages) == 1
    assert len(bot.discord.requests_to("PATCH", "/webhooks")) == 1


def test_an_attempt_killed_half_way_is_completed_by_the_retry(bot: Bot) -> None:
    bot.ask()
    (task,) = bot.queue.tasks
    # The first attempt claimed the work and died before answering.
    claim = bot.store.claim_interaction(task.interaction_id, now=datetime.now(UTC), lease=timedelta(minutes=3))
    assert claim.result.value == "claimed"
    assert bot.respond.handle(task.to_json()).outcome == "busy"  # its lease still holds
    bot.respond.clock = lambda: time.time() + 200  # the lease has run out
    assert bot.respond.handle(task.to_json()).outcome == "answered"
    assert bot.respond.handle(task.to_json()).outcome == "duplicate"
    record = bot.store.get_interaction(task.interaction_id)
    assert record is not None and record.state is InteractionState.DONE and record.attempts == 2


def test_discord_rate_limits_are_waited_out(bot: Bot) -> None:
    payload, _ = bot.ask()
    bot.discord.rate_limit_next(retry_after=0.05)
    assert respond_to_all(bot) == ["answered"]
    assert bot.discord.messages[payload["token"]].original is not None


def test_when_the_model_fails_every_time_the_user_gets_the_apology(bot: Bot) -> None:
    payload, _ = bot.ask()
    (task,) = bot.queue.tasks
    bot.openai.fail_next(500, "down", error_type="server_error", headers={"retry-after-ms": "1"}, times=100)
    assert bot.respond.handle(task.to_json()).status == 503  # first attempt: Cloud Tasks will retry
    result = bot.respond.handle(task.to_json())  # the last attempt tells the user
    assert (result.status, result.outcome) == (200, "failed")  # told, and recorded as a failure
    original = bot.discord.messages[payload["token"]].original
    assert original is not None and "Sorry, I couldn't write an answer" in original["content"]


# --- votes and housekeeping -----------------------------------------------------------------------------------


def answered_thread(bot: Bot) -> str:
    payload, _ = bot.ask()
    respond_to_all(bot)
    return str(payload["channel_id"])


def answer_of(bot: Bot, thread_id: str) -> str:
    """The bot's answer in `thread_id` (its controller message): the message whose buttons users press."""
    thread = bot.store.get_thread(thread_id)
    assert thread is not None and thread.thread_controller_id is not None
    return thread.thread_controller_id


def test_fifty_concurrent_voters_are_counted_exactly(bot: Bot) -> None:
    thread_id = answered_thread(bot)
    voters = [snowflake() for _ in range(50)]
    answer = answer_of(bot, thread_id)
    payloads = [
        bot.signer.component(f"vote:solved:{thread_id}", answer, user_id=v, channel_id=thread_id) for v in voters
    ]
    signed = [bot.signer.signed(p) for p in payloads]
    responses: list[HttpResponse] = []
    workers = [
        threading.Thread(target=lambda b=b, h=h: responses.append(bot.interactions.handle(h, b))) for b, h in signed
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(r.status == 200 and r.body["type"] == 7 for r in responses)
    thread = bot.store.get_thread(thread_id)
    assert thread is not None and thread.solved_votes == 50 and not thread.solved  # none of them is the author
    again = bot.send(bot.signer.component(f"vote:solved:{thread_id}", answer, user_id=voters[0], channel_id=thread_id))
    switched = bot.send(
        bot.signer.component(f"vote:failed:{thread_id}", answer, user_id=voters[1], channel_id=thread_id)
    )
    labels = [b["label"] for b in switched.body["data"]["components"][0]["components"]]
    assert labels[:2] == ["Solved · 49", "Not solved · 1"]
    assert again.body["data"]["components"][0]["components"][0]["label"] == "Solved · 50"
    bot.send(bot.signer.component(f"vote:solved:{thread_id}", answer, user_id=USER_ID, channel_id=thread_id))
    thread = bot.store.get_thread(thread_id)
    assert thread is not None and thread.solved  # the author's Solved


def test_housekeeping_is_for_the_author_or_staff(bot: Bot) -> None:
    thread_id = answered_thread(bot)
    refused = bot.send(bot.signer.slash_command("solve", user_id=OTHER_USER_ID, channel_id=thread_id))
    assert "Only the person who started this thread" in ephemeral_text(refused)
    assert bot.send(bot.signer.slash_command("solve", channel_id=thread_id)).body["type"] == 4
    thread = bot.store.get_thread(thread_id)
    assert thread is not None and thread.solved
    bot.discord.add_channel(thread_id, type=11, name="t")
    staff = bot.send(
        bot.signer.slash_command("close", user_id=OTHER_USER_ID, roles=[STAFF_ROLE_ID], channel_id=thread_id)
    )
    assert "Thread closed" in ephemeral_text(staff)
    (patch,) = bot.discord.requests_to("PATCH", f"/channels/{thread_id}")
    assert patch.json == {"archived": True}
    status = ephemeral_text(bot.send(bot.signer.slash_command("status", channel_id=thread_id)))
    assert "`docs`" in status and "solved" in status and "closed" in status


# --- conversations, privacy, partial failures ----------------------------------------------------------------


def test_in_a_plain_channel_each_question_is_its_own_conversation(bot: Bot) -> None:
    channel = {"id": "1180000000000000099", "type": 0, "name": "help"}
    first, _ = bot.ask(channel_id=channel["id"], channel=channel)
    second, _ = bot.ask("and with hooks?", channel_id=channel["id"], channel=channel, user_id=OTHER_USER_ID)
    tasks = list(bot.queue.tasks)
    assert [t.thread_id for t in tasks] == [first["id"], second["id"]]
    assert [t.author_id for t in tasks] == [USER_ID, OTHER_USER_ID]
    respond_to_all(bot)
    last_chat = bot.openai.requests_to("/v1/chat/completions")[-1].body["messages"]
    assert [m["role"] for m in last_chat] == ["system", "assistant", "user"]  # no one else's history
    refused = bot.send(bot.signer.slash_command("close", channel_id=channel["id"], channel=channel))
    assert "threads (forum posts) only" in ephemeral_text(refused)


def test_ask_the_docs_in_a_thread_belongs_to_the_threads_owner(bot: Bot) -> None:
    owner = "1180000000000000077"
    payload = bot.signer.message_command("x" * 3000, user_id=OTHER_USER_ID, thread_owner_id=owner)
    assert bot.send(payload).body == {"type": 5}  # a long post is cut, not refused
    (task,) = bot.queue.tasks
    assert task.author_id == owner and len(task.question) == 1500
    respond_to_all(bot)
    thread = bot.store.get_thread(payload["channel_id"])
    assert thread is not None and thread.author_id == owner


def test_a_private_answer_stays_private_and_out_of_the_thread(bot: Bot) -> None:
    bot.openai.chat_responder = lambda body: ("A long paragraph about reducers [1]. " * 40 + "\n\n") * 4
    payload = bot.signer.slash_command("ask", {"question": QUESTION, "private": True})
    bot.send(payload)
    assert respond_to_all(bot) == ["answered"]
    posted = bot.discord.messages[payload["token"]]
    assert posted.followups  # the answer needed several messages
    followup_requests = bot.discord.requests_to("POST", "/webhooks")
    assert followup_requests and all(r.json["flags"] & 64 for r in followup_requests)
    assert bot.store.list_messages(payload["channel_id"]) == []


def test_a_failure_after_the_answer_was_posted_never_overwrites_it(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.ask()
    (task,) = bot.queue.tasks

    def broken(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("the store went away")

    monkeypatch.setattr(bot.store, "add_message", broken)
    result = bot.respond.handle(task.to_json())
    assert (result.status, result.outcome) == (200, "answered")
    patches = bot.discord.requests_to("PATCH", "/webhooks")
    assert len(patches) == 1 and "Sorry" not in patches[0].json["content"]


def test_the_last_delivery_apologises_without_buttons_and_stores_only_the_failure(bot: Bot) -> None:
    payload, _ = bot.ask()
    (task,) = bot.queue.tasks
    bot.openai.fail_next(500, "down", error_type="server_error", headers={"retry-after-ms": "1"}, times=100)
    # Earlier deliveries found the work busy; Cloud Tasks' retry count says this one is the last.
    result = bot.respond.handle(task.to_json(), {"X-CloudTasks-TaskRetryCount": "4"})
    assert result.status == 200
    original = bot.discord.messages[payload["token"]].original
    assert original is not None and "Sorry" in original["content"] and not original.get("components")
    # Stored for the learning loop as "failed", never as an answer: no controls, nothing the model sees later.
    messages = bot.store.list_messages(payload["channel_id"])
    assert [(m.from_bot, m.outcome) for m in messages] == [(False, ""), (True, "failed")]
    thread = bot.store.get_thread(payload["channel_id"])
    assert thread is not None and thread.thread_controller_id is None
    assert [t.role for t in history_turns(messages)] == ["user"]


def test_the_follow_up_modal_continues_the_conversation_of_its_button(bot: Bot) -> None:
    channel = {"id": "1180000000000000098", "type": 0, "name": "help"}
    first, _ = bot.ask(channel_id=channel["id"], channel=channel)
    respond_to_all(bot)
    submitted = bot.signer.modal_submit(
        f"followup:{first['id']}", {"question": "and then?"}, channel_id=channel["id"], channel=channel
    )
    submitted["message"] = {"id": answer_of(bot, first["id"])}
    assert bot.send(submitted).body == {"type": 5}
    (task,) = bot.queue.tasks
    assert task.thread_id == first["id"] and task.author_id == USER_ID
    respond_to_all(bot)
    assert len(bot.store.list_messages(first["id"])) == 4
