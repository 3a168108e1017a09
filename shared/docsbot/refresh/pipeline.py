"""The one refresh pipeline: load a source → drop guard → sync the index → save the checkpoint.

`docsbot ingest`, `docsbot scrape` and the scheduled job (`docsbot.refresh.job`) all refresh a source with
`refresh_source`, so one set of safety rules holds everywhere:

1. one writer per source: a lease (`source/<collection>/<source>`) kept alive while the source loads and
   indexes; a source another run holds is "skipped"; a site that stopped answering mid-crawl "failed";
2. the last checkpoint (crawl states: HTTP validators and content hashes) makes the load incremental; states
   of pages the index lacks are dropped first, so a lost index is refilled (pages that gave no chunks keep
   theirs: see `docsbot.refresh.records`); `full` ignores every state;
3. the drop guard: pages missing from the load are deleted only when the load is complete AND it reached no
   more than `max_drop` fewer pages than the baseline (the last good load's count, or the source's pages
   already indexed if more); otherwise the refresh is "degraded", deletes nothing and says why;
   `allow_large_delete` is the operator's explicit override (a restructured site);
4. pages that failed to load keep what was indexed; a crawled source that reached no page at all "failed"
   and nothing is touched;
5. the checkpoint is saved only after the index was updated: a state saying "unchanged" must never hide a
   page the index lacks. The states of a crawl's pages are saved with each committed step of the sync, so an
   interrupted run (Ctrl-C, a killed job) keeps what it indexed and the next run asks those pages
   conditionally; the whole checkpoint (and, for a complete load, forgetting vanished pages) is saved at the end.

A crawl is streamed (`LoadedSource.streamed`): its pages are indexed in steps as they arrive (memory holds a
step, not the site), each step committed with its pages' crawl states, so Ctrl-C or a crash mid-crawl keeps
every committed step. The guard and the deletions still wait for the end of the crawl: they need the whole
load, and a partial run deletes nothing. The chunk total of a streamed load grows as pages arrive.

The store is also where the solved-threads source reads (`LoadContext.threads`, when the store has the bot's
roles: the whole store does). Without a store (`store=None`: library use, tests, the demo) there is no lease,
no checkpoint and no record;
the guard still holds, with the indexed page count as its baseline. Exceptions of a source are turned into
a "failed" outcome with the reason: one failing source never stops the others.

Long because: the safety rules above (lease, checkpoint, streamed steps, guard) hold in one function, and the
callers' thin wrappers (`ingest`, `ingest_folder`) sit beside it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from docsbot.errors import TransientError
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.ports import VectorIndex
from docsbot.index.sync import SourceSync, SyncSummary, indexed_page_urls
from docsbot.refresh.records import chunkless_pages, page_records, remember, trusted_states
from docsbot.settings.config import SourceConfig
from docsbot.sources.registry import LoadContext, LoadedSource, SnapshotSource, load_source
from docsbot.store.lease import Clock, LeaseBusy, LeaseKeeper, acquire_lease
from docsbot.store.model import utc_now
from docsbot.store.model_runs import SourceRun
from docsbot.store.ports import FreshnessStore

if TYPE_CHECKING:
    from docsbot.documents.model import Page
    from docsbot.sources.markdown_folder import Problem
    from docsbot.store.ports import StateStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOptions:
    max_drop: float = 0.2  # a load reaching more than this fraction fewer pages than the baseline deletes nothing
    allow_large_delete: bool = False  # the operator confirms a large drop is real: delete anyway
    full: bool = False  # ignore the checkpoint: read every page again
    lease_ttl: timedelta = timedelta(minutes=15)
    lease_wait: float = 0.0  # seconds to wait for a source another run holds; then it is skipped

    def __post_init__(self) -> None:
        if not 0 <= self.max_drop <= 1:
            raise ValueError("max_drop is a fraction from 0 to 1")


@dataclass(frozen=True)
class Target:
    """Where a refresh writes: the collection's index, how to embed, and the durable records (optional).

    `index` is an index the caller opened (and closes); or `open_index` opens one only once the source's lease
    is held, and the refresh closes it (the embedded index is locked while it is open)."""

    index: VectorIndex | None
    embedder: Embedder
    sparse: Bm25Encoder
    store: FreshnessStore | None = None
    open_index: Callable[[], VectorIndex] | None = None


@dataclass
class Refresh:
    """One source refreshed: the record kept in the store, and what the load and the sync did."""

    run: SourceRun
    summary: SyncSummary | None = None  # None when the index was not touched (skipped, failed)
    loaded: LoadedSource | None = None
    error: Exception | None = None  # what made the refresh fail, for callers that explain it


def source_key(collection: str, source: str) -> str:
    return f"{collection}/{source}"


def deletion_refusal(*, reached: int, baseline: int | None, max_drop: float, allow_large_delete: bool) -> str | None:
    """Why deleting the pages a load did not reach is unsafe, or None when it is safe (the drop guard)."""
    if not baseline or allow_large_delete:
        return None
    drop = 1 - reached / baseline
    if drop <= max_drop:
        return None
    return (
        f"the load reached {reached} pages, {drop:.0%} fewer than the {baseline} of the last good refresh "
        f"(more than the {max_drop:.0%} allowed), nothing deleted"
    )


def refresh_source(
    target: Target,
    collection: str,
    source: SourceConfig | SnapshotSource,
    *,
    options: RefreshOptions | None = None,
    run_id: str | None = None,
    clock: Clock = utc_now,
    context: LoadContext | None = None,
    on_page: Callable[[Any], None] | None = None,
) -> Refresh:
    """Refresh one source of `collection` (see the module docstring); never raises for the source's failures."""
    options = options or RefreshOptions()
    run_id = run_id or f"refresh-{uuid.uuid4().hex[:12]}"
    refresh = Refresh(SourceRun(collection=collection, source=source.name, kind=source.kind, started=clock()))
    store = target.store
    keeper: LeaseKeeper | None = None
    if store is not None:
        try:
            keeper = acquire_lease(
                store, f"source/{source_key(collection, source.name)}", run_id,
                ttl=options.lease_ttl, wait=options.lease_wait, clock=clock,
            )  # fmt: skip
        except LeaseBusy as busy:
            refresh.run.outcome = "skipped"
            refresh.run.reasons = [f"another run is refreshing this source: {busy}"]
            refresh.run.finished = clock()
            return refresh
    try:
        if target.index is not None:
            _refresh_held(
                target.index, target, collection, source, options, run_id, clock, keeper, context, on_page, refresh
            )
        else:
            if target.open_index is None:
                raise ValueError("a refresh target needs an index or a way to open one")
            index = target.open_index()
            try:
                _refresh_held(
                    index, target, collection, source, options, run_id, clock, keeper, context, on_page, refresh
                )
            finally:
                index.close()
    except Exception as error:  # one failing source must not stop the others
        refresh.error = error
        # A service that did not answer is an expected fault: its reason says it all, no traceback.
        log = logger.info if isinstance(error, TransientError) else logger.exception
        log("refresh of %s failed: %s", source_key(collection, source.name), error, extra={"run_id": run_id})
        refresh.run.outcome = "failed"
        refresh.run.reasons.append(f"{type(error).__name__}: {error}")
        if store is not None:
            try:
                remember(store, run_id, refresh.run, clock(), good_pages=None)
            except Exception:
                logger.exception("could not record the failure", extra={"run_id": run_id})
    finally:
        if keeper is not None:
            keeper.release()
    refresh.run.finished = clock()
    return refresh


def _refresh_held(
    index: VectorIndex,
    target: Target,
    collection: str,
    source: SourceConfig | SnapshotSource,
    options: RefreshOptions,
    run_id: str,
    clock: Clock,
    keeper: LeaseKeeper | None,
    context: LoadContext | None,
    on_page: Callable[[Any], None] | None,
    refresh: Refresh,
) -> None:
    store, result = target.store, refresh.run
    keep_alive = keeper.keep if keeper is not None else _nothing
    record = store.get_source(collection, source.name) if store is not None else None
    indexed = indexed_page_urls(index, source.name)
    last_good = record.last_good_pages if record is not None and record.last_good_pages else 0
    baseline = max(last_good, len(indexed)) or None
    result.baseline_pages = baseline

    stored = {} if options.full or store is None else store.load_pages(collection, source.name)
    checkpoint = trusted_states(stored, indexed)
    if len(checkpoint) < len(stored):
        logger.info(
            "%s: %d page states dropped, their pages are not in the index: they are read again",
            source_key(collection, source.name), len(stored) - len(checkpoint), extra={"run_id": run_id},
        )  # fmt: skip
    base = context or LoadContext()

    def alive() -> None:
        keep_alive()
        base.keep_alive()

    threads = base.threads if base.threads is not None else _thread_reader(store)
    loaded = load_source(
        source, replace(base, checkpoint=checkpoint, keep_alive=alive, collection=collection, threads=threads)
    )
    refresh.loaded = loaded
    if loaded.name and loaded.name != result.source:
        result.source = loaded.name  # a snapshot names the source it was crawled from
    committed = 0  # pages whose changes are in the index (and, with a store, their crawl states saved)

    def page_done(page: Any) -> None:
        keep_alive()
        if on_page is not None:
            on_page(page)

    def step_done(pages: list[Page], so_far: SyncSummary) -> None:
        nonlocal committed
        committed += len(pages)
        # These pages are committed: save their crawl states now, so an interrupted run keeps them (a step is
        # at most a batch of chunks or pages: one small batch write). Pages not committed keep their previous
        # state, still true.
        if store is not None and loaded.checkpoint is not None:
            urls = {page.url for page in pages}
            states = {url: state for url, state in loaded.checkpoint.items() if (state.page_url or url) in urls}
            if states:
                keep_alive()  # still ours: only now may the checkpoint say these pages are indexed
                chunkless = urls.intersection(so_far.empty_urls)
                records = page_records(states, stored, loaded.confirmed, clock(), chunkless)
                store.save_pages(collection, result.source, records, replace=False)
        base.on_event("committed", committed)

    sync = SourceSync(
        index,
        target.embedder,
        target.sparse,
        source=result.source,
        on_page=page_done,
        on_embedded=lambda done, total: base.on_event("embedded", (done, total)),
        on_step=step_done,
    )
    if loaded.streamed:
        # A crawl: its pages are indexed in steps as they arrive, each step committed with its checkpoint, so an
        # interruption keeps them. Nothing is deleted before the whole load is known (the guard below).
        for page in loaded.pages:
            sync.add(page)
        base.on_event("loaded", loaded.reached)

    crawl = loaded.crawl
    result.pages_seen = loaded.reached
    if crawl is not None:
        result.pages_fetched = crawl.fetched + crawl.unchanged
        result.pages_not_modified = crawl.not_modified
        result.errors = dict(crawl.errors)
        result.requests = crawl.requests
        if crawl.pages == 0:
            # Nothing reached (site down, robots.txt unavailable, wrong URL): touch nothing, fail so it is retried.
            result.outcome = "failed"
            result.reasons = ["the crawl reached no page", *crawl.problems]
            if store is not None:
                remember(store, run_id, result, clock(), good_pages=None)
            return

    if loaded.reached == 0 and index.info() is None:  # an empty folder, a wrong path: leave no empty collection
        result.outcome = "failed"
        result.reasons = ["the source has no page (empty folder? wrong path?): nothing indexed, no collection created"]
        if store is not None:
            remember(store, run_id, result, clock(), good_pages=None)
        return

    complete = loaded.complete
    if not complete:
        result.reasons.append("the load was incomplete, nothing deleted: " + ("; ".join(loaded.problems) or "?"))
    refusal = deletion_refusal(
        reached=loaded.reached,
        baseline=baseline,
        max_drop=options.max_drop,
        allow_large_delete=options.allow_large_delete,
    )
    if complete and refusal is not None:
        complete = False
        result.reasons.append(refusal)
    result.complete = complete

    if not loaded.streamed:
        sync.add_all(loaded.pages)
    summary = sync.finish(complete=complete, protected_urls=loaded.keep_urls)
    refresh.summary = summary
    result.pages_new = summary.pages_new
    result.pages_changed = summary.pages_changed
    result.pages_unchanged = summary.pages_unchanged + result.pages_not_modified
    result.pages_deleted = summary.pages_deleted
    result.embeddings = summary.chunks_embedded
    result.chunks_deleted = summary.chunks_deleted
    if summary.pages_kept_empty:
        result.reasons.append(
            f"{summary.pages_kept_empty} pages that had content now extract to nothing: their indexed content was kept"
        )
    result.outcome = "degraded" if result.reasons else "ok"
    if crawl is not None and crawl.host_stopped:  # what was read is indexed; "failed" so the job exits non-zero
        result.outcome = "failed"
    if store is None:
        return
    keep_alive()  # still ours: only now may the checkpoint say these pages are indexed
    now = clock()
    if loaded.checkpoint is not None:
        chunkless = chunkless_pages(stored, summary.empty_urls, sync.page_urls)
        records = page_records(loaded.checkpoint, stored, loaded.confirmed, now, chunkless)
        store.save_pages(collection, result.source, records, replace=complete)
    remember(store, run_id, result, now, good_pages=loaded.reached if complete else None)


def _nothing() -> None:
    return None


def _thread_reader(store: FreshnessStore | None) -> StateStore | None:
    """The store's bot roles, where the threads source reads, when it has them (every real store does)."""
    return cast("StateStore", store) if store is not None and hasattr(store, "list_threads") else None


@dataclass
class SourceReport:
    """A refresh as the CLI and the library callers print it."""

    source: str
    kind: str
    summary: SyncSummary
    run: SourceRun
    problems: list[str] = field(default_factory=list)
    loaded: LoadedSource | None = None


def ingest(
    target: Target,
    collection: str,
    source: SourceConfig | SnapshotSource,
    *,
    options: RefreshOptions | None = None,
    context: LoadContext | None = None,
    on_page: Callable[[Any], None] | None = None,
) -> SourceReport:
    """`refresh_source` for callers that want an error, not a "failed" record: raises when the refresh failed."""
    refresh = refresh_source(target, collection, source, options=options, context=context, on_page=on_page)
    run = refresh.run
    if run.outcome in ("failed", "skipped") or refresh.summary is None:
        raise RefreshFailed(
            f"{source_key(collection, run.source)}: {run.outcome}: {'; '.join(run.reasons)}"
        ) from refresh.error
    problems = list(refresh.loaded.problems) if refresh.loaded is not None else []
    return SourceReport(
        source=run.source, kind=run.kind, summary=refresh.summary, run=run, problems=problems, loaded=refresh.loaded
    )


class RefreshFailed(RuntimeError):
    """A refresh ended "failed" or "skipped"; the message carries its reasons."""


@dataclass
class IngestReport:
    """A markdown folder ingested: the sync's counts and the files that could not be read."""

    source: str
    summary: SyncSummary
    problems: list[Problem] = field(default_factory=list)


def ingest_folder(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    source: SourceConfig,
    *,
    store: FreshnessStore | None = None,
    collection: str = "",
    options: RefreshOptions | None = None,
    on_total: Callable[[int], None] | None = None,
    on_page: Callable[[Any], None] | None = None,
) -> IngestReport:
    """Index a markdown folder source through the pipeline. Files that fail to load keep what was indexed."""

    def on_event(kind: str, value: Any) -> None:
        if kind == "total" and on_total is not None:
            on_total(int(value))

    report = ingest(
        Target(index, embedder, sparse, store),
        collection,
        source,
        options=options,
        context=LoadContext(on_event=on_event),
        on_page=on_page,
    )
    problems = list(report.loaded.file_problems) if report.loaded is not None else []
    return IngestReport(source=report.source, summary=report.summary, problems=problems)
