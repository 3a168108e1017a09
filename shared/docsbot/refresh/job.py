"""The scheduled scrape job: re-crawl every enabled site source and bring the index up to date, safely.

    job = ScrapeJob(store, open_index, embedder, sparse, options=JobOptions(task_index=0, task_count=3))
    run = job.run(collections)       # a RunRecord, also kept in the store
    sys.exit(exit_code(run))         # non-zero when a source failed entirely: Cloud Run retries the task

Sharding: the enabled collections' crawled sources, sorted by `collection/source`, are dealt round-robin to
the tasks (`task_index`, `task_count` from CLOUD_RUN_TASK_INDEX / _COUNT). Every task reads the same collections
file, so every source belongs to exactly one task, and the tasks are balanced by source count. A single large
source is crawled by one task (its crawl is already concurrent and polite per host; splitting one host's pages
over tasks would only split the host's politeness budget).

Per source, under a lease (`scrape/<collection>/<source>`) so overlapping runs never interleave writes:
1. the stored page states (HTTP validators, content hashes) make the crawl conditional: unchanged pages
   cost a 304 or, at most, a download whose content hash matches; neither embeds anything. States of pages
   the index lacks (index lost or replaced) are dropped first, so those pages are downloaded and indexed again;
   `full` (DOCSBOT_SCRAPE_FULL=1) ignores every state;
2. safe deletions: pages missing from the crawl are deleted only when the crawl completed AND it saw no far
   fewer pages than the baseline (more than `max_drop` fewer: the run is "degraded", and says why). The
   baseline is the last good crawl's page count, or the number of the source's pages already indexed if more
   (a first run after `docsbot scrape` filled the index has a baseline too); pages that failed to load and
   pages that now extract to nothing keep what was indexed (the latter degrade the run);
3. page states are saved only after the index was updated (a state saying "unchanged" must never hide a
   page the index lacks); a source that reached no page at all "failed": nothing is touched.
One failing source never stops the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.ports import VectorIndex
from docsbot.index.sync import indexed_page_urls, sync_pages
from docsbot.settings.config import CollectionsFile, SiteSource
from docsbot.sources.site.crawl import ERROR, CrawlOptions, CrawlOutcome, PageState, Render, states_in_index
from docsbot.sources.site.scrape import crawl_options, scrape_site
from docsbot.store.crawl_model import PageRecord, RunRecord, SourceRecord, SourceRun, utc_now
from docsbot.store.crawl_sqlite import FreshnessStore
from docsbot.store.lease import Clock, LeaseBusy, LeaseKeeper, acquire_lease

logger = logging.getLogger(__name__)

# ("source", "collection/source"), ("outcome", CrawlOutcome) or ("done", SourceRun)
OnEvent = Callable[[str, Any], None]


@dataclass(frozen=True)
class JobOptions:
    task_index: int = 0
    task_count: int = 1
    max_drop: float = 0.2  # a crawl seeing more than this fraction fewer pages than the last good one deletes nothing
    accept_drop: bool = False  # the operator confirms a large drop is real (docs restructured): delete anyway
    lease_ttl: timedelta = timedelta(minutes=15)
    lease_wait: float = 0.0  # seconds to wait for a source held by another run; then it is skipped
    full: bool = False  # ignore stored page states: download every page again
    collection: str | None = None  # only this collection

    def __post_init__(self) -> None:
        if not 0 <= self.task_index < self.task_count:
            raise ValueError(f"task index {self.task_index} is not in 0..{self.task_count - 1}")
        if not 0 <= self.max_drop <= 1:
            raise ValueError("max_drop is a fraction from 0 to 1")


def source_key(collection: str, source: str) -> str:
    return f"{collection}/{source}"


def plan(collections: CollectionsFile, options: JobOptions) -> list[tuple[str, SiteSource]]:
    """The crawled sources this task handles: every enabled one, sorted by key, dealt round-robin to tasks."""
    every = sorted(
        (
            (collection.name, source)
            for collection in collections.collections
            if collection.enabled and options.collection in (None, collection.name)
            for source in collection.sources
            if isinstance(source, SiteSource)
        ),
        key=lambda item: source_key(item[0], item[1].name),
    )
    return [item for position, item in enumerate(every) if position % options.task_count == options.task_index]


def new_run_id(clock: Clock, task_index: int) -> str:
    return f"{clock():%Y%m%dT%H%M%SZ}-t{task_index}-{uuid.uuid4().hex[:8]}"


def exit_code(run: RunRecord) -> int:
    """What the process should exit with: 1 when any source failed entirely (Cloud Run retries the task)."""
    return 1 if run.failed_sources else 0


class ScrapeJob:
    """Runs the scrape job over a collections file. `open_index(collection)` gives a fresh index handle;
    the job closes it when the source is done (the embedded index is locked while it is open)."""

    def __init__(
        self,
        store: FreshnessStore,
        open_index: Callable[[str], VectorIndex],
        embedder: Embedder,
        sparse: Bm25Encoder,
        *,
        options: JobOptions | None = None,
        clock: Clock = utc_now,
        options_for: Callable[[SiteSource], CrawlOptions] = crawl_options,
        render: Render | None = None,  # None: headless Chromium, started only if a page needs it
        on_event: OnEvent | None = None,
    ) -> None:
        self.store = store
        self.open_index = open_index
        self.embedder = embedder
        self.sparse = sparse
        self.options = options or JobOptions()
        self.clock = clock
        self.options_for = options_for
        self.render = render
        self.on_event = on_event

    def run(self, collections: CollectionsFile) -> RunRecord:
        """Refresh every source of this task's share; the run record is kept in the store as it goes."""
        options = self.options
        run = RunRecord(
            run_id=new_run_id(self.clock, options.task_index),
            started=self.clock(),
            task_index=options.task_index,
            task_count=options.task_count,
        )
        self.store.put_run(run)
        sources = plan(collections, options)
        logger.info(
            "scrape run started",
            extra={"run_id": run.run_id, "sources": [source_key(c, s.name) for c, s in sources]},
        )
        for collection, source in sources:
            run.sources.append(self.refresh(run.run_id, collection, source))
            self.store.put_run(run)  # progress is visible while the run goes on
        run.finish(self.clock())
        self.store.put_run(run)
        logger.log(
            logging.ERROR if run.outcome == "failed" else logging.INFO,
            f"scrape run finished: {run.outcome}",
            extra={"run_id": run.run_id, "outcome": run.outcome, "sources_handled": len(run.sources)},
        )
        return run

    def refresh(self, run_id: str, collection: str, source: SiteSource) -> SourceRun:
        """Crawl one source and update the index under its lease; never raises for the source's own failures."""
        key = source_key(collection, source.name)
        if self.on_event:
            self.on_event("source", key)
        result = SourceRun(collection=collection, source=source.name, kind=source.kind, started=self.clock())
        try:
            keeper = acquire_lease(
                self.store, f"scrape/{key}", run_id, ttl=self.options.lease_ttl, wait=self.options.lease_wait,
                clock=self.clock,
            )  # fmt: skip
        except LeaseBusy as busy:
            result.outcome, result.reasons = "skipped", [f"another run is refreshing this source: {busy}"]
        else:
            try:
                self._refresh_locked(run_id, collection, source, keeper, result)
            except Exception as error:  # one failing source must not stop the others
                logger.exception("scrape of %s failed", key, extra={"run_id": run_id})
                result.outcome = "failed"
                result.reasons.append(f"{type(error).__name__}: {error}")
                try:
                    self._remember(run_id, collection, source, result, good_pages=None)
                except Exception:
                    logger.exception("could not record the failure of %s", key, extra={"run_id": run_id})
            finally:
                keeper.release()
        result.finished = self.clock()
        logger.log(
            {"failed": logging.ERROR, "degraded": logging.WARNING}.get(result.outcome, logging.INFO),
            f"source {key}: {result.outcome}" + (f" ({'; '.join(result.reasons)})" if result.reasons else ""),
            extra={"run_id": run_id, "source_run": result.model_dump(mode="json")},
        )
        if self.on_event:
            self.on_event("done", result)
        return result

    def _refresh_locked(
        self, run_id: str, collection: str, source: SiteSource, keeper: LeaseKeeper, result: SourceRun
    ) -> None:
        index = self.open_index(collection)
        try:
            self._refresh_indexed(run_id, collection, source, keeper, result, index)
        finally:
            index.close()

    def _refresh_indexed(
        self,
        run_id: str,
        collection: str,
        source: SiteSource,
        keeper: LeaseKeeper,
        result: SourceRun,
        index: VectorIndex,
    ) -> None:
        record = self.store.get_source(collection, source.name)
        indexed = indexed_page_urls(index, source.name)
        # The drop check's baseline: the last good crawl, or what the index already holds (filled by `docsbot
        # scrape`, or before the job kept records): a first run seeing a tenth of the site must not delete the rest.
        last_good = record.last_good_pages if record is not None and record.last_good_pages else 0
        baseline = max(last_good, len(indexed)) or None
        result.baseline_pages = baseline
        stored = {} if self.options.full else self.store.load_pages(collection, source.name)
        previous = states_in_index(
            {
                url: PageState(
                    etag=r.etag, last_modified=r.last_modified, content_hash=r.content_hash, page_url=r.page_url
                )
                for url, r in stored.items()
            },
            indexed,
        )
        if len(previous) < len(stored):
            logger.info(
                "%s: %d page states dropped, their pages are not in the index: they are downloaded again",
                source_key(collection, source.name),
                len(stored) - len(previous),
                extra={"run_id": run_id},
            )
        confirmed: set[str] = set()  # URLs this crawl reached (200 or 304): their check time moves on

        def on_outcome(outcome: CrawlOutcome) -> None:
            keeper.keep()
            if outcome.state is not None and outcome.outcome != ERROR:
                confirmed.add(outcome.url)
            if self.on_event:
                self.on_event("outcome", outcome)

        scraped = scrape_site(
            source, previous=previous, options=self.options_for(source), render=self.render, on_outcome=on_outcome
        )
        crawl = scraped.summary
        result.pages_seen = crawl.pages
        result.pages_fetched = crawl.fetched + crawl.unchanged
        result.pages_not_modified = crawl.not_modified
        result.errors = dict(crawl.errors)
        result.requests = crawl.requests

        if crawl.pages == 0:
            # Nothing reached (site down, robots.txt unavailable, wrong URL): touch nothing, and fail so it is retried.
            result.outcome = "failed"
            result.reasons = ["the crawl reached no page", *crawl.problems]
            self._remember(run_id, collection, source, result, good_pages=None)
            return

        complete = crawl.completed
        if not complete:
            result.reasons.append("the crawl was incomplete, nothing deleted: " + ("; ".join(crawl.problems) or "?"))
        drop = 1 - crawl.pages / baseline if baseline else 0.0
        if baseline and drop > self.options.max_drop and not self.options.accept_drop:
            complete = False
            result.reasons.append(
                f"the crawl saw {crawl.pages} pages, {drop:.0%} fewer than the {baseline} of the last good crawl "
                f"(more than the {self.options.max_drop:.0%} allowed), nothing deleted"
            )
        result.complete = complete

        summary = sync_pages(
            index,
            self.embedder,
            self.sparse,
            scraped.pages,
            source=source.name,
            complete=complete,
            protected_urls=scraped.keep_urls,
            on_page=lambda _page: keeper.keep(),
        )
        result.pages_new = summary.pages_new
        result.pages_changed = summary.pages_changed
        result.pages_unchanged = summary.pages_unchanged + crawl.not_modified
        result.pages_deleted = summary.pages_deleted
        result.embeddings = summary.chunks_embedded
        result.chunks_deleted = summary.chunks_deleted
        if summary.pages_kept_empty:
            result.reasons.append(
                f"{summary.pages_kept_empty} pages that had content now extract to nothing: "
                "their indexed content was kept"
            )

        keeper.keep()  # still ours: only now may the states say these pages are indexed
        now = self.clock()
        self.store.save_pages(
            collection, source.name, _records(scraped.states, stored, confirmed, now), replace=complete
        )
        result.outcome = "degraded" if result.reasons else "ok"
        self._remember(run_id, collection, source, result, good_pages=crawl.pages if complete else None)

    def _remember(
        self, run_id: str, collection: str, source: SiteSource, result: SourceRun, *, good_pages: int | None
    ) -> None:
        record = self.store.get_source(collection, source.name)
        record = record or SourceRecord(collection=collection, source=source.name)
        now = self.clock()
        update: dict[str, Any] = {
            "kind": source.kind,
            "last_run_id": run_id,
            "last_outcome": result.outcome,
            "last_reasons": list(result.reasons),
            "last_started": result.started,
            "last_finished": now,
        }
        if good_pages is not None:
            update.update(last_good_pages=good_pages, last_good_at=now)
        self.store.put_source(record.model_copy(update=update))


def _records(
    states: dict[str, PageState], stored: dict[str, PageRecord], confirmed: set[str], now: datetime
) -> Iterable[PageRecord]:
    for url, state in states.items():
        before = stored.get(url)
        checked_at = now if url in confirmed or before is None else before.checked_at
        yield PageRecord(
            url=url,
            checked_at=checked_at,
            etag=state.etag,
            last_modified=state.last_modified,
            content_hash=state.content_hash,
            page_url=state.page_url,
        )
