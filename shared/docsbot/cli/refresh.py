"""The freshness commands of `docsbot`: scrape-job, status and push. `register(app)` adds them to the app.

Heavy imports stay inside the commands.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from docsbot.cli.common import deps, err, fail, out, warn

if TYPE_CHECKING:
    from docsbot.cli.push_client import PushReport
    from docsbot.settings.config import Settings
    from docsbot.store.model_runs import RunRecord, SourceRun


def _settings(*, embedder_needed: bool = True) -> Settings:
    from docsbot.settings.config import ConfigError, load_settings

    # `status` embeds nothing: it must not fail on a machine with no embedder configured.
    env = None if embedder_needed else {**os.environ, "DOCSBOT_EMBEDDER": "hashing"}
    try:
        return load_settings(env)
    except ConfigError as error:
        fail(str(error))


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = max(0.0, (now - when).total_seconds())
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


# --- docsbot scrape-job ----------------------------------------------------------------------------------


def scrape_job(
    ctx: typer.Context,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Only this collection (default: every enabled one).")
    ] = None,
    full: Annotated[bool, typer.Option(help="Ignore the stored page states: download every page again.")] = False,
    accept_drop: Annotated[
        bool, typer.Option(help="Delete vanished pages even when far fewer pages than last time were found.")
    ] = False,
    wait: Annotated[
        float | None, typer.Option(help="Seconds to wait for a source another run holds (default: skip it).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the run record as JSON.")] = False,
) -> None:
    """Run the scheduled scrape job here: crawl every enabled site source incrementally and update the index.

    Same code as the Cloud Run job (CLOUD_RUN_TASK_INDEX / _COUNT shard it). Exits 1 when a source failed."""
    from docsbot.app.refresh import build_job, build_store, job_options, load_collections_file
    from docsbot.refresh.job import exit_code
    from docsbot.settings.config import ConfigError
    from docsbot.settings.refresh import load_job_settings

    settings = _settings()
    try:
        job_settings = load_job_settings()
        collections = load_collections_file(settings)
        if collection is not None:
            collections.get(collection)
    except ConfigError as error:
        fail(str(error))
    options = job_options(job_settings, collection=collection, full=full, accept_drop=accept_drop, lease_wait=wait)
    store = build_store(job_settings.store)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} pages"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}
    current: list[str] = []

    def on_event(kind: str, value: Any) -> None:
        if kind == "source":
            current[:] = [str(value)]
            tasks[str(value)] = progress.add_task(str(value), total=None)
        elif kind == "outcome" and current:
            progress.advance(tasks[current[0]])

    try:
        job = build_job(settings, store, options, clock=deps(ctx).clock)
        job.on_event = on_event
        with progress:
            run = job.run(collections)
    finally:
        store.close()
    if json_output:
        print(json.dumps(run.model_dump(mode="json"), indent=2))
    else:
        out.print(run_table(run))
        for source in run.sources:
            for reason in source.reasons:
                out.print(
                    f"[bold]{escape(source.collection)}/{escape(source.source)}[/] {source.outcome}: {escape(reason)}",
                    highlight=False,
                )
        out.print(f"run {escape(run.run_id)}: {run.outcome}", highlight=False)
    raise typer.Exit(exit_code(run))


def run_table(run: RunRecord) -> Table:
    """One row per source of a run."""
    table = Table(
        title=f"scrape run {run.run_id} (task {run.task_index + 1} of {run.task_count})", title_justify="left"
    )
    columns = ("source", "outcome", "seen", "fetched", "304", "new", "changed", "unchanged", "deleted", "errors")
    for name in (*columns, "embedded"):
        table.add_column(name, justify="left" if name in ("source", "outcome", "errors") else "right")
    for s in run.sources:
        table.add_row(
            f"{s.collection}/{s.source}",
            s.outcome,
            *(str(n) for n in _counts(s)),
            ", ".join(f"{kind} {n}" for kind, n in sorted(s.errors.items())) or "0",
            str(s.embeddings),
        )
    return table


def _counts(s: SourceRun) -> list[int]:
    return [s.pages_seen, s.pages_fetched, s.pages_not_modified, s.pages_new, s.pages_changed, s.pages_unchanged,
            s.pages_deleted]  # fmt: skip


# --- docsbot status ---------------------------------------------------------------------------------------


def status(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """Per collection: the last scrape run and its outcome, pages and chunks indexed, age of the oldest page."""
    from docsbot.app.indexes import indexed_collections, open_index
    from docsbot.app.refresh import build_store
    from docsbot.refresh.status import collection_status
    from docsbot.settings.config import ConfigError, load_collections
    from docsbot.settings.refresh import load_store_settings

    settings = _settings(embedder_needed=False)
    try:
        store_settings = load_store_settings()
        names = (
            [c.name for c in load_collections(settings.collections_file).collections]
            if settings.collections_file
            else []
        )
    except ConfigError as error:
        fail(str(error))
    names += indexed_collections(settings)  # ingested without a collections file, or by the demo
    store = build_store(store_settings)
    try:
        statuses = collection_status(store, names, lambda name: open_index(settings, name))
    finally:
        store.close()
    now = deps(ctx).clock()
    if json_output:
        print(json.dumps([s.as_dict(now) for s in statuses], indent=2))
        return
    if not statuses:
        out.print("No collections yet: run docsbot ingest, scrape or scrape-job (DOCSBOT_COLLECTIONS_FILE lists them).")
        return
    table = Table(title="docsbot status", title_justify="left")
    for name in ("collection", "last run", "outcome", "pages", "chunks", "oldest page", "sources"):
        table.add_column(name, justify="right" if name in ("pages", "chunks") else "left")
    for s in statuses:
        table.add_row(
            s.collection,
            f"{_ago(s.last_finished, now)} ago" if s.last_finished else "never",
            s.last_outcome or "-",
            "-" if s.pages is None else str(s.pages),
            "-" if s.chunks is None else str(s.chunks),
            _ago(s.oldest_checked_at, now),
            ", ".join(s.sources) or "-",
        )
    out.print(table)
    for s in statuses:
        for reason in s.reasons:
            out.print(f"[bold]{escape(s.collection)}[/] {escape(reason)}", highlight=False)
        if s.index_problem:
            out.print(f"[bold]{escape(s.collection)}[/] index: {escape(s.index_problem)}", highlight=False)


# --- docsbot push -------------------------------------------------------------------------------------------


def push(
    collection: Annotated[str, typer.Option("--collection", "-c", help="Docs collection name.")],
    source_dir: Annotated[Path, typer.Option(help="The docs-as-code folder of Docusaurus .md/.mdx files.")],
    endpoint: Annotated[str, typer.Option(help="The ingest endpoint's URL.")],
    url_map: Annotated[Path | None, typer.Option(help="relative_path<TAB>url file.")] = None,
    docs_base_url: Annotated[str | None, typer.Option(help="Docs root URL, when there is no --url-map.")] = None,
    trailing_slash: Annotated[
        bool | None, typer.Option(help="The site's Docusaurus trailingSlash setting, with --docs-base-url.")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="Source name of these pages in the index.")] = "docs",
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the bearer token (a local token or an OIDC ID token).")
    ] = "DOCSBOT_INGEST_TOKEN",  # noqa: S107 - the variable's name, not a secret
    state_file: Annotated[
        Path | None, typer.Option(help="Where to remember what was pushed (default: under DOCSBOT_DATA_DIR/push/).")
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Also send the list of every page: the endpoint deletes the source's other pages.")
    ] = False,
    allow_large_prune: Annotated[
        bool, typer.Option(help="With --prune: allow deleting more than 20% of the source's pages.")
    ] = False,
    allow_large_delete: Annotated[
        bool,
        typer.Option(help="Allow a push deleting every page, or more than 20% of the pages pushed before."),
    ] = False,
    max_batch_bytes: Annotated[int, typer.Option(min=64 * 1024, help="Largest request body.")] = 4 * 2**20,
) -> None:
    """Send a docs folder's changes since the last push (changed pages, deletions) to the ingest endpoint."""
    from docsbot.cli.push_client import PushError, PushOptions, push_folder
    from docsbot.settings.refresh import data_dir
    from docsbot.sources.markdown_folder import load_markdown_folder, read_url_map

    if url_map is None and not docs_base_url:
        fail("--source-dir needs --url-map FILE or --docs-base-url URL to know each page's public URL")
    if not source_dir.is_dir():
        fail(f"{source_dir} is not a folder")
    if not endpoint.startswith(("https://", "http://")):
        fail(f"--endpoint must be an http(s) URL, got {endpoint!r}")
    token = os.environ.get(token_env) or None
    if token is None:
        fail(f"the environment variable {token_env} (the bearer token) is not set")
    try:
        loaded = load_markdown_folder(
            source_dir,
            docs_base_url=docs_base_url,
            url_map=read_url_map(url_map) if url_map else None,
            trailing_slash=trailing_slash,
        )
    except (ValueError, OSError) as error:
        fail(str(error))
    target = hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:10]
    state_path = state_file or data_dir() / "push" / f"{collection}__{source}__{target}.json"
    options = PushOptions(
        endpoint=endpoint,
        collection=collection,
        source=source,
        token=token,
        state_path=state_path,
        max_batch_bytes=max_batch_bytes,
        prune=prune,
        allow_large_prune=allow_large_prune,
        allow_large_delete=allow_large_delete,
    )
    for problem in loaded.problems:
        warn(f"{problem.path}: {problem.kind}: {problem.message} (not sent; what is indexed for it stays)")
    try:
        report = push_folder(loaded, options)
    except PushError as error:
        fail(str(error), code=1)
    out.print(push_table(collection, source, report))
    if report.prune_skipped:
        warn(f"--prune skipped: {report.prune_skipped}")
    if report.too_large:
        for url in report.too_large:
            warn(f"{url}: over --max-batch-bytes on its own, not sent")
        raise typer.Exit(1)


def push_table(collection: str, source: str, report: PushReport) -> Table:
    counts = report.counts
    table = Table(title=f"push {collection}/{source}", show_header=False, title_justify="left")
    rows = [
        ("pages in the folder", str(report.pages)),
        ("unchanged since the last push", f"{report.skipped_unchanged} (not sent)"),
        ("sent", f"{report.sent} pages, {report.deletions_sent} deletions in {report.batches} requests"),
        (
            "endpoint",
            f"{counts.get('new', 0)} new, {counts.get('changed', 0)} changed, {counts.get('unchanged', 0)} unchanged, "
            f"{counts.get('empty', 0)} empty, {counts.get('deleted', 0)} deleted, {counts.get('absent', 0)} absent",
        ),
        ("chunks embedded", str(report.embeddings)),
        ("files with problems", f"{len(report.problems)} (not sent, not deleted)"),
    ]
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table


def register(app: typer.Typer) -> None:
    """Add scrape-job, status and push to `app`."""
    app.command("scrape-job")(scrape_job)
    app.command("status")(status)
    app.command("push")(push)
