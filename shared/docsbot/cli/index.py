"""The knowledge-base commands of `docsbot`: ingest, scrape, search and eval.

Long because: the four commands share their option types and index helpers, and `eval` prints one table for
several question sets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from docsbot.cli.common import (
    AllowLargeDeleteOpt,
    CollectionOpt,
    check_collection_name,
    connection_failure,
    err,
    fail,
    load_settings_or_fail,
    out,
    progress_bar,
    warn,
)
from docsbot.index.errors import IndexStoreError
from docsbot.settings.config import (
    CollectionConfig,
    ConfigError,
    MarkdownFolderSource,
    Settings,
    SiteSource,
    SourceConfig,
    ThreadsSource,
    load_collections,
)

if TYPE_CHECKING:  # imported lazily at run time so `docsbot --help` stays fast
    from docsbot.index.eval import Question
    from docsbot.index.search import Searcher, SearchMode, SearchResult
    from docsbot.sources.registry import SnapshotSource
    from docsbot.sources.site.crawl import CrawlOutcome


def ingest(
    collection: CollectionOpt,
    source_dir: Annotated[
        Path | None, typer.Option(help="A folder of Docusaurus .md/.mdx files (else the collections file).")
    ] = None,
    url_map: Annotated[Path | None, typer.Option(help="relative_path<TAB>url file for --source-dir.")] = None,
    docs_base_url: Annotated[
        str | None, typer.Option(help="Docs root URL for --source-dir, when there is no --url-map.")
    ] = None,
    source_name: Annotated[str, typer.Option(help="Name of the --source-dir source in the index.")] = "docs",
    trailing_slash: Annotated[
        bool | None, typer.Option(help="The site's Docusaurus trailingSlash setting, with --docs-base-url.")
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the collection first and index from scratch.")] = False,
    snapshot: Annotated[
        Path | None, typer.Option(help="Index the pages of a 'docsbot scrape --out' snapshot file.")
    ] = None,
    allow_large_delete: AllowLargeDeleteOpt = False,
) -> None:
    """Index a collection's documents incrementally: only changed chunks are embedded."""
    from docsbot.sources.registry import SnapshotSource

    check_collection_name(collection)
    settings = load_settings_or_fail()
    if snapshot is not None:
        _refresh(settings, collection, [SnapshotSource(snapshot)], rebuild=rebuild, allow=allow_large_delete)
        return
    if source_dir is not None:
        if url_map is None and not docs_base_url:
            fail("--source-dir needs --url-map FILE or --docs-base-url URL to know each page's public URL")
        sources: list[MarkdownFolderSource | ThreadsSource] = [
            MarkdownFolderSource(
                kind="markdown_folder",
                name=source_name,
                path=source_dir,
                url_map=url_map,
                docs_base_url=docs_base_url,
                trailing_slash=trailing_slash,
            )
        ]
    else:
        if settings.collections_file is None:
            fail("no collections file: set DOCSBOT_COLLECTIONS_FILE, or give --source-dir")
        try:
            config = load_collections(settings.collections_file).get(collection)
        except ConfigError as error:
            fail(str(error))
        sources = [s for s in config.sources if isinstance(s, MarkdownFolderSource | ThreadsSource)]
        for skipped in config.sources:
            if isinstance(skipped, SiteSource):
                warn(f"source {skipped.name!r} ({skipped.kind}) is crawled by 'docsbot scrape', not ingest")
        if not sources:
            fail(f"collection {collection!r} has no markdown_folder or threads source to ingest")

    _refresh(settings, collection, list(sources), rebuild=rebuild, allow=allow_large_delete)


def _refresh(
    settings: Settings,
    collection: str,
    sources: Sequence[SourceConfig | SnapshotSource],
    *,
    rebuild: bool = False,
    full: bool = False,
    allow: bool = False,
) -> None:
    """Refresh `sources` with the one pipeline (`docsbot.refresh.pipeline`), with progress bars and summaries.

    Crawl states, source records and leases live in the state store (`DOCSBOT_STATE`: a SQLite file under
    DOCSBOT_DATA_DIR locally), the same store the scheduled job uses."""
    from docsbot.app.indexes import make_embedder, make_sparse, open_index
    from docsbot.app.refresh import cli_refresh_options, open_refresh_store
    from docsbot.cli.terminal import crawl_table, ingest_table
    from docsbot.refresh.pipeline import RefreshFailed, SourceReport, Target, ingest
    from docsbot.sources.registry import LoadContext

    try:
        options = cli_refresh_options(full=full, allow_large_delete=allow)
        store = open_refresh_store(settings, collection, sources)
    except ConfigError as error:
        fail(str(error))
    index = open_index(settings, collection)
    reports: list[SourceReport] = []
    indexed: dict[str, int] = {}  # source → pages whose changes are committed to the index
    try:
        if rebuild:
            index.drop()
        target = Target(index, make_embedder(settings), make_sparse(), store)
        with progress_bar() as progress:
            for source in sources:
                task = progress.add_task(f"{collection}/{source.name}", total=None)
                # A crawl is indexed as its pages arrive: until it ends, more chunks join the total.
                growing = "  embedding chunks (the total grows as pages arrive)"
                label = growing if isinstance(source, SiteSource) else "  embedding chunks"
                chunks = progress.add_task(label, total=None, visible=False)
                indexed[source.name] = 0

                def on_event(
                    kind: str, value: object, task: TaskID = task, chunks: TaskID = chunks, name: str = source.name
                ) -> None:
                    if kind == "total" and isinstance(value, int):
                        progress.update(task, total=value)
                    elif kind == "outcome":
                        progress.advance(task)
                    elif kind == "embedded" and isinstance(value, tuple):
                        done, total = value
                        progress.update(chunks, completed=done, total=total, visible=total > 0)
                    elif kind == "loaded":
                        progress.update(chunks, description="  embedding chunks")
                    elif kind == "committed" and not err.is_terminal:
                        # No bar off a terminal (logs, CI): one line per committed step says what is kept so far.
                        err.print(f"{collection}/{name}: {value} pages indexed", markup=False, highlight=False)

                def advance(_page: object, task: TaskID = task, name: str = source.name) -> None:
                    indexed[name] += 1  # the page's changes are in the index: kept if interrupted
                    if progress.tasks[task].total is not None:
                        progress.advance(task)

                context = LoadContext(on_event=on_event)
                reports.append(ingest(target, collection, source, options=options, context=context, on_page=advance))
    except KeyboardInterrupt:
        kept = ", ".join(f"{collection}/{name}: {count} pages" for name, count in indexed.items())
        warn(
            f"interrupted: what was indexed is kept ({kept}); run the same command again to finish "
            "(only what is missing is embedded)"
        )
        raise typer.Exit(130) from None
    except (IndexStoreError, ConfigError, RefreshFailed, ValueError, OSError) as error:
        line = connection_failure(error)
        fail(line or str(error), code=1 if line else 2)
    finally:
        index.close()  # the embedded index finishes its segment optimisation and releases its lock
        store.close()
    for report in reports:
        loaded = report.loaded
        for problem in loaded.file_problems if loaded is not None else []:
            warn(f"{problem.path}: {problem.kind}: {problem.message}")
        if loaded is not None and loaded.crawl is not None:
            out.print(crawl_table(collection, report.source, loaded.crawl))
        out.print(ingest_table(collection, report))
        for reason in report.run.reasons:
            warn(f"{collection}/{report.source} {report.run.outcome}: {reason}")


def scrape(
    collection: CollectionOpt,
    source_name: Annotated[
        str | None, typer.Option("--source", help="Only this site source (default: every site source).")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the pages to a snapshot (JSON lines) instead of indexing.")
    ] = None,
    full: Annotated[bool, typer.Option(help="Ignore the stored crawl state: fetch every page again.")] = False,
    allow_large_delete: AllowLargeDeleteOpt = False,
) -> None:
    """Crawl a collection's docs sites (sitemap, robots.txt, polite delays, conditional GET) and index them."""
    settings = load_settings_or_fail()
    if settings.collections_file is None:
        fail("no collections file: set DOCSBOT_COLLECTIONS_FILE (see collections.example.toml)")
    try:
        config = load_collections(settings.collections_file).get(check_collection_name(collection))
    except ConfigError as error:
        fail(str(error))
    sites = [s for s in config.sources if isinstance(s, SiteSource) and source_name in (None, s.name)]
    if not sites:
        which = f"a site source named {source_name!r}" if source_name else "no docusaurus or sitemap source"
        fail(f"collection {collection!r} has {which}")
    if out_file is not None:
        if len(sites) > 1:
            fail(f"--out writes one source: choose it with --source ({', '.join(s.name for s in sites)})")
        _scrape_to_snapshot(collection, sites[0], out_file)
        return
    _refresh(settings, collection, list(sites), full=full, allow=allow_large_delete)


def _crawl_progress(progress: Progress, label: str) -> Callable[[str, object], None]:
    task = progress.add_task(label, total=None)

    def on_event(kind: str, _value: object) -> None:
        if kind == "outcome":
            progress.advance(task)

    return on_event


def _scrape_to_snapshot(collection: str, source: SiteSource, path: Path) -> None:
    from datetime import UTC, datetime

    from docsbot.cli.terminal import crawl_table
    from docsbot.sources.site.scrape import scrape_site
    from docsbot.sources.snapshot import SnapshotHeader, SnapshotWriter

    header = SnapshotHeader(collection=collection, source=source.name, created=datetime.now(UTC).isoformat())
    try:
        writer = SnapshotWriter(path, header)
    except OSError as error:
        fail(f"cannot write {path}: {error}")
    with progress_bar() as progress:
        on_event = _crawl_progress(progress, f"{collection}/{source.name}")

        def on_outcome(outcome: CrawlOutcome) -> None:
            if outcome.page is not None:
                writer.write(outcome.page)
            on_event("outcome", outcome)

        scraped = scrape_site(source, previous={}, on_outcome=on_outcome)
    writer.close(complete=scraped.summary.completed)
    out.print(crawl_table(collection, source.name, scraped.summary))
    out.print(f"{writer.count} pages written to {path}", markup=False)


def search(
    collection: CollectionOpt,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON list of the sections.")] = False,
) -> None:
    """Search a collection and print the best sections with their full deep links."""
    from docsbot.cli.terminal import print_sources, sources_json

    searcher = open_searcher(collection, mode)
    try:
        result = searcher.search(query, limit=limit, mode=_mode(mode))
    finally:
        searcher.index.close()
    if json_output:
        print(json.dumps(sources_json(result.sources), indent=2, ensure_ascii=False))
        return
    if not result.sources:
        out.print("No matching sections.")
        return
    print_sources(out, f"{collection}: {query}", result.sources)


def _mode(mode: str) -> SearchMode:
    if mode not in ("hybrid", "dense", "sparse"):
        fail(f"--mode must be hybrid, dense or sparse, got {mode!r}")
    return mode  # type: ignore[return-value]


def open_searcher(collection: str, mode: str) -> Searcher:
    """A searcher over `collection`'s index, or exit with a clear message."""
    from docsbot.app.indexes import make_embedder, make_sparse, open_index
    from docsbot.index.search import Searcher

    check_collection_name(collection)
    settings = load_settings_or_fail()
    try:
        index = open_index(settings, collection)
        if index.info() is None:
            fail(f"collection {collection!r} has not been indexed yet: run docsbot ingest --collection {collection}")
        embedder = None if mode == "sparse" else make_embedder(settings)
        searcher = Searcher(index, embedder, make_sparse())
    except (IndexStoreError, ValueError) as error:
        fail(str(error))
    return searcher


def eval_command(
    collection: Annotated[
        list[str], typer.Option("--collection", "-c", help="Docs collection name; repeat, one per --questions.")
    ],
    questions: Annotated[
        list[Path], typer.Option(help="JSONL question file (DESIGN.md §6 format); repeat, one per --collection.")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
) -> None:
    """Measure retrieval quality and the "not in the docs" decisions on one or several question sets."""
    from docsbot.index.eval import QuestionFileError, load_questions

    if len(collection) != len(questions):
        fail(f"give one --questions file per --collection ({len(collection)} collections, {len(questions)} files)")
    settings = load_settings_or_fail()
    configs: dict[str, CollectionConfig] = {}
    if settings.collections_file is not None:
        try:
            configs = {c.name: c for c in load_collections(settings.collections_file).collections}
        except ConfigError as error:
            fail(str(error))
    loaded = []
    for path in questions:
        try:
            loaded.append(load_questions(path))
        except QuestionFileError as error:
            fail(str(error))
    search_mode = _mode(mode)
    results: dict[str, dict[str, object]] = {}
    for name, questions_of_set in zip(collection, loaded, strict=True):
        results[name] = _evaluate_set(settings, name, configs.get(name), questions_of_set, search_mode)
    if json_output:
        single = len(results) == 1
        print(json.dumps(next(iter(results.values())) if single else results, indent=2))
        return
    if len(results) == 1:
        name, data = next(iter(results.items()))
        _print_eval(name, data)
        return
    _print_eval_table(results)


def _evaluate_set(
    settings: Settings, name: str, config: CollectionConfig | None, questions: list[Question], mode: SearchMode
) -> dict[str, object]:
    """One question set through the product's search and "not in the docs" policy (hybrid), as a report."""
    from docsbot.app.answerers import abstain_policy, make_answerer
    from docsbot.index.eval import Decision, evaluate, product_search

    searcher = open_searcher(name, mode)
    policy = abstain_policy(config)
    # The product's own search (its reranker included); another mode only changes the ranking measured.
    answerer = make_answerer(settings, searcher, name, config) if mode == "hybrid" else None

    def search(question: str, limit: int) -> SearchResult:
        if answerer is not None:
            return answerer.search(question, limit)
        return searcher.search(question, limit=limit, mode=mode)

    def decide(result: SearchResult) -> Decision:
        return Decision(signal=policy.signal(result), answered=policy.covered(result))

    try:
        with progress_bar() as progress:
            task = progress.add_task(f"questions ({name})", total=len(questions))
            report = evaluate(
                questions, product_search(search, decide, limit=20), on_question=lambda: progress.advance(task)
            )
    finally:
        searcher.index.close()
    return report.as_dict()


def _print_eval_table(results: dict[str, dict[str, object]]) -> None:
    """One row per question set: the retrieval figures and the product's refusals."""
    table = Table(title="retrieval and 'not in the docs' per question set")
    for column in ("set", "questions", "page hit@5", "section hit@5", "MRR@10", "nDCG@10"):
        table.add_column(column, justify="right")
    # The signal the product decides on (answer/abstain.py): keyword score × query coverage × known share.
    for column in ("answerable refused", "unanswerable refused", "grounded score ROC AUC"):
        table.add_column(column, justify="right")
    for name, data in results.items():
        section = data["section"]
        abstention = data["abstention"]
        assert isinstance(section, dict) and isinstance(abstention, dict)
        table.add_row(
            name,
            str(data["questions"]),
            f"{data.get('hit@5', 0):.3f}",
            f"{section.get('hit@5', 0):.3f}",
            f"{data.get('mrr@10', 0):.3f}",
            f"{data.get('ndcg@10', 0):.3f}",
            _refused(abstention, "answerable"),
            _refused(abstention, "unanswerable"),
            str(abstention.get("auc")),
        )
    out.print(table)


def _refused(abstention: dict[str, object], group: str) -> str:
    total = abstention.get(f"{group}_total")
    if not total:
        return "-"
    return f"{abstention[f'{group}_refused']} of {total}"


def _print_eval(collection: str, data: dict[str, object]) -> None:
    table = Table(title=f"retrieval on {collection}: {data['evaluated']} answerable of {data['questions']} questions")
    table.add_column("metric")
    table.add_column("page", justify="right")
    table.add_column("section", justify="right")
    section = data["section"]
    assert isinstance(section, dict)
    for key in ("recall@1", "recall@5", "recall@10", "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10"):
        table.add_row(key, f"{data.get(key, 0):.3f}", f"{section.get(key, 0):.3f}")
    out.print(table)
    abstention = data["abstention"]
    assert isinstance(abstention, dict)
    out.print(f"top score ({abstention['score']}):")
    for group in ("answerable", "unanswerable"):
        out.print(f"  {group:>12}: {abstention[group]}")
        if abstention.get(f"{group}_total"):
            out.print(f"  {'':>12}  refused by the product: {_refused(abstention, group)}")
    out.print(f"  separation (ROC AUC): {abstention['auc']}")
    misses = data["misses"]
    assert isinstance(misses, list)
    if misses:
        out.print(f"\n{len(misses)} misses (no relevant page in the top 5):")
        for miss in misses:
            out.print(f"  [bold]{escape(str(miss['id']))}[/] {escape(miss['question'][:100])}", highlight=False)
            out.print(f"    expected {', '.join(miss['relevant'])}", highlight=False, markup=False)
            out.print(f"    got      {', '.join(miss['got'])}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `docsbot` app."""
    app.command("ingest")(ingest)
    app.command("scrape")(scrape)
    app.command("search")(search)
    app.command("eval")(eval_command)
