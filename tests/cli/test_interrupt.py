"""Ctrl-C during `docsbot ingest` and `docsbot scrape`: exit 130, say what was kept, and the next run continues.

The interruption is a KeyboardInterrupt raised by the embedder on a chosen call (what Python raises on SIGINT in
the main thread), so the point where it lands is deterministic: after some steps were committed to the index.
Steps are made small (`EMBED_BATCH`) so a few pages give several steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.cli.main import app
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.settings.config import Settings
from tests.harness.docs_site import generated_site, site_source
from tests.harness.fakes.site_server import SiteServer
from tests.refresh.test_pipeline import scrape_env


class CountingEmbedder(HashingEmbedder):
    """The stand-in embedder; raises KeyboardInterrupt on its `interrupt_at`-th call (0: never); counts texts."""

    def __init__(self, interrupt_at: int = 0) -> None:
        super().__init__()
        self.calls = 0
        self.interrupt_at = interrupt_at
        self.texts = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        self.texts += len(texts)
        return super().embed_documents(texts)


@pytest.fixture
def embedders(monkeypatch: pytest.MonkeyPatch) -> list[CountingEmbedder]:
    """The embedders the commands use, in order: set `interrupt_at` on the next one by appending it first."""
    queue: list[CountingEmbedder] = []

    def make_embedder(_settings: Settings) -> CountingEmbedder:
        return queue.pop(0)

    monkeypatch.setattr("docsbot.app.indexes.make_embedder", make_embedder)
    monkeypatch.setattr("docsbot.index.sync.EMBED_BATCH", 2)  # 2 chunks per committed step
    return queue


def page_urls(index_dir: Path, collection: str, source: str) -> set[str]:
    index = EdgeIndex(index_dir, collection)
    try:
        return {p.url for p in index.stored_points(source=source)} if index.info() is not None else set()
    finally:
        index.close()


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_ctrl_c_during_ingest_exits_130_says_what_was_kept_and_the_rerun_embeds_the_rest(
    tmp_path: Path, embedders: list[CountingEmbedder]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(6):  # one chunk per page
        (docs / f"page-{n}.md").write_text(f"# Page {n}\n\nPage {n} explains topic {n} in detail.\n", encoding="utf-8")
    env = {"DOCSBOT_DATA_DIR": str(tmp_path / "data"), "DOCSBOT_EMBEDDER": "hashing", "DOCSBOT_COLLECTIONS_FILE": ""}
    command = ["ingest", "--collection", "mini", "--source-dir", str(docs), "--docs-base-url", "https://d.io/docs/"]
    runner = CliRunner()

    embedders.append(CountingEmbedder(interrupt_at=3))  # steps 1 and 2 (4 pages) are committed, then Ctrl-C
    result = runner.invoke(app, command, env=env)
    assert result.exit_code == 130, result.output
    kept = page_urls(tmp_path / "data" / "index", "mini", "docs")
    assert len(kept) == 4
    message = one_line(result.stderr)
    assert "interrupted" in message and "mini/docs: 4 pages" in message, message
    assert "run the same command again" in message

    rerun = CountingEmbedder()
    embedders.append(rerun)
    result = runner.invoke(app, command, env=env)
    assert result.exit_code == 0, result.output
    assert rerun.texts == 2  # only the 2 pages the interruption cut off are embedded
    assert len(page_urls(tmp_path / "data" / "index", "mini", "docs")) == 6


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site


def test_ctrl_c_during_scrape_keeps_the_committed_pages_and_their_checkpoint(
    tmp_path: Path, server: SiteServer, embedders: list[CountingEmbedder]
) -> None:
    site = generated_site(server, 8)
    env = scrape_env(tmp_path, site_source("site", site))
    runner = CliRunner()

    embedders.append(CountingEmbedder(interrupt_at=3))  # 4 pages committed in 2 steps, then Ctrl-C
    result = runner.invoke(app, ["scrape", "--collection", "docs"], env=env)
    assert result.exit_code == 130, result.output
    kept = page_urls(tmp_path / "data" / "index", "docs", "site")
    assert len(kept) == 4
    assert "docs/site: 4 pages" in one_line(result.stderr), result.stderr

    before = len(site.page_requests())
    rerun = CountingEmbedder()
    embedders.append(rerun)
    result = runner.invoke(app, ["scrape", "--collection", "docs"], env=env)
    assert result.exit_code == 0, result.output
    assert rerun.texts == 4  # the 4 committed pages are not embedded again
    start = site.url(min(site.pages))  # the start page is always fetched in full: its links are needed
    asked = [r for r in site.page_requests()[before:] if site.url(r.path) != start]
    conditional = {site.url(r.path) for r in asked if r.headers.get("if-none-match")}
    assert conditional == kept - {start}  # the committed pages' validators were saved with their step
    assert len(page_urls(tmp_path / "data" / "index", "docs", "site")) == 8
