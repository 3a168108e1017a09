"""The CLI fails clearly: one line saying what failed and what to check, text printed as written, no guessing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.cli.main import app

PROSE = "The store holds the whole state tree of your application. " * 8


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": "",
        "QDRANT_URL": "",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"docsbot {' '.join(args)} raised {result.exception!r}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def make_docs(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "intro.md").write_text(f"---\ntitle: Intro\n---\n\n## Stores\n\n{PROSE}\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("command", ["search", "ingest", "ask", "status"])
def test_an_unreachable_qdrant_is_one_line_naming_what_to_check(
    tmp_path: Path, env: dict[str, str], command: str
) -> None:
    env = {**env, "QDRANT_URL": closed_port_url()}
    args = {
        "search": ["search", "-c", "mini", "zebra"],
        "ingest": ["ingest", "-c", "mini", "--source-dir", str(make_docs(tmp_path / "docs")), "--docs-base-url",
                   "https://d.io/docs/"],
        "ask": ["ask", "-c", "mini", "zebra?"],
        "status": ["status"],
    }[command]  # fmt: skip
    if command == "status":
        (tmp_path / "c.toml").write_text('[[collection]]\nname = "mini"\ntitle = "Mini"\n', encoding="utf-8")
        env["DOCSBOT_COLLECTIONS_FILE"] = str(tmp_path / "c.toml")
    code, _, err = run(env, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "cannot reach the Qdrant server at " + env["QDRANT_URL"] in lines[0]
    assert "check QDRANT_URL" in lines[0] and "Connection refused" in lines[0]


def test_an_unreachable_embedding_api_is_named_with_what_to_check() -> None:
    import openai

    from docsbot.cli.common import connection_failure
    from docsbot.index.embedders import OpenAIEmbedder

    client = openai.OpenAI(api_key="k", base_url=closed_port_url() + "/v1", max_retries=0)
    with pytest.raises(Exception) as raised:
        OpenAIEmbedder(client, model="text-embedding-3-small", dimensions=8).embed_documents(["x"])
    line = connection_failure(raised.value)
    assert line is not None
    assert line.startswith("cannot reach the OpenAI API") and "check OPENAI_BASE_URL" in line
    assert connection_failure(ValueError("a bad value")) is None


def test_bracketed_text_in_messages_is_printed_as_written(tmp_path: Path, env: dict[str, str]) -> None:
    collections = tmp_path / "collections.toml"
    collections.write_text('[[collection]]\nname = "Bad Name"\ntitle = "Bad"\n', encoding="utf-8")
    code, _, err = run({**env, "DOCSBOT_COLLECTIONS_FILE": str(collections)}, "ingest", "--collection", "x")
    assert code == 2
    assert "^[a-z0-9][a-z0-9_-]{0,62}$" in err


def test_search_results_keep_bracketed_text(tmp_path: Path, env: dict[str, str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "arrays.md").write_text(
        f"# Arrays [beta]\n\n## Indexing\n\nRead items with [bold]items[0][/bold] in zebra arrays. {PROSE}\n",
        encoding="utf-8",
    )
    base = ["--source-dir", str(docs), "--docs-base-url", "https://d.io/docs/"]
    assert run(env, "ingest", "-c", "mini", *base)[0] == 0
    code, out, err = run(env, "search", "-c", "mini", "--mode", "sparse", "zebra arrays")
    assert code == 0, err
    assert "[bold]items[0][/bold]" in out
    assert "Arrays [beta]" in out


def ingest(env: dict[str, str], docs: Path, collection: str) -> None:
    code, _, err = run(env, "ingest", "-c", collection, "--source-dir", str(docs), "--docs-base-url", "https://d.io/")
    assert code == 0, err


def test_ask_without_collection_answers_from_the_only_indexed_one_and_says_so(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env = {**env, "OPENAI_API_KEY": "", "DOCSBOT_CHAT_MODEL": ""}
    code, _, err = run(env, "ask", "what holds the state tree?")
    assert code == 2 and "no collection is indexed yet" in err

    docs = make_docs(tmp_path / "docs")
    ingest(env, docs, "mini")
    code, out, err = run(env, "ask", "what holds the state tree?")
    assert code == 0, err
    assert "answering from collection 'mini'" in err
    assert "https://d.io/intro#stores" in out

    ingest(env, docs, "other")
    code, out, err = run(env, "ask", "what holds the state tree?")
    assert code == 2
    assert "several collections are in the index: choose one with --collection (mini, other)" in err
    assert out == ""


def test_search_never_cuts_links_and_prints_json(tmp_path: Path, env: dict[str, str]) -> None:
    docs = tmp_path / "docs"
    deep = docs / "reference" / "configuration-of-the-very-long-named-subsystem"
    deep.mkdir(parents=True)
    (deep / "advanced-options-for-experienced-operators.md").write_text(
        f"# Advanced options\n\n## Tuning the zebra cache eviction policy for large deployments\n\n{PROSE} zebra\n",
        encoding="utf-8",
    )
    ingest(env, docs, "mini")
    link = (
        "https://d.io/reference/configuration-of-the-very-long-named-subsystem/advanced-options-for-experienced-"
        "operators#tuning-the-zebra-cache-eviction-policy-for-large-deployments"
    )
    code, out, err = run(env, "search", "-c", "mini", "--mode", "sparse", "zebra cache eviction")
    assert code == 0, err
    assert any(line.strip() == link for line in out.splitlines()), out  # whole, on one line, never cut

    code, out, err = run(env, "search", "-c", "mini", "--mode", "sparse", "--json", "zebra cache eviction")
    assert code == 0, err
    (first, *_) = json.loads(out)
    assert first["url"] == link and first["rank"] == 1 and first["title"] == "Advanced options"


def test_an_empty_source_dir_fails_and_creates_no_collection(tmp_path: Path, env: dict[str, str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(env, "ingest", "-c", "mini", "--source-dir", str(empty), "--docs-base-url", "https://d.io/")
    assert code != 0
    assert "has no page" in err and "no collection created" in err
    assert not (tmp_path / "data" / "index" / "mini" / "info.json").exists()
    code, _, err = run(env, "search", "-c", "mini", "x")
    assert code == 2 and "has not been indexed yet" in err


def test_status_lists_the_collections_in_the_index(tmp_path: Path, env: dict[str, str]) -> None:
    ingest(env, make_docs(tmp_path / "docs"), "mini")
    (tmp_path / "data" / "docsbot.sqlite3").unlink()  # an index built before the state store, or by the demo
    code, out, err = run(env, "status", "--json")
    assert code == 0, err
    (status,) = json.loads(out)
    assert status["collection"] == "mini" and status["pages"] == 1 and status["chunks"] >= 1
    code, out, _ = run(env, "status")
    assert "mini" in out and "No collections" not in out
