"""The `docsbot` command end to end on the embedded default (hashing stand-in embedder for speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.cli.main import app
from tests.harness.corpora import require_redux
from tests.harness.fakes.openai_server import FakeOpenAIServer

PROSE = "The store holds the whole state tree of your application. " * 8


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": "",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def make_docs(root: Path) -> Path:
    (root / "guides").mkdir(parents=True)
    (root / "intro.md").write_text(f"---\ntitle: Intro\n---\n\n## Stores {{#stores}}\n\n{PROSE}\n", encoding="utf-8")
    (root / "guides" / "setup.md").write_text(f"# Setup\n\n## Install\n\n{PROSE} npm install zebra\n", encoding="utf-8")
    return root


def test_ingest_then_search(tmp_path: Path, env: dict[str, str]) -> None:
    docs = make_docs(tmp_path / "docs")
    code, out, err = run(
        env,
        "ingest",
        "--collection",
        "mini",
        "--source-dir",
        str(docs),
        "--docs-base-url",
        "https://d.io/docs/",
    )
    assert code == 0, err
    assert "2 (2 new" in out
    code, out, _ = run(env, "search", "--collection", "mini", "npm install zebra")
    assert code == 0
    assert "https://d.io/docs/guides/setup#install" in out

    # Again: nothing to embed.
    code, out, _ = run(
        env,
        "ingest",
        "--collection",
        "mini",
        "--source-dir",
        str(docs),
        "--docs-base-url",
        "https://d.io/docs/",
    )
    assert code == 0
    assert "0 embedded" in out


def test_bad_files_are_named_counted_and_skipped(tmp_path: Path, env: dict[str, str]) -> None:
    docs = make_docs(tmp_path / "docs")
    base = (
        "ingest",
        "--collection",
        "mini",
        "--source-dir",
        str(docs),
        "--docs-base-url",
        "https://d.io/docs/",
    )
    assert run(env, *base)[0] == 0
    (docs / "intro.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    (docs / "logo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (docs / "empty.md").write_text("---\ntitle: Empty\n---\n\n", encoding="utf-8")
    (docs / "huge.md").write_text("# Huge\n\n" + "word " * 1_000_000, encoding="utf-8")
    (docs / "gone.md").symlink_to(docs / "does-not-exist.md")
    code, out, err = run(env, *base)
    assert code == 0, err
    for name in ("intro.md", "logo.md", "huge.md", "gone.md"):
        assert name in err
    assert "4 (what was indexed for them is kept)" in out
    # The page whose front matter broke is still searchable from the last good run.
    code, out, _ = run(env, "search", "--collection", "mini", "--mode", "sparse", "store holds the whole state tree")
    assert "https://d.io/docs/intro#stores" in out


def test_clear_errors(tmp_path: Path, env: dict[str, str]) -> None:
    code, _, err = run(env, "search", "--collection", "never-indexed", "x")
    assert code == 2
    assert "has not been indexed yet" in err
    code, _, err = run(env, "ingest", "--collection", "Bad Name!", "--source-dir", str(tmp_path))
    assert code == 2
    assert "collection name" in err
    collections = tmp_path / "collections.toml"
    collections.write_text('[[collection]]\nname = "known"\ntitle = "Known"\n', encoding="utf-8")
    code, _, err = run({**env, "DOCSBOT_COLLECTIONS_FILE": str(collections)}, "ingest", "--collection", "unknown")
    assert code == 2
    assert "unknown collection 'unknown'" in err
    code, _, err = run(
        {**env, "DOCSBOT_EMBEDDER": "magic"}, "ingest", "--collection", "x", "--source-dir", str(tmp_path)
    )
    assert code == 2
    assert "DOCSBOT_EMBEDDER" in err


def test_eval_json_on_the_redux_corpus(tmp_path: Path, env: dict[str, str]) -> None:
    redux = require_redux()
    code, _, err = run(
        env,
        "ingest",
        "--collection",
        "redux",
        "--source-dir",
        str(redux),
        "--url-map",
        str(redux / "urls.tsv"),
    )
    assert code == 0, err
    code, out, err = run(
        env,
        "eval",
        "--collection",
        "redux",
        "--questions",
        str(redux / "questions.jsonl"),
        "--json",
        "--mode",
        "sparse",
    )
    assert code == 0, err
    report = json.loads(out)
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"):
        assert 0.0 <= report[key] <= 1.0
        assert 0.0 <= report["section"][key] <= 1.0
    # BM25 alone finds a relevant page in the top 5 for most development questions.
    assert report["hit@5"] >= 0.6
    assert report["abstention"]["unanswerable"]["n"] >= 1


def ingest_mini(tmp_path: Path, env: dict[str, str]) -> None:
    docs = make_docs(tmp_path / "docs")
    code, _, err = run(
        env, "ingest", "--collection", "mini", "--source-dir", str(docs), "--docs-base-url", "https://d.io/docs/"
    )
    assert code == 0, err


def test_ask_without_a_model_gives_the_extractive_answer(tmp_path: Path, env: dict[str, str]) -> None:
    ingest_mini(tmp_path, env)
    env = {**env, "OPENAI_API_KEY": "", "DOCSBOT_CHAT_MODEL": ""}
    code, out, err = run(env, "ask", "--collection", "mini", "how do I npm install zebra for the store?")
    assert code == 0, err
    assert "No language model is configured" in out
    assert "[1] Setup › Install" in out and "https://d.io/docs/guides/setup#install" in out
    code, out, _ = run(env, "ask", "--collection", "mini", "how do I deploy kubernetes helm charts?")
    assert code == 0
    assert "couldn't find this in the mini documentation" in out and "Closest sections" in out


def test_ask_with_a_model_history_and_discord_payloads(
    tmp_path: Path, env: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    ingest_mini(tmp_path, env)
    env = {
        **env,
        "DOCSBOT_CHAT_MODEL": "gpt-4o-mini",
        "DOCSBOT_CHAT_BASE_URL": fake_openai.base_url,
        "DOCSBOT_CHAT_API_KEY": "test-key",
    }
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": "how do I npm install zebra?"}]))
    code, out, err = run(env, "ask", "--collection", "mini", "--history", str(history), "--discord", "and the store?")
    assert code == 0, err
    messages = json.loads(out)
    assert messages[-1]["allowed_mentions"] == {"parse": []}
    assert "The documentation covers this [1]." in messages[0]["content"]
    (request,) = fake_openai.requests_to("/v1/chat/completions")
    assert [m["role"] for m in request.body["messages"]] == ["system", "assistant", "user", "user"]

    history.write_text('[{"role": "bot", "content": 1}]')
    code, _, err = run(env, "ask", "--collection", "mini", "--history", str(history), "x")
    assert code == 2 and "role must be" in err
