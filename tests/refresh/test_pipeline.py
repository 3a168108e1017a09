"""The one refresh pipeline: the drop guard everywhere (`docsbot scrape`, `docsbot ingest`, the library), the
checkpoint in the state store, and the one-time import of the JSON crawl states of earlier versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.cli.main import app
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.refresh.pipeline import RefreshOptions, Target, deletion_refusal, ingest, refresh_source
from docsbot.settings.config import MarkdownFolderSource, SiteSource
from docsbot.sources.registry import LoadContext
from docsbot.store.sqlite import SqliteStore
from tests.harness.docs_site import generated_site, site_source
from tests.harness.fakes.site_server import SiteServer


def test_the_drop_guard_refuses_large_drops_only() -> None:
    assert deletion_refusal(reached=8, baseline=10, max_drop=0.2, allow_large_delete=False) is None
    refusal = deletion_refusal(reached=1, baseline=4, max_drop=0.2, allow_large_delete=False)
    assert refusal is not None and "75% fewer than the 4" in refusal
    assert deletion_refusal(reached=1, baseline=4, max_drop=0.2, allow_large_delete=True) is None
    assert deletion_refusal(reached=0, baseline=None, max_drop=0.2, allow_large_delete=False) is None  # first load


def write_folder(root: Path, names: list[str]) -> MarkdownFolderSource:
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob("*.md"):
        stale.unlink()
    for name in names:
        (root / f"{name}.md").write_text(f"# {name.title()}\n\n## Usage\n\nHow to use {name} well.\n", encoding="utf-8")
    return MarkdownFolderSource(kind="markdown_folder", name="docs", path=root, docs_base_url="https://d.example/")


def test_a_folder_that_lost_most_of_its_files_deletes_nothing_unless_allowed(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "index", "docs")
    store = SqliteStore(tmp_path / "state.sqlite3")
    target = Target(index, HashingEmbedder(), Bm25Encoder(), store)
    try:
        first = refresh_source(target, "docs", write_folder(tmp_path / "docs", ["a", "b", "c", "d"]))
        assert first.run.outcome == "ok" and first.run.pages_new == 4

        shrunk = refresh_source(target, "docs", write_folder(tmp_path / "docs", ["a"]))
        assert shrunk.run.outcome == "degraded" and shrunk.run.pages_deleted == 0 and not shrunk.run.complete
        assert any("75% fewer than the 4" in reason for reason in shrunk.run.reasons), shrunk.run.reasons
        assert len({p.url for p in index.stored_points(source="docs")}) == 4

        allowed = refresh_source(
            target, "docs", write_folder(tmp_path / "docs", ["a"]), options=RefreshOptions(allow_large_delete=True)
        )
        assert allowed.run.outcome == "ok" and allowed.run.pages_deleted == 3
        record = store.get_source("docs", "docs")
        assert record is not None and record.last_good_pages == 1  # the next guard measures against 1 page
    finally:
        index.close()


def test_without_a_store_the_guard_measures_against_the_index(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "index", "docs")
    target = Target(index, HashingEmbedder(), Bm25Encoder())
    try:
        ingest(target, "docs", write_folder(tmp_path / "docs", ["a", "b", "c", "d", "e"]))
        report = ingest(target, "docs", write_folder(tmp_path / "docs", ["a", "b", "c", "d"]))
        assert report.summary.pages_deleted == 1  # 20 %: within the limit
        report = ingest(target, "docs", write_folder(tmp_path / "docs", ["a"]))
        assert report.summary.pages_deleted == 0 and report.run.outcome == "degraded"
    finally:
        index.close()


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site


def scrape_env(tmp_path: Path, source: dict[str, object]) -> dict[str, str]:
    lines = ["[[collection]]", 'name = "docs"', 'title = "Docs"', "", "[[collection.source]]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in source.items()]
    collections = tmp_path / "collections.toml"
    collections.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_STATE": "sqlite",
        "OPENAI_API_KEY": "",
    }


def indexed_urls(tmp_path: Path) -> set[str]:
    index = EdgeIndex(tmp_path / "data" / "index", "docs")
    try:
        return {p.url for p in index.stored_points(source="site")}
    finally:
        index.close()


def test_docsbot_scrape_refuses_the_shrink_the_job_refuses(tmp_path: Path, server: SiteServer) -> None:
    site = generated_site(server, 4)
    env = scrape_env(tmp_path, site_source("site", site))
    runner = CliRunner()
    result = runner.invoke(app, ["scrape", "--collection", "docs"], env=env)
    assert result.exit_code == 0, result.stderr
    assert len(indexed_urls(tmp_path)) == 4

    site.listed = sorted(site.pages)[:1]  # the sitemap now lists 1 URL of 4
    result = runner.invoke(app, ["scrape", "--collection", "docs"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "75% fewer than the 4" in " ".join(result.stderr.split())
    assert len(indexed_urls(tmp_path)) == 4  # nothing deleted

    result = runner.invoke(app, ["scrape", "--collection", "docs", "--allow-large-delete"], env=env)
    assert result.exit_code == 0, result.stderr
    assert len(indexed_urls(tmp_path)) == 1


def test_json_crawl_states_of_earlier_versions_are_imported_once(tmp_path: Path, server: SiteServer) -> None:
    site = generated_site(server, 3)
    env = scrape_env(tmp_path, site_source("site", site))
    runner = CliRunner()
    assert runner.invoke(app, ["scrape", "--collection", "docs"], env=env).exit_code == 0
    # What an earlier version left behind: its JSON states, and no states in the store.
    store_file = next((tmp_path / "data").glob("*.sqlite3"))
    store = SqliteStore(store_file)
    states = store.load_pages("docs", "site")
    assert len(states) == 3
    legacy = tmp_path / "data" / "scrape-state" / "docs" / "site.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(
        json.dumps({url: {"etag": r.etag, "last_modified": r.last_modified, "content_hash": r.content_hash,
                          "page_url": r.page_url} for url, r in states.items()}),
        encoding="utf-8",
    )  # fmt: skip
    store.save_pages("docs", "site", [], replace=True)
    assert store.load_pages("docs", "site") == {}

    before = len(site.page_requests())
    result = runner.invoke(app, ["scrape", "--collection", "docs"], env=env)
    assert result.exit_code == 0, result.stderr
    # Every page but the start page (always fetched in full: its links are needed) is asked conditionally.
    start = site_source("site", site)["url"]
    later = [r for r in site.page_requests()[before:] if site.url(r.path) != start]
    assert len(later) == 2 and all(r.headers.get("if-none-match") for r in later)
    assert not legacy.exists() and legacy.with_name("site.json.imported").exists()
    assert len(store.load_pages("docs", "site")) == 3


def no_browser(url: str) -> str:
    raise AssertionError(f"no page of this site needs a browser: {url}")


def test_a_crawl_interrupted_mid_way_keeps_the_pages_of_its_committed_steps(
    tmp_path: Path, server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while the crawl is still reading pages: the steps committed so far are kept, with their
    checkpoint, and the next run asks those pages conditionally and embeds only the rest."""
    monkeypatch.setattr("docsbot.index.sync.EMBED_BATCH", 2)  # one chunk per page: a step every 2 pages
    site = generated_site(server, 8)
    source = SiteSource.model_validate({**site_source("site", site), "concurrency": 1})
    index = EdgeIndex(tmp_path / "index", "docs")
    store = SqliteStore(tmp_path / "state.sqlite3")
    target = Target(index, HashingEmbedder(), Bm25Encoder(), store)
    outcomes: list[str] = []
    committed: list[int] = []

    def interrupt_on_the_sixth_page(kind: str, value: object) -> None:
        if kind == "committed" and isinstance(value, int):
            committed.append(value)
        if kind == "outcome":
            outcomes.append(kind)
            if len(outcomes) == 6:  # 5 pages read, 3 not yet: Ctrl-C in the middle of the crawl
                raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            refresh_source(
                target, "docs", source, context=LoadContext(on_event=interrupt_on_the_sixth_page, render=no_browser)
            )
        kept = {p.url for p in index.stored_points(source="site")}
        assert len(kept) == 4 and committed == [2, 4]  # 2 steps of 2 pages committed as they arrived
        saved = store.load_pages("docs", "site")
        assert {record.page_url or url for url, record in saved.items()} == kept  # with their checkpoint

        before = len(site.page_requests())
        rerun = refresh_source(target, "docs", source, context=LoadContext(render=no_browser))
        assert rerun.run.outcome == "ok" and rerun.run.embeddings == 4  # only the 4 pages not kept
        start = site.url(min(site.pages))  # always fetched in full: its links are needed
        asked = [r for r in site.page_requests()[before:] if site.url(r.path) != start]
        assert {site.url(r.path) for r in asked if r.headers.get("if-none-match")} == kept - {start}
        assert len({p.url for p in index.stored_points(source="site")}) == 8
    finally:
        index.close()
        store.close()
