"""`docsbot demo`: the main job on the embedded default, with no keys and no network.

Indexes the small Redux docs sample shipped in the package into the embedded Qdrant (incrementally: a
second run embeds nothing), then answers a few real-world questions with the cited sections.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from rich.console import Console

from docsbot.config import MarkdownFolderSource, Settings
from docsbot.index.factory import make_embedder, make_sparse, open_index
from docsbot.index.search import Searcher
from docsbot.ingest import ingest_folder
from docsbot.terminal import ingest_table, sources_table

DEMO_COLLECTION = "demo"
DEMO_QUESTIONS = (
    "my reducer runs but the component never re-renders, what am I doing wrong?",
    "dispatch throws 'Actions must be plain objects. Use custom middleware for async actions.'",
    "can I keep functions or promises in the store state?",
)


def demo_source() -> MarkdownFolderSource:
    """The Redux docs sample shipped with docsbot."""
    root = Path(str(importlib.resources.files("docsbot") / "demo_data" / "redux"))
    return MarkdownFolderSource(kind="markdown_folder", name="redux-sample", path=root, url_map=root / "urls.tsv")


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
    searcher = Searcher(index, embedder, sparse)
    try:
        for question in DEMO_QUESTIONS:
            result = searcher.search(question, limit=3)
            out.print()
            out.print(sources_table(f"Q: {question}", result.sources))
    finally:
        index.close()
    out.print(
        "\nThese are the documentation sections docsbot cites for each question. "
        'Try your own: docsbot search --collection demo "..."'
    )
