"""Fixtures of the learning loop's tests: a data directory with the shipped Redux sample indexed (hashing
embedder: fast, no model download), a small question file in the dev-set format, those questions replayed as
threads (`docsbot simulate`), and the loopback Discord with a `DiscordRest` on it (`tests.harness.discord_rest`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.cli.common import CliDeps
from docsbot.cli.demo import demo_source
from docsbot.cli.main import app
from tests.harness.discord_rest import api, rest, sleeps  # noqa: F401

SIMULATED_AT = datetime(2026, 3, 1, 12, tzinfo=UTC)  # when the `simulated` threads end

# One answerable question the sample's FAQ answers word for word, one answerable question whose relevant page
# is not what the bot will cite (a person solves it), one the docs do not cover.
QUESTIONS = [
    {
        "id": "q1",
        "question": "Can I put functions, promises, or other non-serializable items in my store state?",
        "relevant": [
            "https://redux.js.org/faq/organizing-state#can-i-put-functions-promises-or-other-non-serializable-items-in-my-store-state"
        ],
        "answerable": True,
        "notes": "",
    },
    {
        "id": "q2",
        "question": "my component never re-renders after dispatch",
        "relevant": ["https://redux.js.org/api/applymiddleware"],
        "answerable": True,
        "notes": "",
    },
    {
        "id": "q3",
        "question": "how do I use redux in a flutter app?",
        "relevant": [],
        "answerable": False,
        "notes": "",
    },
]


def sample_env(data_dir: Path) -> dict[str, str]:
    return {
        "DOCSBOT_DATA_DIR": str(data_dir),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_STATE": "sqlite",
        "DOCSBOT_COLLECTIONS_FILE": "",
    }


@pytest.fixture
def indexed(tmp_path: Path) -> dict[str, str]:
    """The environment of a data directory where collection `demo` holds the Redux sample."""
    env = sample_env(tmp_path / "data")
    source = demo_source()
    args = ["ingest", "--collection", "demo", "--source-dir", str(source.path), "--url-map", str(source.url_map)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return env


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


@pytest.fixture
def simulated(indexed: dict[str, str], question_file: Path) -> dict[str, str]:
    """`indexed`, its store holding `QUESTIONS` replayed as threads ending at `SIMULATED_AT` (two fail the docs)."""
    args = ["simulate", "--collection", "demo", "--questions", str(question_file)]
    result = CliRunner().invoke(app, args, env=indexed, obj=CliDeps(clock=lambda: SIMULATED_AT))
    assert result.exit_code == 0, result.output
    return indexed
