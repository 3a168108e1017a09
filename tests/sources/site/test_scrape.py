"""Site sources end to end: the real Docusaurus build crawled into the index, statically and with Chromium."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from docsbot.cli.main import app
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.refresh.pipeline import SourceReport, Target, ingest
from docsbot.settings.config import SiteSource
from docsbot.sources.registry import LoadContext
from docsbot.sources.site.browser import ChromiumRenderer
from docsbot.sources.site.crawl import FETCHED, NOT_MODIFIED, UNCHANGED
from docsbot.sources.site.scrape import crawl_options, scrape_site
from docsbot.sources.snapshot import read_snapshot
from docsbot.store.sqlite import SqliteStore
from tests.harness.docusaurus_fixture import DocusaurusSite
from tests.harness.fakes.js_site import ARTICLE_TEXT, JsSite

os.environ.setdefault("SE_OFFLINE", "true")
# The current version's docs pages, and the category index page Docusaurus generates for guides/.
CURRENT_DOCS = {"/docs/intro", "/docs/guides/install", "/docs/guides/config", "/docs/faq", "/docs/category/guides"}


def site_source(site: DocusaurusSite, **changes: object) -> SiteSource:
    fields: dict[str, object] = {
        "kind": "docusaurus",
        "name": "site",
        "url": f"{site.base_url}/docs/intro",
        "prefix": "/docs/",
        "delay_seconds": 0.0,
    }
    return SiteSource.model_validate({**fields, **changes})


def refresh(index: EdgeIndex, store: SqliteStore, source: SiteSource, **kwargs: object) -> SourceReport:
    """The one refresh pipeline, as `docsbot scrape` runs it (crawl states in the store)."""
    target = Target(index, HashingEmbedder(), Bm25Encoder(), store)
    return ingest(target, "site", source, **kwargs)  # type: ignore[arg-type]


def no_browser(url: str) -> str:
    raise AssertionError(f"a static Docusaurus page needed the browser: {url}")


def paths(urls: list[str], base: str) -> set[str]:
    return {u.removeprefix(base).rstrip("/") for u in urls}


def test_the_current_docs_version_is_crawled_via_the_sitemap(docusaurus_site: DocusaurusSite) -> None:
    source = site_source(docusaurus_site)
    scraped = scrape_site(source, render=no_browser)
    assert paths([p.url for p in scraped.pages], docusaurus_site.base_url) == CURRENT_DOCS
    summary = scraped.summary
    assert summary.discovery == "sitemap" and summary.completed
    assert summary.skipped_version >= 2  # the 1.0 pages are not the current version
    assert summary.error_count == 0
    for page in scraped.pages:
        assert page.markdown.strip() and page.title
        assert "data:image" not in page.markdown
        assert "Edit this page" not in page.markdown


def test_scraping_into_the_index_is_incremental(docusaurus_site: DocusaurusSite, tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "index", "site")
    store = SqliteStore(tmp_path / "state.sqlite3")
    sparse = Bm25Encoder()
    source = site_source(docusaurus_site)
    try:
        first = refresh(index, store, source)
        assert first.summary.pages_new == len(CURRENT_DOCS) and first.summary.chunks_embedded > 0
        states = store.load_pages("site", "site")
        assert paths(list(states), docusaurus_site.base_url) >= CURRENT_DOCS

        seen: list[str] = []

        def on_event(kind: str, value: Any) -> None:
            if kind == "outcome":  # crawl outcomes; "embedded" progress events come too
                seen.append(value.outcome)

        again = refresh(index, store, source, context=LoadContext(on_event=on_event))
        assert again.summary.chunks_embedded == 0 and again.summary.pages_deleted == 0
        assert FETCHED not in seen and set(seen) & {NOT_MODIFIED, UNCHANGED}
        best = Searcher(index, None, sparse).search("Homebrew", limit=1, mode="sparse").sources[0]
        # Small sibling sections share a chunk; the section's anchor is among the chunk's anchors.
        assert best.url.rstrip("/") == f"{docusaurus_site.base_url}/docs/guides/install"
        assert "macos" in best.anchors
    finally:
        index.close()


@pytest.mark.slow
def test_chromium_renders_the_same_markdown_as_the_static_html(docusaurus_site: DocusaurusSite) -> None:
    static = {p.url.rstrip("/"): p.markdown for p in scrape_site(site_source(docusaurus_site), render=no_browser).pages}
    source = site_source(docusaurus_site, javascript=True)
    with ChromiumRenderer(wait_timeout=5.0) as browser:
        rendered = scrape_site(source, options=crawl_options(source), render=browser.render)
        assert browser.driver_starts == 1  # one browser for the whole crawl
    assert rendered.summary.rendered >= len(CURRENT_DOCS)  # the other version's pages are rendered, then skipped
    # After hydration the canonical link carries the browser's trailing slash; the markdown is identical.
    assert {p.url.rstrip("/"): p.markdown for p in rendered.pages} == static


def test_a_page_whose_article_needs_javascript_is_rendered() -> None:
    with JsSite() as site, ChromiumRenderer(wait_timeout=5.0) as browser:
        source = SiteSource(kind="sitemap", name="js", url=site.url("/js-article.html"), max_pages=1, delay_seconds=0)
        options = crawl_options(source)
        scraped = scrape_site(source, options=options, render=browser.render)
    assert scraped.summary.rendered == 1
    (page,) = scraped.pages
    assert ARTICLE_TEXT in page.markdown


def test_scrape_and_snapshot_commands(docusaurus_site: DocusaurusSite, tmp_path: Path) -> None:
    collections = tmp_path / "collections.toml"
    collections.write_text(
        f"""[[collection]]
name = "site"
title = "Test site"

[[collection.source]]
kind = "docusaurus"
name = "site"
url = "{docusaurus_site.base_url}/docs/intro"
prefix = "/docs/"
delay_seconds = 0
""",
        encoding="utf-8",
    )
    env = {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "OPENAI_API_KEY": "",
    }
    runner = CliRunner()
    snapshot = tmp_path / "site.jsonl"
    result = runner.invoke(app, ["scrape", "--collection", "site", "--out", str(snapshot)], env=env)
    assert result.exit_code == 0, result.stderr
    assert f"{len(CURRENT_DOCS)} pages written" in result.stdout
    header, pages = read_snapshot(snapshot)
    assert header.complete and header.source == "site"
    assert paths([p.url for p in pages], docusaurus_site.base_url) == CURRENT_DOCS

    result = runner.invoke(app, ["ingest", "--collection", "snap", "--snapshot", str(snapshot)], env=env)
    assert result.exit_code == 0, result.stderr
    assert f"{len(CURRENT_DOCS)} ({len(CURRENT_DOCS)} new" in result.stdout

    result = runner.invoke(app, ["scrape", "--collection", "site"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "fetched" in result.stdout and "complete" in result.stdout

    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"docsbot_snapshot": 1, "source": "x"}) + "\n{not json\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "--collection", "snap", "--snapshot", str(broken)], env=env)
    assert result.exit_code == 2 and "line 2 is not JSON" in " ".join(result.stderr.split())


def test_a_lost_index_is_refilled_by_the_next_scrape(tmp_path: Path) -> None:
    from tests.harness.docs_site import generated_site
    from tests.harness.docs_site import site_source as validating_source
    from tests.harness.fakes.site_server import SiteServer

    with SiteServer() as server:
        site = generated_site(server, 5)  # sends ETag / Last-Modified and answers 304
        source = SiteSource.model_validate(validating_source("site", site))
        index = EdgeIndex(tmp_path / "index", "site")
        store = SqliteStore(tmp_path / "state.sqlite3")
        try:
            first = refresh(index, store, source)
            index.drop()  # the index is lost; the crawl states in the store still hold every page's validators
            again = refresh(index, store, source)
            assert again.summary.pages_new == first.summary.pages_new == 5
        finally:
            index.close()
