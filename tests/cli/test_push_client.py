"""`docsbot push` end to end against the ingest function served by functions-framework on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from docsbot.cli.push_client import PushState, page_json, plan_batches
from docsbot.cli.refresh import register
from docsbot.documents.model import Page
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.refresh.ingest_endpoint import MAX_DELETIONS, MAX_PAGES, IngestBatch
from tests.harness.functions_server import serve_function

REPO = Path(__file__).resolve().parents[2]
TOKEN = "push-test-token-0123456789abcdef"
BASE = "https://docs.example.com/docs/"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The real functions/ingest/main.py under functions-framework; yields (URL, its data dir)."""
    root = tmp_path_factory.mktemp("ingest")
    collections = root / "collections.toml"
    collections.write_text('[[collection]]\nname = "docs"\ntitle = "Docs"\n', encoding="utf-8")
    env = {
        "DOCSBOT_DATA_DIR": str(root / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_INGEST_TOKEN": TOKEN,
        "DOCSBOT_INGEST_MAX_BYTES": str(256 * 1024),
    }
    with serve_function(REPO / "functions" / "ingest" / "main.py", "ingest", env) as url:
        yield url, root / "data"


def write_docs(folder: Path, pages: dict[str, str]) -> None:
    for relative, text in pages.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def doc(title: str, body: str) -> str:
    return f"---\ntitle: {title}\n---\n\n{body}\n\n## Details\n\nMore about {title.lower()}.\n"


def indexed_urls(data_dir: Path, source: str = "docs") -> set[str]:
    index = EdgeIndex(data_dir / "index", "docs")
    try:
        return {point.url for point in index.stored_points(source=source)}
    finally:
        index.close()


def run_push(folder: Path, url: str, state: Path, *extra: str, token: str = TOKEN) -> Any:
    app = typer.Typer()
    register(app)
    arguments = ["push", "--collection", "docs", "--source-dir", str(folder), "--endpoint", url,
                 "--docs-base-url", BASE, "--state-file", str(state), "--max-batch-bytes", "65536", *extra]  # fmt: skip
    return CliRunner().invoke(app, arguments, env={"DOCSBOT_INGEST_TOKEN": token})


def row(output: str, label: str) -> str:
    """The summary table's row whose first cell is `label`, as one space-separated line."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0] == label:
            return " ".join(" ".join(cells).split())
    raise AssertionError(f"no row {label!r} in:\n{output}")


def test_push_sends_only_what_changed_in_batches(endpoint: tuple[str, Path], tmp_path: Path) -> None:
    url, data_dir = endpoint
    folder, state = tmp_path / "docs", tmp_path / "push-state.json"
    pages = {f"guides/topic-{n}.md": doc(f"Topic {n}", f"Topic {n} explains {'the store ' * 2500}") for n in range(6)}
    pages["intro.md"] = doc("Intro", "Welcome.")
    write_docs(folder, pages)

    first = run_push(folder, url, state)
    assert first.exit_code == 0, first.output
    assert "7 new, 0 changed" in row(first.stdout, "endpoint")
    batches = int(row(first.stdout, "sent").split(" in ")[1].split()[0])
    assert batches >= 3  # ~25 KB pages, 64 KiB batches
    assert indexed_urls(data_dir) == {f"{BASE}guides/topic-{n}" for n in range(6)} | {f"{BASE}intro"}
    remembered = json.loads(state.read_text())["pages"]
    assert len(remembered) == 7

    again = run_push(folder, url, state)
    assert again.exit_code == 0, again.output
    assert row(again.stdout, "unchanged since the last push") == "unchanged since the last push 7 (not sent)"
    assert row(again.stdout, "sent") == "sent 0 pages, 0 deletions in 0 requests"

    (folder / "guides" / "topic-0.md").write_text(doc("Topic 0", "Rewritten entirely."), encoding="utf-8")
    (folder / "guides" / "topic-5.md").unlink()
    write_docs(folder, {"faq.md": doc("FAQ", "Questions.")})
    third = run_push(folder, url, state)
    assert third.exit_code == 0, third.output
    assert row(third.stdout, "sent") == "sent 2 pages, 1 deletions in 1 requests"
    assert "1 new, 1 changed, 0 unchanged, 0 empty, 1 deleted" in row(third.stdout, "endpoint")
    assert f"{BASE}guides/topic-5" not in indexed_urls(data_dir) and f"{BASE}faq" in indexed_urls(data_dir)

    # Re-sending the same pages (a lost state file) embeds nothing on the endpoint.
    state.unlink()
    resent = run_push(folder, url, state)
    assert "0 new, 0 changed, 7 unchanged" in row(resent.stdout, "endpoint")
    assert row(resent.stdout, "chunks embedded") == "chunks embedded 0"


def test_prune_catches_up_deletions_without_a_state_file(endpoint: tuple[str, Path], tmp_path: Path) -> None:
    url, data_dir = endpoint
    folder = tmp_path / "docs"
    write_docs(folder, {f"p{n}.md": doc(f"Prune {n}", f"Page {n}.") for n in range(10)})
    state = tmp_path / "state.json"
    assert run_push(folder, url, state, "--source", "pruned").exit_code == 0
    assert len(indexed_urls(data_dir, "pruned")) == 10

    (folder / "p9.md").unlink()
    result = run_push(folder, url, tmp_path / "fresh-state.json", "--source", "pruned", "--prune")
    assert result.exit_code == 0, result.output
    assert "0 new, 0 changed, 9 unchanged, 0 empty, 1 deleted" in row(result.stdout, "endpoint")
    assert indexed_urls(data_dir, "pruned") == {f"{BASE}p{n}" for n in range(9)}

    # Pruning never empties a source by accident: a folder that lost most of its pages is refused.
    for n in range(2, 9):
        (folder / f"p{n}.md").unlink()
    refused = run_push(folder, url, tmp_path / "other-state.json", "--source", "pruned", "--prune")
    assert refused.exit_code == 1 and "would delete 7 of the 9 pages" in " ".join(refused.stderr.split())
    assert len(indexed_urls(data_dir, "pruned")) == 9


def test_refusals_are_reported(endpoint: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = endpoint
    folder = tmp_path / "docs"
    write_docs(folder, {"a.md": doc("A", "a")})
    refused = run_push(folder, url, tmp_path / "s.json", token="wrong-token-0123456789abcdef")
    assert refused.exit_code == 1
    assert "the endpoint answered 401: missing or invalid credentials" in " ".join(refused.stderr.split())
    unknown = run_push(folder, url, tmp_path / "s.json", "--source", "bad name")
    assert unknown.exit_code == 1 and "source: String should match pattern" in " ".join(unknown.stderr.split())
    app = typer.Typer()
    register(app)
    missing = CliRunner().invoke(
        app, ["push", "--collection", "docs", "--source-dir", str(folder), "--endpoint", url, "--docs-base-url", BASE],
        env={"DOCSBOT_INGEST_TOKEN": ""},
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "DOCSBOT_INGEST_TOKEN (the bearer token) is not set" in " ".join(missing.stderr.split())


def test_batches_stay_under_the_size_limit() -> None:
    pages = [
        page_json(Page(url=f"{BASE}p{n}", title=f"P{n}", markdown="é" * (n * 250), source_kind="markdown_folder"))
        for n in range(40)
    ]
    envelope = {"collection": "docs", "source": "docs"}
    batches = list(plan_batches(pages, [f"{BASE}gone-{n}" for n in range(500)], envelope, 64 * 1024))
    assert all(len(json.dumps(b).encode("utf-8")) <= 64 * 1024 for b in batches)
    assert [p["url"] for b in batches for p in b["pages"]] == [p["url"] for p in pages]
    assert sum(len(b["deletions"]) for b in batches) == 500
    assert batches[0]["deletions"]  # deletions first
    with pytest.raises(ValueError, match="over the batch size limit on its own"):
        list(plan_batches([page_json(Page(url=BASE, title="Huge", markdown="x" * 70_000, source_kind="x"))], [],
                          envelope, 64 * 1024))  # fmt: skip


def test_batches_stay_under_the_endpoints_page_and_deletion_counts() -> None:
    pages = [{"url": f"{BASE}p{n}", "title": "P", "markdown": "x", "tags": []} for n in range(2500)]
    deletions = [f"{BASE}gone-{n}" for n in range(25_000)]
    envelope = {"collection": "docs", "source": "docs"}
    batches = list(plan_batches(pages, deletions, envelope, 64 * 2**20))
    assert all(len(b["pages"]) <= MAX_PAGES and len(b["deletions"]) <= MAX_DELETIONS for b in batches)
    assert sum(len(b["pages"]) for b in batches) == 2500 and sum(len(b["deletions"]) for b in batches) == 25_000
    for batch in batches:
        IngestBatch.model_validate(batch)  # the endpoint's own request model accepts every batch


def test_a_push_deleting_every_or_most_pages_is_refused(endpoint: tuple[str, Path], tmp_path: Path) -> None:
    url, data_dir = endpoint
    folder, state = tmp_path / "docs", tmp_path / "state.json"
    write_docs(folder, {f"p{n}.md": doc(f"Guard {n}", f"Page {n}.") for n in range(10)})
    assert run_push(folder, url, state, "--source", "guarded").exit_code == 0

    for n in range(10):  # an empty checkout
        (folder / f"p{n}.md").unlink()
    empty = run_push(folder, url, state, "--source", "guarded")
    assert empty.exit_code == 1 and "the folder has no pages" in " ".join(empty.stderr.split())
    assert len(indexed_urls(data_dir, "guarded")) == 10

    write_docs(folder, {f"p{n}.md": doc(f"Guard {n}", f"Page {n}.") for n in range(7)})  # 3 of 10 gone: 30 %
    partial = run_push(folder, url, state, "--source", "guarded")
    assert partial.exit_code == 1 and "would delete 3 of the 10 pages" in " ".join(partial.stderr.split())
    assert len(indexed_urls(data_dir, "guarded")) == 10

    confirmed = run_push(folder, url, state, "--source", "guarded", "--allow-large-delete")
    assert confirmed.exit_code == 0, confirmed.output
    assert indexed_urls(data_dir, "guarded") == {f"{BASE}p{n}" for n in range(7)}


def test_the_state_file_belongs_to_one_target(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    PushState("https://a.example/ingest", "docs", "docs", {f"{BASE}a": "h"}).save(path)
    assert PushState.load(path, "https://a.example/ingest", "docs", "docs").pages == {f"{BASE}a": "h"}
    assert PushState.load(path, "https://b.example/ingest", "docs", "docs").pages == {}
    assert PushState.load(path, "https://a.example/ingest", "docs", "other").pages == {}
