"""The `docsbot` command: ingest, search, eval and demo on the embedded default or a Qdrant server."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from docsbot.cli.refresh import register as register_freshness_commands
from docsbot.index.errors import IndexStoreError
from docsbot.settings.config import (
    COLLECTION_NAME_PATTERN,
    CollectionConfig,
    ConfigError,
    MarkdownFolderSource,
    Settings,
    SiteSource,
    SourceConfig,
    load_collections,
    load_settings,
)

if TYPE_CHECKING:  # imported lazily at run time so `docsbot --help` stays fast
    from docsbot.documents.model import Source
    from docsbot.index.search import Searcher, SearchMode
    from docsbot.settings.bot import BotSettings
    from docsbot.sources.registry import SnapshotSource
    from docsbot.sources.site.crawl import CrawlOutcome

app = typer.Typer(
    help="docsbot: answers questions from your documentation, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output gets a wide console so deep links are never folded mid-URL.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", highlight=False)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        fail(str(error))


def _check_collection_name(name: str) -> str:
    if not re.match(COLLECTION_NAME_PATTERN, name):
        fail(f"collection name {name!r} must be lower-case letters, digits, '-' or '_' (at most 63 characters)")
    return name


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Docs collection name.")]
AllowLargeDeleteOpt = Annotated[
    bool,
    typer.Option(
        "--allow-large-delete",
        help="Delete vanished pages even when far fewer pages than last time were found (DOCSBOT_SCRAPE_MAX_DROP).",
    ),
]


@app.command()
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

    _check_collection_name(collection)
    settings = _settings()
    if snapshot is not None:
        _refresh(settings, collection, [SnapshotSource(snapshot)], rebuild=rebuild, allow=allow_large_delete)
        return
    if source_dir is not None:
        if url_map is None and not docs_base_url:
            fail("--source-dir needs --url-map FILE or --docs-base-url URL to know each page's public URL")
        sources = [
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
        sources = [s for s in config.sources if isinstance(s, MarkdownFolderSource)]
        for skipped in config.sources:
            if not isinstance(skipped, MarkdownFolderSource):
                warn(f"source {skipped.name!r} ({skipped.kind}) is crawled by 'docsbot scrape', not ingest")
        if not sources:
            fail(f"collection {collection!r} has no markdown_folder source to ingest")

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
    try:
        if rebuild:
            index.drop()
        target = Target(index, make_embedder(settings), make_sparse(), store)
        with _progress() as progress:
            for source in sources:
                task = progress.add_task(f"{collection}/{source.name}", total=None)

                def on_event(kind: str, value: object, task: TaskID = task) -> None:
                    if kind == "total" and isinstance(value, int):
                        progress.update(task, total=value)
                    elif kind == "outcome":
                        progress.advance(task)

                def advance(_page: object, task: TaskID = task) -> None:
                    if progress.tasks[task].total is not None:
                        progress.advance(task)

                context = LoadContext(on_event=on_event)
                reports.append(ingest(target, collection, source, options=options, context=context, on_page=advance))
    except (IndexStoreError, ConfigError, RefreshFailed, ValueError, OSError) as error:
        fail(str(error))
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


@app.command()
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
    settings = _settings()
    if settings.collections_file is None:
        fail("no collections file: set DOCSBOT_COLLECTIONS_FILE (see collections.example.toml)")
    try:
        config = load_collections(settings.collections_file).get(_check_collection_name(collection))
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
    with _progress() as progress:
        on_event = _crawl_progress(progress, f"{collection}/{source.name}")

        def on_outcome(outcome: CrawlOutcome) -> None:
            if outcome.page is not None:
                writer.write(outcome.page)
            on_event("outcome", outcome)

        scraped = scrape_site(source, previous={}, on_outcome=on_outcome)
    writer.close(complete=scraped.summary.completed)
    out.print(crawl_table(collection, source.name, scraped.summary))
    out.print(f"{writer.count} pages written to {path}")


@app.command()
def search(
    collection: CollectionOpt,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
) -> None:
    """Search a collection and print the best sections."""
    searcher = _searcher(collection, mode)
    result = searcher.search(query, limit=limit, mode=_mode(mode))
    if not result.sources:
        out.print("No matching sections.")
        return
    from docsbot.cli.terminal import sources_table

    out.print(sources_table(f"{collection}: {query}", result.sources))


def _mode(mode: str) -> SearchMode:
    if mode not in ("hybrid", "dense", "sparse"):
        fail(f"--mode must be hybrid, dense or sparse, got {mode!r}")
    return mode  # type: ignore[return-value]


def _searcher(collection: str, mode: str) -> Searcher:
    from docsbot.app.indexes import make_embedder, make_sparse, open_index
    from docsbot.index.search import Searcher

    _check_collection_name(collection)
    settings = _settings()
    try:
        index = open_index(settings, collection)
        if index.info() is None:
            fail(f"collection {collection!r} has not been indexed yet: run docsbot ingest --collection {collection}")
        embedder = None if mode == "sparse" else make_embedder(settings)
        searcher = Searcher(index, embedder, make_sparse())
    except (IndexStoreError, ValueError) as error:
        fail(str(error))
    return searcher


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, as a user would ask it in Discord.")],
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Docs collection (default: the only one configured).")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(help='Earlier turns: a JSON list of {"role": "user"|"assistant", "content": "..."}.'),
    ] = None,
    stream: Annotated[bool, typer.Option(help="Print the model's answer as it is written.")] = True,
    discord: Annotated[bool, typer.Option("--discord", help="Print the Discord message payloads (JSON).")] = False,
) -> None:
    """Answer a question from the docs, with citations (extractive when no chat model is configured)."""
    from docsbot.answer.history import HistoryFileError, load_history
    from docsbot.app.answerers import make_answerer

    settings = _settings()
    name, config = _collection_config(settings, collection)
    turns = []
    if history is not None:
        try:
            turns = load_history(history)
        except HistoryFileError as error:
            fail(str(error))
    searcher = _searcher(name, "hybrid")
    answerer = make_answerer(settings, searcher, name, config)
    streamed = stream and answerer.chat is not None and not discord and out.is_terminal

    def show_delta(piece: str) -> None:
        out.print(piece, end="", markup=False, highlight=False)

    try:
        answer = answerer.answer(question, turns, on_delta=show_delta if streamed else None)
    except ValueError as error:
        fail(str(error))
    finally:
        searcher.index.close()
    if discord:
        from docsbot.discord.render import render_answer

        print(json.dumps(render_answer(answer, thread_key="0"), indent=2, ensure_ascii=False))
        return
    from docsbot.cli.terminal import answer_renderables

    if streamed:
        out.print("\n")
        out.rule()
    for part in answer_renderables(answer):
        out.print(part)


def _collection_config(settings: Settings, name: str | None) -> tuple[str, CollectionConfig | None]:
    """The collection to use and its configuration (None when it is not in a collections file)."""
    collections = None
    if settings.collections_file is not None:
        try:
            collections = load_collections(settings.collections_file)
        except ConfigError as error:
            fail(str(error))
    if name is None:
        enabled = [c for c in collections.collections if c.enabled] if collections else []
        if len(enabled) != 1:
            from docsbot.cli.demo import DEMO_COLLECTION, demo_config

            if not enabled:
                return DEMO_COLLECTION, demo_config()
            names = ", ".join(c.name for c in enabled)
            fail(f"several collections are configured: choose one with --collection ({names})")
        return enabled[0].name, enabled[0]
    _check_collection_name(name)
    if collections is not None:
        for config in collections.collections:
            if config.name == name:
                return name, config
    from docsbot.cli.demo import DEMO_COLLECTION, demo_config

    return name, demo_config() if name == DEMO_COLLECTION else None


@app.command("eval")
def eval_command(
    collection: CollectionOpt,
    questions: Annotated[Path, typer.Option(help="JSONL question file (DESIGN.md §6 format).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
) -> None:
    """Measure retrieval quality on a question set."""
    from docsbot.index.eval import QuestionFileError, evaluate, load_questions

    try:
        loaded = load_questions(questions)
    except QuestionFileError as error:
        fail(str(error))
    search_mode = _mode(mode)
    searcher = _searcher(collection, mode)

    def run(question: str) -> tuple[list[Source], float | None]:
        result = searcher.search(question, limit=20, mode=search_mode)
        top = result.best_dense_score
        if top is None and result.sources:
            top = result.sources[0].score
        return result.sources, top

    with _progress() as progress:
        task = progress.add_task("questions", total=len(loaded))
        report = evaluate(loaded, run, on_question=lambda: progress.advance(task))
    data = report.as_dict()
    if json_output:
        print(json.dumps(data, indent=2))
        return
    _print_eval(collection, data)


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
    out.print(f"  separation (ROC AUC): {abstention['auc']}")
    misses = data["misses"]
    assert isinstance(misses, list)
    if misses:
        out.print(f"\n{len(misses)} misses (no relevant page in the top 5):")
        for miss in misses:
            out.print(f"  [bold]{miss['id']}[/] {miss['question'][:100]}", highlight=False)
            out.print(f"    expected {', '.join(miss['relevant'])}", highlight=False)
            out.print(f"    got      {', '.join(miss['got'])}", highlight=False)


def _bot_settings() -> BotSettings:
    from docsbot.settings.bot import BotConfigError, load_bot_settings

    try:
        return load_bot_settings()
    except BotConfigError as error:
        fail(str(error))


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (put a tunnel in front for Discord).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """Run the bot locally: POST /interactions, answered in this process (embedded index and state)."""
    import flask
    from werkzeug.serving import run_simple

    from docsbot.app import bot as wiring
    from docsbot.app.bot_http import serve_interaction
    from docsbot.bot.interactions import InteractionsHandler, Limits
    from docsbot.bot.queue import InProcessQueue

    bot = _bot_settings()
    settings = _settings()
    store = wiring.build_store(bot)
    count = wiring.sync_collections(store, settings)
    respond = wiring.build_respond(bot, settings, store)
    queue = InProcessQueue(
        lambda body, headers: respond.handle(body, headers).status, retries=bot.max_attempts - 1, backoff_s=1.0
    )
    handler = InteractionsHandler(
        bot.public_key,
        store,
        queue,
        archiver=wiring.build_archiver(bot),
        default_collection=bot.default_collection,
        limits=Limits(bot.user_questions_per_hour, bot.guild_questions_per_hour, bot.staff_roles),
    )
    web = flask.Flask("docsbot")
    web.add_url_rule(
        "/interactions", "interactions", lambda: serve_interaction(handler, flask.request), methods=["POST"]
    )
    web.add_url_rule("/healthz", "healthz", lambda: "ok")
    err.print(
        f"docsbot serve: {count} collections; set the Interactions Endpoint URL to "
        f"https://<your tunnel>/interactions (listening on http://{host}:{port})"
    )
    try:
        run_simple(host, port, web, threaded=True)
    finally:
        queue.close()


@app.command("register-commands")
def register_commands_command(
    guild: Annotated[str | None, typer.Option(help="Register in one guild (instant) instead of globally.")] = None,
) -> None:
    """Create or update the bot's slash and context-menu commands through the Discord API."""
    from docsbot.app import bot as wiring
    from docsbot.discord.register import register_commands
    from docsbot.discord.rest import DiscordError

    bot = _bot_settings()
    if not bot.bot_token:
        fail("register-commands needs DISCORD_BOT_TOKEN")
    try:
        registered = register_commands(wiring.build_rest(bot), guild)
    except (DiscordError, ValueError) as error:
        fail(str(error))
    where = f"guild {guild}" if guild else "globally (may take up to an hour to appear)"
    out.print(f"registered {len(registered)} commands {where}: {', '.join(c.get('name', '?') for c in registered)}")


@app.command("sync-collections")
def sync_collections_command() -> None:
    """Copy the collections file (collections and channel map) into the bot's state store."""
    from docsbot.app import bot as wiring

    bot, settings = _bot_settings(), _settings()
    if settings.collections_file is None:
        fail("no collections file: set DOCSBOT_COLLECTIONS_FILE")
    try:
        count = wiring.sync_collections(wiring.build_store(bot), settings)
    except ConfigError as error:
        fail(str(error))
    out.print(f"{count} collections stored ({bot.state})")


@app.command()
def demo() -> None:
    """The main job on the embedded default: index a small docs sample and answer questions from it."""
    from docsbot.cli.demo import run_demo

    settings = _settings()
    try:
        run_demo(settings, out, err)
    except (IndexStoreError, ConfigError) as error:
        fail(str(error))


register_freshness_commands(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
