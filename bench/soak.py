"""Fault soak: 1,000 questions through the real interactions and respond handlers with faults injected.

`python -m bench soak` (or `scripts/bench.sh soak`). Each question is a signed `/ask` through the real
interactions handler (SQLite state), then delivered to the real respond handler on Cloud Tasks' schedule
(the Terraform defaults: 9 attempts, 30 s doubling to 120 s) on a simulated clock, against the loopback
Discord and OpenAI fakes driven by the real `requests` and `openai` clients. One fault per question, at
random (seeded): Discord 429 on follow-ups, a 40 s Discord outage (500 on every edit), model 500 / timeout /
cut-off reply, duplicate interaction deliveries, a late task delivery after the answer, and an attempt that
outlives its lease (stuck in the model while the retry answers). Then, per question, from what the fake
Discord shows: lost (never told anything), posted twice, posted in part without saying so, told within the
token's 15 minutes. Bounded: stops after SOAK_BUDGET_S seconds of wall time, saying how far it got.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import openai
from rich.table import Table

from bench.knowledge_base import console
from docsbot.answer.chat import OpenAIChat
from docsbot.answer.model import Answer, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.answer.prompt import Product
from docsbot.bot.delivery import INCOMPLETE_NOTE, Plan
from docsbot.bot.interactions import InteractionsHandler, Limits
from docsbot.bot.respond import RespondHandler
from docsbot.cli.demo import demo_source
from docsbot.discord.rest import DiscordRest
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.catalog import CollectionRecord, build_catalog
from docsbot.store.sqlite import SqliteStore
from tests.harness.bot_client import RecordingQueue
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import FORUM_ID, TestSigner
from tests.harness.fakes.openai_server import FakeOpenAIServer

QUESTIONS = int(os.environ.get("SOAK_QUESTIONS", "1000"))
SOAK_BUDGET_S = 900.0
SCHEDULE_S = (0, 30, 90, 210, 330, 450, 570, 690, 810)  # Cloud Tasks, Terraform defaults: first try, 8 retries
TOKEN_S = 15 * 60
LEASE_S = 120
FAULTS = (
    "none",
    "discord_429_followups",
    "discord_outage_40s",
    "model_500",
    "model_timeout",
    "model_cut_off",
    "duplicate_interaction",
    "late_task_delivery",
    "attempt_outlives_lease",
)
LONG_REPLY = " ".join(f"Sentence {n} of a long answer about reducers and the store [1]." for n in range(120))


class SimClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Gated:
    """The collections service, with an optional gate holding one model call (a stuck attempt)."""

    def __init__(self, searcher: Searcher, answerer: Answerer) -> None:
        self.the_searcher, self.the_answerer = searcher, answerer
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def searcher(self, collection: str) -> Searcher:
        return self.the_searcher

    def answerer(self, collection: str) -> Answerer:
        return cast(Answerer, self)  # a stand-in: only `answer` is called

    def answer(self, question: str, history: list[Turn]) -> Answer:
        hold, self.hold = self.hold, None
        if hold is not None:
            self.entered.set()
            hold.wait(timeout=60)
        return self.the_answerer.answer(question, history)


def run_soak() -> None:
    logging.getLogger("docsbot").setLevel(logging.ERROR)  # a thousand expected retries would bury the table
    rng = random.Random(15)
    clock = SimClock()
    counts: Counter[str] = Counter()
    results: dict[str, Counter[str]] = {fault: Counter() for fault in FAULTS}
    with tempfile.TemporaryDirectory() as tmp, FakeDiscordApi() as discord, FakeOpenAIServer() as fake_openai:
        index = EdgeIndex(Path(tmp) / "index", "docs")
        embedder, sparse = HashingEmbedder(), Bm25Encoder()
        ingest_folder(index, embedder, sparse, demo_source())
        searcher = Searcher(index, embedder, sparse)
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        signer = TestSigner()
        queue = RecordingQueue()
        client = openai.OpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=1, timeout=0.5)
        chat = OpenAIChat("gpt-4o-mini", api_key="test-key", base_url=fake_openai.base_url, client=client)

        def search(query: str, limit: int) -> SearchResult:
            return searcher.search(query, limit=limit)

        collections = Gated(searcher, Answerer(search, chat, Product("Redux"), collection="docs"))
        rest = DiscordRest(signer.application_id, base_url=discord.base_url, sleep=lambda s: None)
        respond = RespondHandler(store, rest, collections, max_attempts=len(SCHEDULE_S), heartbeat_s=None, clock=clock)
        interactions = InteractionsHandler(
            signer.public_key_hex,
            store,
            queue,
            build_catalog([CollectionRecord("docs", "Redux", "A JavaScript state container.")], {FORUM_ID: "docs"}),
            limits=Limits(user_questions_per_hour=10**6, guild_questions_per_hour=10**6),
            clock=clock,
        )
        started = time.monotonic()
        done = 0
        for number in range(QUESTIONS):
            if time.monotonic() - started > SOAK_BUDGET_S:
                break
            fault = rng.choice(FAULTS)
            counts[fault] += 1
            fake_openai.chat_responder = (lambda body: LONG_REPLY) if rng.random() < 0.3 else _short
            clock.now += 1000  # each question on its own: faults scripted for one never leak into the next
            verdict = _one_question(
                discord, fake_openai, number, fault, clock, signer, interactions, queue, respond, collections
            )
            discord.clear_scripted()
            fake_openai.chat_delay_s = 0.0
            results[fault].update(_judge(verdict, discord, store))
            done += 1
        client.close()
        store.close()
        index.close()
    _table(done, counts, results, time.monotonic() - started)


def _short(body: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))
    return "The documentation covers this [1]." if "[1]" in prompt else "The sources do not answer this."


def _one_question(
    discord: FakeDiscordApi,
    fake_openai: FakeOpenAIServer,
    number: int,
    fault: str,
    clock: SimClock,
    signer: TestSigner,
    interactions: InteractionsHandler,
    queue: RecordingQueue,
    respond: RespondHandler,
    collections: Gated,
) -> dict[str, Any]:
    payload = signer.slash_command("ask", {"question": f"how do reducers update the store? ({number})"})
    body, headers = signer.signed(payload, timestamp=str(int(clock.now)))
    sends = 3 if fault == "duplicate_interaction" else 1
    for _ in range(sends):
        interactions.handle(headers, body)
    task = queue.tasks.pop()
    start = clock.now
    told_at: float | None = None
    for position, offset in enumerate(SCHEDULE_S):
        clock.now = start + offset
        if position == 0:
            if fault == "discord_429_followups":
                discord.rate_limit_next(retry_after=0.01, times=8, method="POST")
            elif fault == "model_500":
                fake_openai.fail_next(500, headers={"retry-after-ms": "1"}, times=2)
            elif fault == "model_timeout":
                fake_openai.chat_delay_s = 0.7  # beyond the client's 0.5 s timeout
            elif fault == "model_cut_off":
                fake_openai.cut_off_next()
        if fault == "discord_outage_40s":
            discord.clear_scripted()
            if offset < 40:
                discord.fail_next(500, times=50, method="PATCH")
        if fault == "attempt_outlives_lease" and position == 0:
            outcome = _stuck_then_retry(task.to_json(), clock, respond, collections)
        else:
            outcome = respond.handle(task.to_json()).outcome
        fake_openai.chat_delay_s = 0.0
        if outcome in ("answered", "failed", "duplicate"):
            told_at = clock.now
            break
    if fault == "late_task_delivery":
        clock.now = start + 600
        respond.handle(task.to_json())
    return {"payload": payload, "told_s": None if told_at is None else told_at - task.created_at}


def _stuck_then_retry(body: bytes, clock: SimClock, respond: RespondHandler, collections: Gated) -> str:
    hold = threading.Event()
    collections.entered.clear()
    collections.hold = hold
    first: list[str] = []
    stuck = threading.Thread(target=lambda: first.append(respond.handle(body).outcome))
    stuck.start()
    collections.entered.wait(timeout=60)
    clock.now += 3 * LEASE_S  # the lease ran out; Cloud Tasks' next delivery comes
    outcome = respond.handle(body).outcome
    hold.set()
    stuck.join(timeout=60)
    return outcome


def _judge(verdict: dict[str, Any], discord: FakeDiscordApi, store: SqliteStore) -> Counter[str]:
    payload = verdict["payload"]
    shown = discord.messages.get(payload["token"])
    record = store.get_interaction(payload["id"])
    out: Counter[str] = Counter()
    if shown is None or shown.original is None or verdict["told_s"] is None:
        out["lost"] += 1
        return out
    if verdict["told_s"] > TOKEN_S:
        out["told_late"] += 1
    content = str(shown.original.get("content") or "")
    if "Sorry" in content:
        out["apologised"] += 1
    else:
        out["answered"] += 1
    plan = Plan.from_json(record.answer) if record is not None and record.answer else None
    followups = [str(f.get("content") or "") for f in shown.followups]
    if len(set(followups)) != len(followups) or (plan is not None and len(followups) > len(plan.messages) - 1):
        out["posted_twice"] += 1
    if plan is not None and len(followups) < len(plan.messages) - 1 and INCOMPLETE_NOTE not in content:
        out["partial_unsaid"] += 1
    return out


def _table(done: int, counts: Counter[str], results: dict[str, Counter[str]], wall_s: float) -> None:
    table = Table(title=f"fault soak: {done} questions in {wall_s:.0f} s (simulated clock; Cloud Tasks schedule)")
    columns = ("questions", "answered", "apologised", "lost", "posted_twice", "partial_unsaid", "told_late")
    table.add_column("fault")
    for column in columns:
        table.add_column(column, justify="right")
    total: Counter[str] = Counter()
    for fault in FAULTS:
        row = results[fault]
        total.update(row)
        table.add_row(fault, str(counts[fault]), *(str(row[c]) for c in columns[1:]))
    table.add_row("total", str(sum(counts.values())), *(str(total[c]) for c in columns[1:]), style="bold")
    console.print(table)
    if done < QUESTIONS:
        console.print(f"stopped after {done} questions: the {SOAK_BUDGET_S:.0f} s budget ran out")


PARTS = {"soak": run_soak}
