"""`docsbot simulate`: a question file replayed through the real respond path into the local store, each thread
ending the way a user would have ended it; deterministic, idempotent, and what `export` then sees."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from docsbot.cli.common import CliDeps
from docsbot.cli.main import app
from docsbot.learning.simulate import thread_id_for
from docsbot.learning.threads import load_threads
from docsbot.store.sqlite import SQLITE_FILE, SqliteStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def simulate(env: dict[str, str], questions: Path, seed: int = 0) -> str:
    args = ["simulate", "--collection", "demo", "--questions", str(questions), "--seed", str(seed)]
    result = CliRunner().invoke(app, args, env=env, obj=CliDeps(clock=lambda: NOW))
    assert result.exit_code == 0, result.output
    return result.stdout


def threads_table(env: dict[str, str]) -> list[tuple[object, ...]]:
    with sqlite3.connect(Path(env["DOCSBOT_DATA_DIR"]) / SQLITE_FILE) as db:
        return db.execute("SELECT * FROM threads ORDER BY thread_id").fetchall()


def test_each_question_becomes_a_thread_ended_as_its_asker_would(indexed: dict[str, str], question_file: Path) -> None:
    printed = simulate(indexed, question_file)
    assert "simulated 3 threads" in printed

    store = SqliteStore(Path(indexed["DOCSBOT_DATA_DIR"]) / SQLITE_FILE)
    try:
        views = {v.thread.thread_id: v for v in load_threads(store, "demo")}
    finally:
        store.close()
    q1, q2, q3 = (views[thread_id_for(0, q)] for q in ("q1", "q2", "q3"))
    # The bot's answer cited the relevant page: its asker voted it solved.
    assert q1.outcome == "solved_by_bot"
    assert any(url == "https://redux.js.org/faq/organizing-state" for url in q1.cited_urls)
    # The bot cited other pages: a person's reply with the relevant page is the accepted solution.
    assert q2.outcome == "solved_by_person"
    assert q2.solution is not None and not q2.solution.from_bot
    assert "https://redux.js.org/api/applymiddleware" in q2.solution.content
    assert [s.url for s in q2.solution.sources] == ["https://redux.js.org/api/applymiddleware"]
    # Not in the docs: voted not solved, with a reason.
    assert q3.outcome == "not_solved" and q3.thread.failed_votes == 1
    assert [f.reason for f in q3.feedback] != [] and q3.feedback[0].reason in (
        "wrong",
        "incomplete",
        "not_what_i_asked",
    )
    # Each went through the real respond path: the question and the bot's answer, with its outcome, are stored.
    assert [(m.from_bot, m.asked_bot) for m in q3.messages] == [(False, True), (True, False)]
    assert q3.bot_answers[0].outcome == "not_found"
    # Threads are recent: the last one was asked at the clock's time, the first a few minutes before.
    times = sorted(v.thread.created_at for v in views.values())
    assert times[-1] == NOW and NOW - times[0] < timedelta(minutes=30)

    # What export sees: the two solved threads, with the pages that solved them.
    out = Path(indexed["DOCSBOT_DATA_DIR"]).parent / "eval.jsonl"
    result = CliRunner().invoke(
        app, ["export", "--collection", "demo", "--format", "eval", "--out", str(out)], env=indexed
    )
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(item["relevant"][0] for item in items) == [
        "https://redux.js.org/api/applymiddleware",
        "https://redux.js.org/faq/organizing-state",
    ]


def test_a_run_is_deterministic_and_running_it_again_changes_nothing(
    indexed: dict[str, str], question_file: Path, tmp_path: Path
) -> None:
    simulate(indexed, question_file, seed=7)
    first = threads_table(indexed)
    simulate(indexed, question_file, seed=7)
    assert threads_table(indexed) == first

    # The same file and seed elsewhere: the very same threads.
    other = {**indexed, "DOCSBOT_DATA_DIR": str(tmp_path / "other")}
    source_index = Path(indexed["DOCSBOT_DATA_DIR"]) / "index"
    shutil.copytree(source_index, Path(other["DOCSBOT_DATA_DIR"]) / "index")
    simulate(other, question_file, seed=7)
    assert threads_table(other) == first


def test_an_unindexed_collection_or_a_bad_file_is_one_line(indexed: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": 3}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "--collection", "demo", "--questions", str(bad)], env=indexed)
    assert result.exit_code == 2 and "line 1" in result.stderr
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "a", "question": "x?"}\n{"id": "a", "question": "y?"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "--collection", "demo", "--questions", str(twice)], env=indexed)
    assert result.exit_code == 2 and "repeated: a" in result.stderr
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "hi?"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "--collection", "nope", "--questions", str(good)], env=indexed)
    assert result.exit_code == 2 and "not been indexed" in result.stderr


def test_the_demo_collection_has_sample_questions(indexed: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["simulate", "--collection", "demo"], env=indexed, obj=CliDeps(clock=lambda: NOW))
    assert result.exit_code == 0, result.output
    assert "simulated 12 threads in 'demo'" in result.stdout
    store = SqliteStore(Path(indexed["DOCSBOT_DATA_DIR"]) / SQLITE_FILE)
    try:
        outcomes = [v.outcome for v in load_threads(store, "demo")]
    finally:
        store.close()
    # Five of the twelve are not in the docs: voted not solved; the rest solved, by the bot or by a person.
    assert outcomes.count("not_solved") == 5
    assert outcomes.count("solved_by_bot") + outcomes.count("solved_by_person") == 7
    assert outcomes.count("solved_by_bot") >= 1
    result = CliRunner().invoke(app, ["simulate", "--collection", "docs"], env=indexed)
    assert result.exit_code == 2 and "--questions FILE is needed" in result.stderr
