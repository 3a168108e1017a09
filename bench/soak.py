"""Fault soak: 1,000 questions through the real interactions and respond handlers with faults injected.

`python -m bench soak` (or `scripts/bench.sh soak`). Each question is a signed `/ask` through the real
interactions handler (SQLite state), then delivered to the real respond handler on Cloud Tasks' schedule
(the Terraform defaults: 9 attempts, 30 s doubling to 120 s) on a simulated clock, against the loopback
Discord and OpenAI fakes driven by the real `requests` and `openai` clients. Every question reaches the model.
One fault per question, at random (seeded): Discord 429 on follow-ups, a 40 s Discord outage (500 on every
edit), model 500 / timeout / cut-off reply on the first attempt, the model down for every attempt, duplicate
interaction deliveries, a late task delivery after the answer, and an attempt that outlives its lease (stuck
in the model while the retry answers). A fault scripted for one question and not served is cleared before
the next (it must never be charged to another question).

Per question, from what the fake Discord shows and the store holds: lost (never told anything), posted twice,
posted in part without saying so, told after the token's 15 minutes, and every apology classified: explained
only when the faults injected into that question exhausted its attempts (each unanswered delivery had an
injected fault in it, and the fault outlasts every retry), unexplained otherwise. Bounded: stops after
SOAK_BUDGET_S seconds of wall time, saying how far it got.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import openai
from rich.table import Table

from bench.knowledge_base import console
from docsbot.answer.abstain import AbstainPolicy
from docsbot.answer.chat import OpenAIChat
from docsbot.answer.model import Answer, Turn
from docsbot.answer.pipeline import Answerer, AnswerOptions
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
MODEL_TIMEOUT_S = 1.0  # the chat client's timeout here; the timeout fault stalls the fake longer
FAULTS = (
    "none",
    "discord_429_followups",
    "discord_outage_40s",
    "model_500",
    "model_timeout",
    "model_cut_off",
    "model_down",  # 500 on every try of every attempt: the one fault that must end in the apology
    "duplicate_interaction",
    "late_task_delivery",
    "attempt_outlives_lease",
)
# Faults that exhaust every attempt: an apology is expected (and explained) only for these.
EXHAUSTING = frozenset({"model_down"})
COLUMNS = (
    "questions",
    "answered",
    "apologised",
    "apology_unexplained",
    "stored_failed",
    "lost",
    "posted_twice",
    "partial_unsaid",
    "told_late",
    "faulty_attempts",
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


@dataclass
class Rig:
    """Everything one question goes through: the real handlers, SQLite state, the loopback fakes."""

    clock: SimClock
    signer: TestSigner
    interactions: InteractionsHandler
    queue: RecordingQueue
    respond: RespondHandler
    collections: Gated
    discord: FakeDiscordApi
    openai: FakeOpenAIServer
    store: SqliteStore
    failed_stored: int = 0  # "failed" answers stored so far

    def injected(self) -> int:
        """Scripted faults the fakes have served so far."""
        return self.openai.faults_served + self.discord.scripted_served


@dataclass
class SoakResult:
    questions: int
    wall_s: float
    rows: dict[str, Counter[str]] = field(default_factory=dict)

    def total(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for row in self.rows.values():
            out.update(row)
        return out


def soak(
    questions: int = QUESTIONS, faults: tuple[str, ...] = FAULTS, *, seed: int = 15, budget_s: float = SOAK_BUDGET_S
) -> SoakResult:
    """Run `questions` questions, one random fault of `faults` each; per fault, what the asker saw."""
    logger = logging.getLogger("docsbot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # a thousand expected retries would bury the table
    try:
        return _soak(questions, faults, seed=seed, budget_s=budget_s)
    finally:
        logger.setLevel(level)  # callers (the tests) keep their own logging


def _soak(questions: int, faults: tuple[str, ...], *, seed: int, budget_s: float) -> SoakResult:
    rng = random.Random(seed)
    clock = SimClock()
    result = SoakResult(0, 0.0, {fault: Counter() for fault in faults})
    with tempfile.TemporaryDirectory() as tmp, FakeDiscordApi() as discord, FakeOpenAIServer() as fake_openai:
        index = EdgeIndex(Path(tmp) / "index", "docs")
        embedder, sparse = HashingEmbedder(), Bm25Encoder()
        ingest_folder(index, embedder, sparse, demo_source())
        searcher = Searcher(index, embedder, sparse)
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        signer = TestSigner()
        client = openai.OpenAI(
            base_url=fake_openai.base_url, api_key="test-key", max_retries=0, timeout=MODEL_TIMEOUT_S
        )
        chat = OpenAIChat("gpt-4o-mini", api_key="test-key", base_url=fake_openai.base_url, client=client)

        def search(query: str, limit: int) -> SearchResult:
            return searcher.search(query, limit=limit)

        # Every question reaches the model (no "not in the docs"), so every model fault is exercised.
        options = AnswerOptions(policy=AbstainPolicy(min_grounded_score=0.0))
        collections = Gated(searcher, Answerer(search, chat, Product("Redux"), collection="docs", options=options))
        rest = DiscordRest(signer.application_id, base_url=discord.base_url, sleep=lambda s: None)
        queue = RecordingQueue()
        rig = Rig(
            clock,
            signer,
            InteractionsHandler(
                signer.public_key_hex,
                store,
                queue,
                build_catalog([CollectionRecord("docs", "Redux", "A JavaScript state container.")], {FORUM_ID: "docs"}),
                limits=Limits(user_questions_per_hour=10**6, guild_questions_per_hour=10**6),
                clock=clock,
            ),
            queue,
            RespondHandler(store, rest, collections, max_attempts=len(SCHEDULE_S), heartbeat_s=None, clock=clock),
            collections,
            discord,
            fake_openai,
            store,
        )
        started = time.monotonic()
        for number in range(questions):
            if time.monotonic() - started > budget_s:
                break
            fault = rng.choice(faults)
            fake_openai.chat_responder = (lambda body: LONG_REPLY) if rng.random() < 0.3 else _short
            clock.now += 1000  # each question on its own
            verdict = _one_question(rig, number, fault)
            # Whatever was scripted for this question and not served never reaches the next one.
            discord.clear_scripted()
            fake_openai.clear_scripted()
            result.rows[fault].update(_judge(rig, verdict, fault))
            result.questions += 1
        result.wall_s = time.monotonic() - started
        client.close()
        store.close()
        index.close()
    return result


def run_soak() -> None:
    result = soak()
    _table(result)


def _short(body: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))
    return "The documentation covers this [1]." if "[1]" in prompt else "The sources do not answer this."


def _one_question(rig: Rig, number: int, fault: str) -> dict[str, Any]:
    payload = rig.signer.slash_command("ask", {"question": f"how do reducers update the store? ({number})"})
    body, headers = rig.signer.signed(payload, timestamp=str(int(rig.clock.now)))
    for _ in range(3 if fault == "duplicate_interaction" else 1):
        rig.interactions.handle(headers, body)
    task = rig.queue.tasks.pop()
    start = rig.clock.now
    told_at: float | None = None
    attempts: list[tuple[str, bool]] = []  # (outcome, whether an injected fault hit this delivery)
    for position, offset in enumerate(SCHEDULE_S):
        rig.clock.now = start + offset
        stalled = False
        if position == 0:
            if fault == "discord_429_followups":
                rig.discord.rate_limit_next(retry_after=0.01, times=8, method="POST")
            elif fault == "model_500":
                rig.openai.fail_next(500, headers={"retry-after-ms": "1"})
            elif fault == "model_timeout":
                rig.openai.chat_delay_s = MODEL_TIMEOUT_S * 1.5
                stalled = True
            elif fault == "model_cut_off":
                rig.openai.cut_off_next()
        if fault == "model_down":
            rig.openai.fail_next(500, headers={"retry-after-ms": "1"}, times=10)
        if fault == "discord_outage_40s":
            rig.discord.clear_scripted()
            if offset < 40:
                rig.discord.fail_next(500, times=50, method="PATCH")
        before = rig.injected()
        if fault == "attempt_outlives_lease" and position == 0:
            outcome = _stuck_then_retry(task.to_json(), rig)
            stalled = True
        else:
            outcome = rig.respond.handle(task.to_json()).outcome
        rig.openai.chat_delay_s = 0.0
        attempts.append((outcome, stalled or rig.injected() > before))
        if outcome in ("answered", "failed", "duplicate"):
            told_at = rig.clock.now
            break
    if fault == "late_task_delivery":
        rig.clock.now = start + 600
        rig.respond.handle(task.to_json())
    return {"payload": payload, "attempts": attempts, "told_s": None if told_at is None else told_at - task.created_at}


def _stuck_then_retry(body: bytes, rig: Rig) -> str:
    hold = threading.Event()
    rig.collections.entered.clear()
    rig.collections.hold = hold
    first: list[str] = []
    stuck = threading.Thread(target=lambda: first.append(rig.respond.handle(body).outcome))
    stuck.start()
    rig.collections.entered.wait(timeout=60)
    rig.clock.now += 3 * LEASE_S  # the lease ran out; Cloud Tasks' next delivery comes
    outcome = rig.respond.handle(body).outcome
    hold.set()
    stuck.join(timeout=60)
    return outcome


def _judge(rig: Rig, verdict: dict[str, Any], fault: str) -> Counter[str]:
    payload = verdict["payload"]
    attempts: list[tuple[str, bool]] = verdict["attempts"]
    shown = rig.discord.messages.get(payload["token"])
    record = rig.store.get_interaction(payload["id"])
    out: Counter[str] = Counter({"questions": 1})
    # An attempt that did not answer, with an injected fault in it: what the fault cost.
    out["faulty_attempts"] = sum(1 for outcome, hit in attempts if hit and outcome in ("retry", "failed"))
    if shown is None or shown.original is None or verdict["told_s"] is None:
        out["lost"] += 1
        return out
    if verdict["told_s"] > TOKEN_S:
        out["told_late"] += 1
    content = str(shown.original.get("content") or "")
    if "Sorry" in content:
        out["apologised"] += 1
        # Explained only when the faults injected into this question exhausted its attempts: each attempt that
        # did not answer had a fault in it, and the fault is one that outlasts every retry.
        unanswered = [(outcome, hit) for outcome, hit in attempts if outcome in ("retry", "failed")]
        if fault not in EXHAUSTING or len(unanswered) < len(SCHEDULE_S) or not all(hit for _, hit in unanswered):
            out["apology_unexplained"] += 1
    else:
        out["answered"] += 1
    # This question's stored answer (every question asks in the same channel, so its thread holds them all).
    messages = rig.store.list_messages(str(payload["channel_id"]), limit=10**6)
    failed = sum(1 for m in messages if m.from_bot and m.outcome == "failed")
    out["stored_failed"] += failed - rig.failed_stored
    rig.failed_stored = failed
    plan = Plan.from_json(record.answer) if record is not None and record.answer else None
    followups = [str(f.get("content") or "") for f in shown.followups]
    if len(set(followups)) != len(followups) or (plan is not None and len(followups) > len(plan.messages) - 1):
        out["posted_twice"] += 1
    if plan is not None and len(followups) < len(plan.messages) - 1 and INCOMPLETE_NOTE not in content:
        out["partial_unsaid"] += 1
    return out


def _table(result: SoakResult) -> None:
    title = f"fault soak: {result.questions} questions in {result.wall_s:.0f} s (simulated clock; Cloud Tasks schedule)"
    table = Table(title=title)
    table.add_column("fault")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for fault, row in result.rows.items():
        table.add_row(fault, *(str(row[c]) for c in COLUMNS))
    total = result.total()
    table.add_row("total", *(str(total[c]) for c in COLUMNS), style="bold")
    console.print(table)
    console.print(
        "apologised: the asker was told it failed; apology_unexplained: an apology where the injected faults did not "
        "exhaust the attempts (must be 0); stored_failed: failed answers stored for the learning loop; "
        "faulty_attempts: deliveries an injected fault made fail (each retried later)"
    )
    if result.questions < QUESTIONS:
        console.print(f"stopped after {result.questions} questions: the {SOAK_BUDGET_S:.0f} s budget ran out")


PARTS = {"soak": run_soak}
