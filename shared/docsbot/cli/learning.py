"""The learning loop's commands of `docsbot`: export (solved threads as training or eval data), simulate (a
question file replayed as threads, to try the loop without Discord), gaps (clusters of the questions the docs failed)
map (questions and doc sections in 2-D) and digest (the gaps posted to a staff channel, conversations captured).

The logic lives in `docsbot.learning`; this module reads options, opens the configured store (DOCSBOT_STATE:
the local SQLite file or Firestore) and writes the result. Exports and this module's log lines are scrubbed of
personal data (`docsbot.learning.pii`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docsbot.cli.common import check_collection_name, deps, err, fail, load_settings_or_fail
from docsbot.cli.common import out as out_console

if TYPE_CHECKING:
    from docsbot.app.bot import Collections
    from docsbot.index.search import Searcher
    from docsbot.learning.threads import ThreadView
    from docsbot.store.ports import Store

log = logging.getLogger("docsbot.learning")
_AGE = re.compile(r"(\d{1,5})([dhw])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`30d`, `12h`, `2w` (that long before `now`) or an ISO date/time (UTC when no offset); None: everything."""
    if not value:
        return None
    match = _AGE.fullmatch(value.strip())
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--since {value!r}: expected an age like 30d, 12h, 2w, or a date like 2026-01-31")
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def open_learning_store() -> Store:
    """The configured store (DOCSBOT_STATE, DOCSBOT_DATA_DIR), or exit with every problem listed."""
    from docsbot.app.stores import open_configured_store
    from docsbot.settings.config import ConfigError
    from docsbot.settings.refresh import load_store_settings

    try:
        return open_configured_store(load_store_settings())
    except ConfigError as error:
        fail(str(error))


def collection_threads(collection: str, since: datetime | None) -> tuple[Collections, Searcher, list[ThreadView]]:
    """The collection's services and searcher, and its threads active since `since` (exit on a bad index)."""
    from docsbot.app.bot import Collections
    from docsbot.index.errors import IndexStoreError
    from docsbot.learning.threads import load_threads

    services = Collections(load_settings_or_fail())
    try:
        searcher = services.searcher(collection)
    except IndexStoreError as error:
        fail(str(error))
    store = open_learning_store()
    try:
        views = load_threads(store, collection, since=since)
    finally:
        store.close()
    return services, searcher, views


def export_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection whose threads to export.")],
    format: Annotated[str, typer.Option("--format", help="chat (fine-tuning JSONL) or eval (questions.jsonl).")],
    since: Annotated[str | None, typer.Option(help="Only threads active since: 30d, 12h, 2w or a date.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Export solved threads as fine-tuning (chat) or evaluation (eval) JSONL, personal data scrubbed."""
    from docsbot.learning.export import ExportStats, export_lines
    from docsbot.learning.pii import Scrubber, ScrubbingFilter
    from docsbot.learning.threads import load_threads

    check_collection_name(collection)
    if format not in ("chat", "eval"):
        fail(f"--format {format!r}: expected chat or eval")
    scrubber = Scrubber()
    log.addFilter(ScrubbingFilter(scrubber))
    store = open_learning_store()
    try:
        views = load_threads(store, collection, since=parse_since(since, deps(ctx).clock()))
        stats = ExportStats()
        lines = export_lines(views, "chat" if format == "chat" else "eval", scrubber=scrubber, stats=stats)
        if out is None:
            for line in lines:
                sys.stdout.write(line + "\n")
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as file:
                for line in lines:
                    file.write(line + "\n")
    finally:
        store.close()
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(stats.skipped.items())) or "none"
    err.print(f"exported {stats.written} of {stats.threads} threads ({format}); skipped: {skipped}", markup=False)


def simulate_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The indexed collection that answers the questions.")],
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions",
            help='A JSONL question file: {"id","question","relevant","answerable"} (demo: the shipped sample).',
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated people, times and reasons.")] = 0,
) -> None:
    """Replay a question file as threads through the real respond path into the local SQLite store."""
    from rich.table import Table

    from docsbot.app.bot import Collections
    from docsbot.app.stores import open_store
    from docsbot.index.errors import IndexStoreError
    from docsbot.index.eval import QuestionFileError, load_questions
    from docsbot.learning.simulate import repeated_ids, simulate

    check_collection_name(collection)
    if questions is None:
        from docsbot.cli.demo import DEMO_COLLECTION, demo_questions

        if collection != DEMO_COLLECTION:
            fail(f"--questions FILE is needed (only the {DEMO_COLLECTION!r} collection has sample questions)")
        questions = demo_questions()
    try:
        asked = load_questions(questions)
    except QuestionFileError as error:
        fail(str(error))
    if repeated_ids(asked):
        fail(f"{questions}: question ids must be unique; repeated: {', '.join(repeated_ids(asked)[:10])}")
    settings = load_settings_or_fail()
    services = Collections(settings)
    try:
        services.searcher(collection)  # says now, in one line, when the collection is not indexed
    except IndexStoreError as error:
        fail(str(error))
    # Always the local file: simulated threads must never land in a deployment's Firestore.
    store = open_store("sqlite", data_dir=settings.data_dir)
    try:
        with err.status(f"answering {len(asked)} questions…"):
            report = simulate(
                asked, store=store, services=services, collection=collection, end=deps(ctx).clock(), seed=seed
            )
    finally:
        store.close()
    counts = report.counts()
    table = Table(title=f"simulated {len(report.threads)} threads in {collection!r}")
    table.add_column("how the thread ended")
    table.add_column("threads", justify="right")
    for verdict in ("solved_by_bot", "solved_by_person", "not_solved", "failed"):
        table.add_row(verdict.replace("_", " "), str(counts[verdict]))
    table.add_row("bot answers: answered / not found", f"{counts['answer:answered']} / {counts['answer:not_found']}")
    out_console.print(table)
    out_console.print(
        f"next: docsbot gaps --collection {collection}  ·  docsbot export --collection {collection} --format eval",
        markup=False,
    )


def gaps_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection whose failed questions to cluster.")],
    since: Annotated[str | None, typer.Option(help="Only threads active since: 30d, 12h, 2w or a date.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the report as a self-contained HTML file.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Clusters shown in the terminal (the HTML report has all).")] = 15,
) -> None:
    """Cluster the questions the docs failed and show, per cluster, the nearest docs and how people solved them."""
    from rich.markup import escape
    from rich.table import Table

    from docsbot.app.answerers import make_chat
    from docsbot.learning.gaps import build_report
    from docsbot.learning.pii import Scrubber, ScrubbingFilter
    from docsbot.learning.report import render_html

    check_collection_name(collection)
    scrubber = Scrubber()
    log.addFilter(ScrubbingFilter(scrubber))
    now = deps(ctx).clock()
    start = parse_since(since, now)
    services, searcher, views = collection_threads(collection, start)
    with err.status("clustering…") as status:  # each step of the report, suggestions included, as it starts
        report = build_report(
            views,
            collection=collection,
            embedder=services.embedder,
            index=searcher.index,
            chat=make_chat(services.settings),
            now=now,
            since=start,
            scrubber=scrubber,
            suggestions=top,
            on_progress=lambda step: status.update(step + "…"),
        )
    table = Table(title=f"{report.gaps} questions the docs failed in {collection!r} ({report.threads} threads)")
    for name, justify in (("#", "right"), ("size", "right"), ("label", "left"), ("doc sim.", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("representative question")
    table.add_column("nearest doc section", overflow="fold")
    for number, cluster in enumerate(report.clusters[:top], start=1):
        similarity = f"{cluster.similarity:.3f}" + (" far" if cluster.far_from_docs else "")
        nearest = cluster.nearest_docs[0].url if cluster.nearest_docs else ""
        question = cluster.representatives[0] if cluster.representatives else ""
        table.add_row(
            str(number), str(cluster.size), escape(cluster.label), similarity, escape(question), escape(nearest)
        )
    out_console.print(table)
    for number, cluster in enumerate(report.clusters[:top], start=1):
        if cluster.proposal:
            out_console.print(f"{number}. {cluster.title}: {cluster.proposal}", markup=False, highlight=False)
    if len(report.clusters) > top:
        out_console.print(
            f"… and {len(report.clusters) - top} smaller clusters (--top, or the --out report)", markup=False
        )
    if report.answered_similarity is not None:
        out_console.print(
            f"answered questions: {sum(c.size for c in report.answered)} in {len(report.answered)} clusters, "
            f"median nearest-doc similarity {report.answered_similarity:.3f} ('far': a gap cluster below it)",
            markup=False,
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(report), encoding="utf-8")
        err.print(f"report written to {out}", markup=False, highlight=False)


def map_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection whose questions and docs to map.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (self-contained, works offline).")],
    since: Annotated[str | None, typer.Option(help="Only threads active since: 30d, 12h, 2w or a date.")] = None,
) -> None:
    """Write an interactive 2-D map of the doc sections and the asked questions, coloured by outcome."""
    from docsbot.learning.map import map_points, project, render_map
    from docsbot.learning.pii import Scrubber

    check_collection_name(collection)
    start = parse_since(since, deps(ctx).clock())
    services, searcher, views = collection_threads(collection, start)
    with err.status("projecting…"):
        points, vectors = map_points(views, embedder=services.embedder, index=searcher.index, scrubber=Scrubber())
        placed = project(points, vectors)
    questions = sum(p.category != "doc section" for p in placed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_map(placed, title=f"{collection}: questions and doc sections"), encoding="utf-8")
    out_console.print(
        f"map of {questions} questions and {len(placed) - questions} doc sections written to {out}", markup=False
    )


def digest_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection whose gaps to post.")],
    channel: Annotated[str, typer.Option("--channel", help="The staff channel's id (the bot must post there).")],
    since: Annotated[str, typer.Option(help="The period: 7d, 36h, 2w or a date.")] = "7d",
    top: Annotated[int, typer.Option(min=1, max=25, help="Clusters in the message (the report has all).")] = 5,
    capture: Annotated[
        bool, typer.Option("--capture/--no-capture", help="First store finished threads' conversations.")
    ] = True,
) -> None:
    """Post the gaps report's top clusters to a Discord channel, the HTML report attached (the weekly digest)."""
    from docsbot.app.digest import run_digest
    from docsbot.discord.rest import DiscordRest
    from docsbot.index.errors import IndexStoreError
    from docsbot.learning.pii import ScrubbingFilter
    from docsbot.settings.bot import DISCORD_API

    check_collection_name(collection)
    if not channel.isdigit() or len(channel) > 20:
        fail(f"--channel {channel!r}: expected the channel's id (digits)")
    env = os.environ
    application_id, token = env.get("DISCORD_APPLICATION_ID", "").strip(), env.get("DISCORD_BOT_TOKEN", "").strip()
    problems = [
        *([] if application_id.isdigit() else ["DISCORD_APPLICATION_ID must be the application's id (digits)"]),
        *([] if token else ["DISCORD_BOT_TOKEN is required (the digest reads threads and posts with it)"]),
    ]
    if problems:
        fail("; ".join(problems))
    logging.getLogger("docsbot").addFilter(ScrubbingFilter())
    now = deps(ctx).clock()
    settings = load_settings_or_fail()
    store = open_learning_store()
    rest = DiscordRest(application_id, bot_token=token, base_url=env.get("DISCORD_API_BASE_URL") or DISCORD_API)
    try:
        with err.status("capturing conversations, clustering, posting…"):
            result = run_digest(
                settings,
                store,
                rest,
                collection=collection,
                channel_id=channel,
                since=parse_since(since, now),
                now=now,
                top=top,
                capture=capture,
            )
    except IndexStoreError as error:
        fail(str(error))
    finally:
        store.close()
        rest.session.close()
    captured = result.captured.summary() if result.captured is not None else "skipped"
    out_console.print(
        f"digest posted: {result.report.gaps} gaps in {len(result.report.clusters)} clusters, "
        f"{result.digest.clusters_shown} shown; conversations: {captured}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `docsbot` app."""
    app.command("export")(export_command)
    app.command("simulate")(simulate_command)
    app.command("gaps")(gaps_command)
    app.command("map")(map_command)
    app.command("digest")(digest_command)
