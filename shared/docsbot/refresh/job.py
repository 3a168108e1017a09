"""The scheduled scrape job: re-crawl every enabled site source (and re-read every solved-threads source) and
bring the index up to date, safely.

    job = ScrapeJob(store, open_index, embedder, sparse, options=JobOptions(task_index=0, task_count=3))
    run = job.run(collections)       # a RunRecord, also kept in the store
    sys.exit(exit_code(run))         # non-zero when a source failed entirely: Cloud Run retries the task

Sharding: the enabled collections' crawled sources, sorted by `collection/source`, are dealt round-robin to
the tasks (`task_index`, `task_count` from CLOUD_RUN_TASK_INDEX / _COUNT). Every task reads the same collections
file, so every source belongs to exactly one task, and the tasks are balanced by source count. A single large
source is crawled by one task (its crawl is already concurrent and polite per host; splitting one host's pages
over tasks would only split the host's politeness budget).

Each source is refreshed by the one pipeline, `docsbot.refresh.pipeline.refresh_source` (lease, checkpoint,
drop guard, sync, checkpoint saved after indexing: its docstring has the rules), exactly as `docsbot scrape`
and `docsbot ingest` refresh it. This module adds what only the schedule needs: sharding, run records and the
exit status. One failing source never stops the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.ports import VectorIndex
from docsbot.refresh.pipeline import RefreshOptions, Target, refresh_source, source_key
from docsbot.settings.config import CollectionsFile, SiteSource, ThreadsSource
from docsbot.sources.registry import LoadContext
from docsbot.sources.site.crawl import CrawlOptions, Render
from docsbot.sources.site.scrape import crawl_options
from docsbot.store.lease import Clock
from docsbot.store.model import utc_now
from docsbot.store.model_runs import RunRecord, SourceRun
from docsbot.store.ports import FreshnessStore

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

    def refresh_options(self) -> RefreshOptions:
        return RefreshOptions(
            max_drop=self.max_drop,
            allow_large_delete=self.accept_drop,
            full=self.full,
            lease_ttl=self.lease_ttl,
            lease_wait=self.lease_wait,
        )


def plan(collections: CollectionsFile, options: JobOptions) -> list[tuple[str, SiteSource | ThreadsSource]]:
    """The crawled and threads sources this task handles: every enabled one, sorted by key, dealt round-robin."""
    every = sorted(
        (
            (collection.name, source)
            for collection in collections.collections
            if collection.enabled and options.collection in (None, collection.name)
            for source in collection.sources
            if isinstance(source, SiteSource | ThreadsSource)  # folders are pushed or ingested, not scheduled
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

    def refresh(self, run_id: str, collection: str, source: SiteSource | ThreadsSource) -> SourceRun:
        """Refresh one source with the one pipeline; never raises for the source's own failures."""
        key = source_key(collection, source.name)
        if self.on_event:
            self.on_event("source", key)
        on_event = self.on_event
        context = LoadContext(
            on_event=(lambda kind, value: on_event(kind, value)) if on_event else LoadContext().on_event,
            render=self.render,
            crawl_options_for=self.options_for,
        )
        result = refresh_source(
            Target(None, self.embedder, self.sparse, self.store, open_index=lambda: self.open_index(collection)),
            collection,
            source,
            options=self.options.refresh_options(),
            run_id=run_id,
            clock=self.clock,
            context=context,
        ).run
        logger.log(
            {"failed": logging.ERROR, "degraded": logging.WARNING}.get(result.outcome, logging.INFO),
            f"source {key}: {result.outcome}" + (f" ({'; '.join(result.reasons)})" if result.reasons else ""),
            extra={"run_id": run_id, "source_run": result.model_dump(mode="json")},
        )
        if self.on_event:
            self.on_event("done", result)
        return result
