"""The CLI fails clearly: one line saying what failed and what to check, text printed as written, no guessing."""

from __future__ import annotations

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
