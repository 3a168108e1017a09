"""The scheduled scrape job end to end on loopback sites (the store's contract is in tests/store/test_contract.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from docsbot.app.refresh import job_options
from docsbot.cli.common import CliDeps
from docsbot.cli.refresh import register
from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.chunking import chunk_page
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.ports import VectorIndex
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.refresh.job import JobOptions, ScrapeJob, exit_code, plan
from docsbot.settings.config import CollectionsFile, ConfigError, SiteSource, parse_collections
from docsbot.settings.refresh import load_job_settings
from docsbot.sources.site.crawl import CrawlOptions
from docsbot.sources.site.html_markdown import extract_page
from docsbot.sources.site.scrape import crawl_options
from docsbot.store.model_runs import RunRecord, SourceRun
from docsbot.store.sqlite import SqliteStore
from tests.harness.docs_site import DocsSite, doc_html, generated_site, long_text, site_source
from tests.harness.docusaurus_fixture import PLACEHOLDER_ORIGIN, DocusaurusSite
from tests.harness.fakes.site_server import RecordedRequest, Reply, SiteServer

REPO = Path(__file__).resolve().parents[2]


def collections(*sources: tuple[str, dict[str, Any]]) -> CollectionsFile:
    by_collection: dict[str, list[dict[str, Any]]] = {}
    for collection, source in sources:
        by_collection.setdefault(collection, []).append(source)
    return parse_collections(
        {"collection": [{"name": c, "title": c, "source": s} for c, s in sorted(by_collection.items())]}
    )


def fast_options(source: SiteSource) -> CrawlOptions:
    """The configured crawl with quick retries (a 503 site would otherwise back off for seconds)."""
    return replace(crawl_options(source), retries=1, backoff_seconds=0.01, read_timeout=5.0)


def no_browser(url: str) -> str:
    raise AssertionError(f"a static page needed the browser: {url}")


@dataclass
class Harness:
    """A scrape job on an embedded index and store in a temp dir, with the deterministic stand-in embedder."""

    root: Path
    store: SqliteStore
    opened: list[tuple[str, str, float]]  # (thread name, "open" / "close", time) of index handles

    def open_index(self, collection: str) -> VectorIndex:
        harness = self

        class Recorded(EdgeIndex):
            def close(self) -> None:
                super().close()
                harness.opened.append((threading.current_thread().name, "close", time.monotonic()))

        self.opened.append((threading.current_thread().name, "open", time.monotonic()))
        return Recorded(self.root / "index", collection)

    def job(self, **options: Any) -> ScrapeJob:
        return ScrapeJob(
            self.store,
            self.open_index,
            HashingEmbedder(),
            Bm25Encoder(),
            options=JobOptions(**options),
            options_for=fast_options,
            render=no_browser,
        )

    def points(self, collection: str) -> dict[str, set[str]]:
        """url → point ids in the collection's index."""
        index = EdgeIndex(self.root / "index", collection)
        try:
            found: dict[str, set[str]] = {}
            for point in index.stored_points():
                found.setdefault(point.url, set()).add(point.id)
            return found
        finally:
            index.close()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path, SqliteStore(tmp_path / "freshness.sqlite3"), [])


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site


def only(run: RunRecord) -> SourceRun:
    (source,) = run.sources
    return source


# --- the job on the real Docusaurus site ------------------------------------------------------------------


def test_a_second_run_on_the_docusaurus_site_embeds_nothing(docusaurus_site: DocusaurusSite, harness: Harness) -> None:
    source = {"kind": "docusaurus", "name": "site", "url": f"{docusaurus_site.base_url}/docs/intro"}
    config = collections(("site", {**source, "prefix": "/docs/", "delay_seconds": 0}))

    first = harness.job().run(config)
    assert first.outcome == "ok" and exit_code(first) == 0
    assert only(first).pages_new == 5 and only(first).embeddings > 0

    second = harness.job().run(config)
    run = only(second)
    assert second.outcome == "ok"
    assert run.embeddings == 0 and run.pages_new == run.pages_changed == run.pages_deleted == 0
    assert run.pages_unchanged == 5
    assert harness.store.get_run(second.run_id) == second  # the run record is kept
    record = harness.store.get_source("site", "site")
    assert record is not None and record.last_outcome == "ok" and record.last_good_pages == 5


def served_build(build_dir: Path, site: DocsSite) -> None:
    """The Docusaurus build's pages served by `site` (validators and 304s), with the origin rewritten."""
    for html_file in sorted(build_dir.rglob("index.html")):
        relative = html_file.parent.relative_to(build_dir).as_posix()
        if relative.startswith("docs/"):
            html = html_file.read_text(encoding="utf-8").replace(PLACEHOLDER_ORIGIN, site.server.url)
            site.put(f"/{relative}", html)


def test_a_second_run_sends_conditional_requests_and_gets_304s(
    docusaurus_site: DocusaurusSite, harness: Harness, server: SiteServer
) -> None:
    site = DocsSite(server)
    served_build(docusaurus_site.build_dir, site)
    start = "/docs/intro"
    config = collections(("site", site_source("site", site, start)))
    first = only(harness.job().run(config))
    assert first.pages_new == 5 and first.embeddings > 0  # the current version; 1.0 pages are skipped

    before = len(server.requests)
    second = only(harness.job().run(config))
    assert second.outcome == "ok" and second.embeddings == 0
    indexed = {p.rstrip("/") for p in site.pages if not p.startswith("/docs/1.0/")}
    requests = {r.path: r for r in server.requests[before:] if r.path in indexed}
    assert set(requests) == indexed
    # Every indexed page but the start page (always fetched in full: its links and docs version are needed).
    for path in indexed - {start}:
        headers = requests[path].headers
        assert "if-none-match" in headers and "if-modified-since" in headers, path
    assert second.pages_not_modified == len(indexed) - 1 and second.pages_fetched == 1


def test_pages_without_chunks_keep_their_validators_and_never_need_the_browser(
    harness: Harness, server: SiteServer
) -> None:
    site = generated_site(server, 3)
    links = '<ul><li><a href="/docs/page-1">Page 1</a></li><li><a href="/docs/page-2">Page 2</a></li></ul>'
    site.put("/docs/guides", doc_html("Guides", []))  # a title and no article
    site.put("/docs/index", doc_html("Index", []).replace("</header>", "</header>" + links))  # links only
    config = collections(("docs", site_source("site", site, "/docs/page-0")))
    first = only(harness.job().run(config))  # the job's renderer fails any page sent to the browser
    assert first.outcome == "ok" and first.errors == {}, (first.errors, first.reasons)
    assert first.pages_new == 3 and set(harness.points("docs")) == {site.url(f"/docs/page-{n}") for n in range(3)}

    before = len(server.requests)
    second = only(harness.job().run(config))
    assert second.outcome == "ok" and second.embeddings == 0
    answers = {r.path: r for r in server.requests[before:]}
    for path in ("/docs/guides", "/docs/index"):  # asked conditionally, not downloaded again
        assert "if-none-match" in answers[path].headers, path
    assert second.pages_not_modified == 4 and second.pages_fetched == 1  # all but the start page


# --- incremental updates, sharding ---------------------------------------------------------------------------


def test_editing_one_page_reembeds_only_its_changed_chunks(harness: Harness, server: SiteServer) -> None:
    site = DocsSite(server)
    sections = [(f"part-{k}", long_text(f"p{k}w")) for k in range(4)]
    for n in range(4):
        site.put(f"/docs/page-{n}", doc_html(f"Page {n}", [(a, f"{n} {t}") for a, t in sections]))
    config = collections(("docs", site_source("site", site)))
    first = only(harness.job().run(config))
    assert first.pages_new == 4

    def chunk_ids(path: str) -> set[str]:
        extracted = extract_page(site.pages[path], site.url(path))
        page = Page(url=site.url(path), title=extracted.title, markdown=extracted.markdown, source_kind="docusaurus")
        return {c.point_id for c in chunk_page(page)}

    old_ids = chunk_ids("/docs/page-2")
    edited = [(a, f"2 {t}") for a, t in sections]
    edited[1] = ("part-1", long_text("rewritten"))
    site.put("/docs/page-2", doc_html("Page 2", edited))
    new_ids = chunk_ids("/docs/page-2")
    assert 0 < len(new_ids - old_ids) < len(new_ids)  # the edit touches some of the page's chunks, not all

    second = only(harness.job().run(config))
    assert second.pages_changed == 1 and second.pages_unchanged == 3
    assert second.embeddings == len(new_ids - old_ids)
    assert harness.points("docs")[site.url("/docs/page-2")] == new_ids


def test_three_shards_together_touch_every_page_exactly_once(harness: Harness, server: SiteServer) -> None:
    sites = [generated_site(server, 4, prefix=f"/s{k}/") for k in range(7)]
    config = collections(*((f"c{k % 2}", site_source(f"site{k}", site)) for k, site in enumerate(sites)))
    every_key = {f"c{k % 2}/site{k}" for k in range(7)}

    runs = [harness.job(task_index=i, task_count=3).run(config) for i in range(3)]
    handled = [f"{s.collection}/{s.source}" for run in runs for s in run.sources]
    assert sorted(handled) == sorted(every_key)  # each source by exactly one task
    assert [len(run.sources) for run in runs] == [3, 2, 2]  # dealt round-robin: balanced
    page_paths = [r.path for r in server.requests if "/page-" in r.path]
    assert len(page_paths) == len(set(page_paths)) == 7 * 4  # every page fetched once, by one task
    indexed = {url for c in ("c0", "c1") for url in harness.points(c)}
    assert indexed == {site.url(p) for site in sites for p in site.pages}
    # The same plan whatever the order of the collections file.
    shuffled = parse_collections({"collection": list(reversed(config.model_dump(by_alias=True)["collection"]))})
    assert [plan(shuffled, JobOptions(task_index=i, task_count=3)) for i in range(3)] == [
        plan(config, JobOptions(task_index=i, task_count=3)) for i in range(3)
    ]


# --- safe deletions --------------------------------------------------------------------------------------------


def test_a_site_answering_503_keeps_the_index_and_fails_the_run(harness: Harness, server: SiteServer) -> None:
    site = generated_site(server, 6)
    config = collections(("docs", site_source("site", site)))
    assert harness.job().run(config).outcome == "ok"
    points = harness.points("docs")
    assert len(points) == 6

    site.down = True
    run = harness.job().run(config)
    source = only(run)
    assert run.outcome == "failed" and exit_code(run) == 1
    assert source.outcome == "failed" and "the crawl reached no page" in source.reasons
    assert any("robots.txt" in reason for reason in source.reasons), source.reasons
    assert harness.points("docs") == points  # every point kept
    record = harness.store.get_source("docs", "site")
    assert record is not None and record.last_outcome == "failed" and record.last_good_pages == 6
    assert len(harness.store.load_pages("docs", "site")) == 6  # the page states are kept too


def test_pages_answering_503_on_a_complete_crawl_keep_their_points(harness: Harness, server: SiteServer) -> None:
    site = generated_site(server, 10)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 10
    points = harness.points("docs")
    assert len(points) == 10

    site.failing = {"/docs/page-3", "/docs/page-7"}
    source = only(harness.job().run(config))
    assert source.errors == {"http_503": 2}, source.errors
    assert source.pages_deleted == 0
    assert harness.points("docs") == points  # the two failing pages keep what was indexed
    states = harness.store.load_pages("docs", "site")
    assert len(states) == 10  # and their states, as they were

    site.failing = set()  # back again: still there, nothing re-embedded
    source = only(harness.job().run(config))
    assert source.pages_deleted == 0 and source.embeddings == 0 and harness.points("docs") == points


def test_a_site_that_stops_answering_mid_crawl_fails_the_job_says_why_and_deletes_nothing(
    harness: Harness, server: SiteServer
) -> None:
    # The job's crawl: 4 requests at once, retries. The sitemap lists page-0, page-1, page-10 … page-19, page-2,
    # page-20 … page-29, page-3 …: with pages 10-29 dropping their connection, runs of 10 failures with a page
    # that loads after each. Counted in the order requests start, the decision does not depend on which
    # worker finishes first (tests/sources/site/test_crawl.py forces the order that used to hide it).
    site = generated_site(server, 30)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 30
    points = harness.points("docs")

    site.dropping = {f"/docs/page-{n}" for n in range(10, 30)}
    run = harness.job().run(config)
    source = only(run)
    assert run.outcome == "failed" and exit_code(run) == 1
    assert source.outcome == "failed"
    assert any("stopped answering (10 pages in a row could not be fetched" in r for r in source.reasons), source.reasons
    assert source.errors.get("connection", 0) >= 10 and source.pages_deleted == 0
    assert harness.points("docs") == points  # nothing deleted, nothing emptied
    record = harness.store.get_source("docs", "site")
    assert record is not None and record.last_outcome == "failed" and record.last_good_pages == 30
    assert any("stopped answering" in reason for reason in record.last_reasons), record.last_reasons
    assert len(harness.store.load_pages("docs", "site")) == 30  # every page state kept


def test_a_redesign_that_breaks_extraction_keeps_the_index_and_degrades_the_run(
    harness: Harness, server: SiteServer
) -> None:
    site = generated_site(server, 8)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 8
    points = harness.points("docs")

    for path in sorted(site.pages)[2:]:  # the new theme: an article without any text the extractor finds
        site.put(path, doc_html(path, [("intro", "")]))
    run = harness.job().run(config)
    source = only(run)
    assert run.outcome == "degraded" and source.pages_deleted == 0 and source.chunks_deleted == 0
    assert any("6 pages that had content now extract to nothing" in r for r in source.reasons), source.reasons
    assert harness.points("docs") == points


def test_a_lost_index_is_refilled_although_the_page_states_say_unchanged(harness: Harness, server: SiteServer) -> None:
    site = generated_site(server, 5)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 5
    points = harness.points("docs")

    shutil.rmtree(harness.root / "index")  # the index is lost (or replaced by an empty one); the states stay
    source = only(harness.job().run(config))
    assert source.outcome == "ok" and source.pages_new == 5 and source.pages_not_modified == 0
    assert harness.points("docs") == points

    # One page lost from the index: only it is downloaded again, the others still answer 304.
    index = EdgeIndex(harness.root / "index", "docs")
    try:
        index.delete(sorted(points[site.url("/docs/page-3")]))
    finally:
        index.close()
    source = only(harness.job().run(config))
    assert source.pages_new == 1 and source.pages_not_modified == 4 - 1  # the start page is always fetched
    assert harness.points("docs") == points


def test_the_full_switch_ignores_every_page_state(harness: Harness, server: SiteServer) -> None:
    options = job_options(load_job_settings({"DOCSBOT_SCRAPE_FULL": "1"}))
    assert options.full and not job_options(load_job_settings({})).full
    with pytest.raises(ConfigError, match="DOCSBOT_SCRAPE_FULL"):
        load_job_settings({"DOCSBOT_SCRAPE_FULL": "maybe"})
    site = generated_site(server, 3)
    config = collections(("docs", site_source("site", site)))
    harness.job().run(config)
    source = only(harness.job(full=True).run(config))
    assert source.pages_not_modified == 0 and source.pages_fetched == 3 and source.embeddings == 0


def test_a_first_job_run_takes_the_indexed_pages_as_its_drop_baseline(harness: Harness, server: SiteServer) -> None:
    site = generated_site(server, 20)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 20  # stands for `docsbot scrape`: the index is full...
    points = harness.points("docs")
    harness.store = SqliteStore(harness.root / "fresh.sqlite3")  # ...but the job has no record yet

    site.listed = sorted(site.pages)[:2]
    source = only(harness.job().run(config))
    assert source.outcome == "degraded" and source.pages_deleted == 0 and source.baseline_pages == 20
    assert any("90% fewer than the 20" in r for r in source.reasons), source.reasons
    assert harness.points("docs") == points


def test_a_sitemap_listing_a_tenth_of_the_pages_deletes_nothing(harness: Harness, server: SiteServer) -> None:
    site = generated_site(server, 20)
    config = collections(("docs", site_source("site", site)))
    assert only(harness.job().run(config)).pages_new == 20
    points = harness.points("docs")

    site.listed = sorted(site.pages)[:2]
    run = harness.job().run(config)
    source = only(run)
    assert run.outcome == "degraded" and exit_code(run) == 0
    assert source.pages_deleted == 0 and not source.complete
    assert any("90% fewer than the 20 of the last good refresh" in r for r in source.reasons), source.reasons
    assert harness.points("docs") == points
    stored = harness.store.get_run(run.run_id)
    assert stored is not None and stored.sources[0].reasons == source.reasons

    # A small drop (one page of twenty removed) is a real deletion.
    site.listed = sorted(site.pages)[:-1]
    source = only(harness.job().run(config))
    assert source.outcome == "ok" and source.pages_deleted == 1
    assert set(harness.points("docs")) == {site.url(p) for p in site.listed}

    # An operator may confirm a large drop.
    site.listed = sorted(site.pages)[:3]
    source = only(harness.job(accept_drop=True).run(config))
    assert source.outcome == "ok" and source.pages_deleted == 16
    assert set(harness.points("docs")) == {site.url(p) for p in site.listed}


# --- one run at a time per source ----------------------------------------------------------------------------


def slow_site(server: SiteServer) -> DocsSite:
    site = generated_site(server, 4)
    for path in site.pages:
        page_handler = site._page

        def slow(request: RecordedRequest, handler: Callable[[RecordedRequest], Reply] = page_handler) -> Reply:
            return replace(handler(request), delay=0.15)

        server.route(path, slow)
    return site


def run_two_at_once(harness: Harness, config: CollectionsFile, **options: Any) -> list[RunRecord]:
    runs: list[RunRecord] = []

    def run(name: str) -> None:
        runs.append(harness.job(**options).run(config))

    threads = [threading.Thread(target=run, args=(f"run-{k}",), name=f"run-{k}") for k in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    return runs


def test_two_runs_at_once_one_skips(harness: Harness, server: SiteServer) -> None:
    config = collections(("docs", site_source("site", slow_site(server))))
    runs = run_two_at_once(harness, config)
    outcomes = sorted(only(run).outcome for run in runs)
    assert outcomes == ["ok", "skipped"]
    skipped = next(only(run) for run in runs if only(run).outcome == "skipped")
    assert "another run is refreshing this source" in skipped.reasons[0]
    assert {name for name, _, _ in harness.opened} == {"run-0"}  # only one run touched the index
    assert len(harness.points("docs")) == 4


def test_two_runs_at_once_one_waits_and_writes_after_the_other(harness: Harness, server: SiteServer) -> None:
    config = collections(("docs", site_source("site", slow_site(server))))
    runs = run_two_at_once(harness, config, lease_wait=30.0)
    assert [only(run).outcome for run in runs] == ["ok", "ok"]
    events = [(name, kind) for name, kind, _ in sorted(harness.opened, key=lambda e: e[2])]
    assert events == [("run-0", "open"), ("run-0", "close"), ("run-1", "open"), ("run-1", "close")]
    assert sorted(only(run).embeddings > 0 for run in runs) == [False, True]  # the second found it all done


# --- the plan, the commands, the Cloud Run entry point -----------------------------------------------------------


def test_job_options_are_checked() -> None:
    with pytest.raises(ValueError, match="task index 3"):
        JobOptions(task_index=3, task_count=3)


def write_collections(path: Path, site: DocsSite) -> Path:
    path.write_text(
        f"""[[collection]]
name = "docs"
title = "Docs"

[[collection.source]]
kind = "docusaurus"
name = "site"
url = "{site.url(min(site.pages))}"
prefix = "/docs/"
sitemap_url = "{site.sitemap_url}"
delay_seconds = 0
""",
        encoding="utf-8",
    )
    return path


def test_scrape_job_and_status_commands(tmp_path: Path, server: SiteServer) -> None:
    """The job's clock and the status command's clock are injected: no output depends on the wall clock."""
    site = generated_site(server, 5)
    ran_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    then = CliDeps(clock=lambda: ran_at)
    env = {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(write_collections(tmp_path / "collections.toml", site)),
        "OPENAI_API_KEY": "",
        "DOCSBOT_STATE": "sqlite",
    }
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["scrape-job"], env=env, obj=then)
    assert result.exit_code == 0, result.output
    assert "docs/site" in result.stdout and "ok" in result.stdout

    result = runner.invoke(app, ["status"], env=env, obj=then)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "│ docs " in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1:6] == ["0 s ago", "ok", "5", "5", "0 s"], result.stdout  # last run, outcome, pages, chunks, oldest

    later = CliDeps(clock=lambda: ran_at + timedelta(minutes=90))
    result = runner.invoke(app, ["status"], env=env, obj=later)
    row = next(line for line in result.stdout.splitlines() if "│ docs " in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1] == "1.5 h ago", result.stdout

    result = runner.invoke(app, ["status", "--json"], env=env, obj=later)
    (status,) = json.loads(result.stdout)
    assert status["collection"] == "docs" and status["pages"] == 5 and status["chunks"] >= 5
    assert status["last_outcome"] == "ok" and status["oldest_page_age_seconds"] == 90 * 60

    site.down = True
    result = runner.invoke(app, ["scrape-job", "--collection", "docs"], env=env)
    assert result.exit_code == 1 and "failed" in result.stdout


def test_the_cloud_run_entry_point_logs_json_and_exits_non_zero_on_failure(tmp_path: Path, server: SiteServer) -> None:
    site = generated_site(server, 3)
    site.down = True
    env = {
        **os.environ,
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(write_collections(tmp_path / "collections.toml", site)),
        "OPENAI_API_KEY": "",
        "CLOUD_RUN_TASK_INDEX": "0",
        "CLOUD_RUN_TASK_COUNT": "1",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "functions" / "scrape_job" / "main.py")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    finished = next(line for line in lines if line["message"].startswith("scrape run finished"))
    assert finished["severity"] == "ERROR" and finished["outcome"] == "failed"
    source = next(line for line in lines if "source_run" in line)
    assert source["source_run"]["outcome"] == "failed"

    bad = {**env, "CLOUD_RUN_TASK_INDEX": "4", "CLOUD_RUN_TASK_COUNT": "2"}
    done = subprocess.run(
        [sys.executable, str(REPO / "functions" / "scrape_job" / "main.py")],
        env=bad, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "CLOUD_RUN_TASK_INDEX (4) must be less than" in done.stdout
