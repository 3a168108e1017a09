"""Freshness benchmark: what a re-scrape of an unchanged site costs, against the first scrape.

`python -m bench rescrape` serves 2,000 generated Docusaurus-shaped pages (bench.scrape's markup) from
127.0.0.1, now with ETag / Last-Modified and 304 answers to conditional requests, and runs the real scrape job
(crawler, HTML→markdown, incremental sync into the embedded Qdrant Edge index, SQLite freshness store, the
deterministic hashing embedder) three times: the first scrape, a re-scrape of the unchanged site, and a
re-scrape with `full` (stored validators ignored: every page downloaded again, unchanged content hashes keep
the embeddings at zero). Requests and bytes are counted by the server: every request, robots.txt and the
sitemap included; bytes are response bodies.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.scrape import validating_site

console = Console(width=None if sys.stdout.isatty() else 200)

PAGES = 2000


def rescrape() -> None:
    """Wall time, requests and bytes of a re-scrape of an unchanged 2,000-page site vs the first scrape."""
    from docsbot.index.bm25 import Bm25Encoder
    from docsbot.index.embedders import HashingEmbedder
    from docsbot.index.qdrant_edge import EdgeIndex
    from docsbot.refresh.job import JobOptions, ScrapeJob
    from docsbot.settings.config import parse_collections
    from docsbot.store.sqlite import SqliteStore

    table = Table(title=f"scrape job on a generated {PAGES:,}-page site on 127.0.0.1 (delay 0, concurrency 4)")
    for column in ("run", "seconds", "requests", "304s", "MiB downloaded", "pages fetched", "chunks embedded"):
        table.add_column(column, justify="left" if column == "run" else "right")
    with tempfile.TemporaryDirectory() as tmp, validating_site(PAGES) as (base, traffic):
        root = Path(tmp)
        source = {"kind": "docusaurus", "name": "site", "url": f"{base}/docs/", "max_pages": PAGES + 10}
        collections = parse_collections(
            {
                "collection": [
                    {"name": "bench", "title": "Bench", "source": [{**source, "delay_seconds": 0, "concurrency": 4}]}
                ]
            }
        )
        store = SqliteStore(root / "freshness.sqlite3")
        embedder = HashingEmbedder()
        first_seconds = 0.0
        for label, full in (("first scrape", False), ("re-scrape, unchanged", False), ("re-scrape, --full", True)):
            job = ScrapeJob(
                store,
                lambda name: EdgeIndex(root / "index", name),
                embedder,
                Bm25Encoder(),
                options=JobOptions(full=full),
                render=lambda url: "",
            )
            started = time.perf_counter()
            run = job.run(collections)
            seconds = time.perf_counter() - started
            first_seconds = first_seconds or seconds
            seen = traffic.reset()
            (result,) = run.sources
            assert result.outcome == "ok", result.reasons
            table.add_row(
                label,
                f"{seconds:.1f}" + ("" if seconds is first_seconds else f" ({seconds / first_seconds:.0%})"),
                str(seen.requests),
                str(seen.not_modified),
                f"{seen.body_bytes / 2**20:.1f}",
                str(result.pages_fetched),
                str(result.embeddings),
            )
    console.print(table)


PARTS = {"rescrape": rescrape}

if __name__ == "__main__":
    rescrape()
