"""The answering commands of `docsbot`: ask, and the demo on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docsbot.cli.common import (
    check_collection_name,
    err,
    fail,
    load_settings_or_fail,
    out,
)
from docsbot.cli.index import open_searcher
from docsbot.index.errors import IndexStoreError
from docsbot.settings.config import (
    CollectionConfig,
    ConfigError,
    Settings,
    load_collections,
)

if TYPE_CHECKING:  # imported lazily at run time so `docsbot --help` stays fast
    pass


def ask(
    question: Annotated[str, typer.Argument(help="The question, as a user would ask it in Discord.")],
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", "-c", help="Docs collection (default: the only one configured, else the only one indexed)."
        ),
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

    settings = load_settings_or_fail()
    name, config = _collection_config(settings, collection)
    turns = []
    if history is not None:
        try:
            turns = load_history(history)
        except HistoryFileError as error:
            fail(str(error))
    searcher = open_searcher(name, "hybrid")
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
    """The collection to use and its configuration (None when it is not in a collections file).

    Without `--collection`: the only enabled collection of the collections file, else the only collection in the
    index; never a guess among several, and never the demo sample in place of what was ingested."""
    from docsbot.cli.demo import DEMO_COLLECTION, demo_config

    collections = None
    if settings.collections_file is not None:
        try:
            collections = load_collections(settings.collections_file)
        except ConfigError as error:
            fail(str(error))
    configured = {c.name: c for c in collections.collections} if collections else {}
    if name is None:
        from docsbot.app.indexes import indexed_collections

        enabled = [c for c in configured.values() if c.enabled]
        candidates = [c.name for c in enabled] or indexed_collections(settings)
        where = "configured" if enabled else "in the index"
        if not candidates:
            fail(
                "no collection is indexed yet: run docsbot ingest --collection NAME --source-dir DIR (or docsbot demo)"
            )
        if len(candidates) > 1:
            fail(f"several collections are {where}: choose one with --collection ({', '.join(candidates)})")
        name = candidates[0]
        err.print(f"answering from collection {name!r}, the only one {where}", markup=False, highlight=False)
    check_collection_name(name)
    if name in configured:
        return name, configured[name]
    return name, demo_config() if name == DEMO_COLLECTION else None


def demo() -> None:
    """The main job on the embedded default: index a small docs sample and answer questions from it."""
    from docsbot.cli.demo import run_demo

    settings = load_settings_or_fail()
    try:
        run_demo(settings, out, err)
    except (IndexStoreError, ConfigError) as error:
        fail(str(error))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `docsbot` app."""
    app.command("ask")(ask)
    app.command("demo")(demo)
