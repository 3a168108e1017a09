"""`docsbot demo`: the main job on the embedded default, with no keys and no network.

Indexes the small Redux docs sample shipped in the package into the embedded Qdrant (incrementally: a
second run embeds nothing), then answers a few real-world questions with the cited sections: with the
configured chat model when there is one, else extractively; one question the docs do not cover shows the
"not in the docs" answer. It ends by pointing at `docsbot simulate`, the learning loop without Discord.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from docsbot.app.answerers import make_answerer
from docsbot.app.indexes import make_embedder, make_sparse, open_index
from docsbot.cli.terminal import answer_renderables, ingest_table
from docsbot.index.search import Searcher
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import CollectionConfig, MarkdownFolderSource, Settings

DEMO_COLLECTION = "demo"
DEMO_QUESTIONS = (
    "my reducer runs but the component never re-renders, what am I doing wrong?",
    "dispatch throws 'Actions must be plain objects. Use custom middleware for async actions.'",
    "can I keep functions or promises in the store state?",
    "how do I use redux in a flutter app?",
)


def demo_config() -> CollectionConfig:
    """The demo collection as a collections file would declare it."""
    return CollectionConfig(name=DEMO_COLLECTION, title="Redux", description="Redux, a JavaScript state container.")


def demo_source() -> MarkdownFolderSource:
    """The Redux docs sample shipped with docsbot."""
    root = Path(str(importlib.resources.files("docsbot") / "demo_data" / "redux"))
    return MarkdownFolderSource(kind="markdown_folder", name="redux-sample", path=root, url_map=root / "urls.tsv")


def demo_questions() -> Path:
    """Questions about the sample in the evaluation set's format, some it answers and some it does not."""
    return demo_source().path / "questions.jsonl"


def run_demo(settings: Settings, out: Console, err: Console) -> None:
    """Index the sample and print the sections that answer each demo question."""
    out.print(
        f"[bold]docsbot demo[/] — index: {settings.qdrant_url or settings.index_path}, embedder: {settings.embedder}"
    )
    index = open_index(settings, DEMO_COLLECTION)
    embedder = make_embedder(settings)
    sparse = make_sparse()
    with err.status("indexing the Redux docs sample…"):
        report = ingest_folder(index, embedder, sparse, demo_source())
    out.print(ingest_table(DEMO_COLLECTION, report))
    answerer = make_answerer(settings, Searcher(index, embedder, sparse), DEMO_COLLECTION, demo_config())
    try:
        for question in DEMO_QUESTIONS:
            out.print()
            out.print(Rule(f"Q: {question}"))
            for part in answer_renderables(answerer.answer(question)):
                out.print(part)
    finally:
        index.close()
    out.print('\nTry your own: docsbot ask "..."  (or docsbot search --collection demo "...")')
    out.print(
        "See the learning loop without Discord: docsbot simulate --collection demo (replays sample questions as "
        "threads), then docsbot gaps --collection demo and docsbot map --collection demo --out map.html",
        markup=False,
    )
