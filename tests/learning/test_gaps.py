"""`docsbot gaps`: which questions count as failed by the docs, how they are clustered and labelled, and the
report in the terminal and as a self-contained, safe HTML page."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from docsbot.answer.chat import OpenAIChat
from docsbot.app.bot import Collections
from docsbot.cli.common import CliDeps
from docsbot.cli.main import app
from docsbot.learning import gaps
from docsbot.learning.gaps import (
    AskedQuestion,
    Cluster,
    GapsReport,
    NearDoc,
    build_report,
    choose_clusters,
    classify,
    keywords_per_cluster,
)
from docsbot.learning.pii import Scrubber
from docsbot.learning.report import render_html
from docsbot.learning.threads import load_threads
from docsbot.settings.config import load_settings
from docsbot.store.model import Feedback, MessageRecord, NewThread, Solution, SourceRef
from docsbot.store.sqlite import SqliteStore
from tests.harness.fakes.openai_server import FakeOpenAIServer

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
REF = SourceRef("Reducers", ("Reducers",), "https://redux.js.org/faq/reducers", "rules")


def thread(store: SqliteStore, thread_id: str, question: str, *, outcome: str = "answered") -> None:
    store.ensure_thread(NewThread(thread_id, "docs", "asker", title=question), NOW)
    store.add_message(MessageRecord(f"{thread_id}-q", thread_id, "asker", question, False, NOW, asked_bot=True))
    sources = (REF,) if outcome != "not_found" else ()
    later = NOW + timedelta(seconds=1)
    store.add_message(
        MessageRecord(f"{thread_id}-a", thread_id, "bot", "…", True, later, sources=sources, outcome=outcome)
    )


def person(store: SqliteStore, thread_id: str, text: str, sources: tuple[SourceRef, ...] = ()) -> None:
    solution = Solution(f"{thread_id}-r", "helper", text, "https://discord.com/x", False, "asker", NOW, sources)
    store.mark_solution(thread_id, solution, NOW)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "s.sqlite3")
    thread(store, "nothing", "how do I use redux from flutter? mail ada@example.com", outcome="not_found")
    thread(store, "unsure", "is redux fast?", outcome="uncertain")
    thread(store, "voted-no", "why does my reducer run twice?")
    store.record_vote("voted-no", "asker", "failed", is_author=True, now=NOW)
    thread(store, "reason", "what about sagas?")
    store.record_feedback(Feedback("reason", "someone", "outdated", "", NOW))
    thread(store, "person-no-doc", "my build breaks on node 22")
    person(store, "person-no-doc", "Pin node 20, it is a bundler bug.")
    thread(store, "person-other-page", "combine reducers?")
    person(store, "person-other-page", "See https://redux.js.org/api/combinereducers for that.")
    thread(store, "person-same-page", "reducer rules?")
    person(store, "person-same-page", "As the bot said: https://redux.js.org/faq/reducers#rules")
    thread(store, "bot-voted", "reducers pure?")
    store.record_vote("bot-voted", "asker", "solved", is_author=True, now=NOW)
    thread(store, "open", "still waiting")
    return store


def test_what_counts_as_a_gap(store: SqliteStore) -> None:
    kinds = {v.thread.thread_id: classify(v, Scrubber()) for v in load_threads(store, "docs")}
    assert {k: (v.kind if v else None) for k, v in kinds.items()} == {
        "nothing": "not_found",
        "unsure": "uncertain",
        "voted-no": "not_solved",
        "reason": "not_solved",
        "person-no-doc": "solved_by_person",  # cites no doc
        "person-other-page": "solved_by_person",  # cites another page than the bot's
        "person-same-page": "answered",  # pointed at the page the bot had cited
        "bot-voted": "answered",
        "open": None,  # no verdict yet: neither
    }
    nothing, other = kinds["nothing"], kinds["person-other-page"]
    assert nothing is not None and "ada@example.com" not in nothing.question and "<email-" in nothing.question
    assert other is not None and other.solution_urls == ("https://redux.js.org/api/combinereducers",)


def blobs(seed: int) -> tuple[np.ndarray, list[int]]:
    """Three well-separated groups of unit vectors in 16 dimensions, 12 points each, shuffled."""
    rng = np.random.default_rng(seed)
    centres = np.eye(16)[[0, 5, 10]]
    truth = [i % 3 for i in range(36)]
    random.Random(seed).shuffle(truth)
    points = np.array([centres[t] + rng.normal(0, 0.05, 16) for t in truth])
    return points / np.linalg.norm(points, axis=1, keepdims=True), truth


def same_partition(labels: list[int], truth: list[int]) -> bool:
    return len(set(labels)) == len(set(truth)) == len(set(zip(truth, labels, strict=True)))


def test_clusters_recover_separate_topics_and_leave_an_outlier_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    points, truth = blobs(3)
    outlier = np.eye(16)[[15]]
    labels = choose_clusters(np.vstack([points, outlier]))
    assert same_partition(labels, [*truth, 3])  # three topics, and the odd question in a cluster of its own
    assert choose_clusters(points) == choose_clusters(points)  # deterministic
    assert choose_clusters(points[:1]) == [0]
    assert choose_clusters(np.repeat(points[:1], 6, axis=0)) == [0] * 6  # identical questions: one cluster
    # Past the full-linkage size, fine k-means groups are clustered in the rows' place: the same topics come out.
    monkeypatch.setattr(gaps, "FULL_LINKAGE_MAX", 10)
    monkeypatch.setattr(gaps, "MICRO_GROUP", 4)
    assert same_partition(choose_clusters(points), truth)


def test_keyword_labels_name_what_sets_a_cluster_apart() -> None:
    labels = keywords_per_cluster(
        [["flutter widgets and redux", "redux with flutter state"], ["redux saga effects", "saga takeEvery redux"]]
    )
    assert labels[0][0] == "flutter" and labels[1][0] == "saga"
    assert "redux" not in labels[0][:1] + labels[1][:1]  # shared by both: not distinctive
    assert keywords_per_cluster([["the and of"]]) == [()]


def test_the_html_report_is_inert_whatever_the_texts() -> None:
    evil = AskedQuestion(
        "t1",
        "<script>alert(1)</script> why?",
        "solved_by_person",
        NOW,
        solution='<img src=x onerror="alert(2)">',
        solution_urls=("javascript:alert(3)", "https://docs.example/ok"),
    )
    cluster = Cluster(("script",), [evil], 0.2, [NearDoc('"><b>x', "https://docs.example/p#a", 0.41)], True)
    html = render_html(GapsReport("docs", NOW, None, 1, [cluster], [], 0.5))
    assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; why?" in html
    assert '<a href="https://docs.example/ok"' in html and "far from the docs" in html
    assert "http" not in html.split("<body>")[0].replace('content="width', "")  # nothing loaded from elsewhere


def test_gaps_after_simulate_clusters_the_failed_questions_and_writes_the_report(
    simulated: dict[str, str], tmp_path: Path
) -> None:
    obj = CliDeps(clock=lambda: NOW)
    out = tmp_path / "report" / "gaps.html"
    args = ["gaps", "--collection", "demo", "--since", "1d", "--out", str(out)]
    result = CliRunner().invoke(app, args, env=simulated, obj=obj)
    assert result.exit_code == 0, result.output
    # Two of the three failed the docs: the one a person solved and the one not in the docs.
    assert "2 questions the docs failed in 'demo' (3 threads)" in result.stdout
    assert "answered questions: 1 in 1 clusters" in result.stdout
    html = out.read_text(encoding="utf-8")
    assert "how do I use redux in a flutter app?" in html
    assert '<a href="https://redux.js.org/api/applymiddleware"' in html  # the person's solution, cited
    assert html.count('<section class="cluster') >= 1 and "nearest-doc similarity" in html

    # Nothing in the period: an empty report, not an error.
    later = CliDeps(clock=lambda: NOW + timedelta(days=60))
    result = CliRunner().invoke(app, ["gaps", "--collection", "demo", "--since", "30d"], env=simulated, obj=later)
    assert result.exit_code == 0, result.output
    assert "0 questions the docs failed" in result.stdout


def test_with_a_chat_model_each_cluster_gets_a_title_and_a_proposed_change(
    simulated: dict[str, str], tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    obj = CliDeps(clock=lambda: NOW)
    prompts: list[str] = []

    def responder(body: dict[str, Any]) -> str:
        prompt = str(body["messages"][-1]["content"])
        prompts.append(prompt)
        if "flutter" in prompt:
            return "Sorry, here is no JSON."  # a reply of the wrong shape: the keywords stay
        return json.dumps(
            {
                "title": "Middleware for re-renders",
                "change": "edit",
                "page": "https://redux.js.org/api/applymiddleware",
                "proposal": "Explain when components re-render after dispatch [S1].",
            }
        )

    fake_openai.chat_responder = responder
    env = {**simulated, "DOCSBOT_CHAT_MODEL": "gpt-4.1-mini", "OPENAI_API_KEY": "test-key"}
    env["DOCSBOT_CHAT_BASE_URL"] = fake_openai.base_url
    out = tmp_path / "gaps.html"
    result = CliRunner().invoke(app, ["gaps", "--collection", "demo", "--out", str(out)], env=env, obj=obj)
    assert result.exit_code == 0, result.output
    # One prompt per cluster, with the people's solutions numbered for citing.
    # One prompt per cluster (the two failed questions are unalike: two clusters); the people's solutions are
    # numbered for citing.
    assert len(prompts) == 2 and any("[S1] This is covered in the docs" in p for p in prompts)
    html = out.read_text(encoding="utf-8")
    assert html.count("Proposed doc change") == 1  # the flutter cluster's reply was not JSON: keywords only
    assert "Middleware for re-renders" in html and "flutter" in html
    assert "Edit: https://redux.js.org/api/applymiddleware. Explain when components re-render" in html
    assert "Middleware for re-renders: Edit:" in result.stdout


def test_the_report_names_each_step_as_it_starts_the_model_s_last(
    simulated: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    services = Collections(load_settings(simulated))
    store = SqliteStore(Path(simulated["DOCSBOT_DATA_DIR"]) / "docsbot.sqlite3")
    try:
        views = load_threads(store, "demo", since=None)
    finally:
        store.close()
    chat = OpenAIChat("gpt-4.1-mini", api_key="test-key", base_url=fake_openai.base_url)
    steps: list[str] = []
    report = build_report(views, collection="demo", embedder=services.embedder, index=services.searcher("demo").index,
                          now=NOW, chat=chat, suggestions=5, on_progress=steps.append)  # fmt: skip
    assert steps == ["embedding 3 questions", "finding the nearest docs", "clustering",
                     "asking gpt-4.1-mini for titles and proposed doc changes"]  # fmt: skip
    assert report.gaps == 2
