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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.scrape import page_html

console = Console(width=None if sys.stdout.isatty() else 200)

PAGES = 2000
LAST_MODIFIED = "Sat, 01 Mar 2025 12:00:00 GMT"


@dataclass
class Traffic:
    requests: int = 0
    not_modified: int = 0
    body_bytes: int = 0

    def reset(self) -> Traffic:
        snapshot = Traffic(self.requests, self.not_modified, self.body_bytes)
        self.requests = self.not_modified = self.body_bytes = 0
        return snapshot


@contextmanager
def validating_site(total: int) -> Iterator[tuple[str, Traffic]]:
    """A loopback site of `total` pages whose pages carry validators and answer 304 when they match."""
    state: dict[str, Any] = {}
    traffic = Traffic()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            headers: dict[str, str] = {}
            number: int | None = None
            if path == "/robots.txt":
                body, kind = f"User-agent: *\nAllow: /\nSitemap: {state['base']}/sitemap.xml\n", "text/plain"
            elif path == "/sitemap.xml":
                urls = "".join(f"<url><loc>{state['base']}/docs/page-{i}</loc></url>" for i in range(total))
                body = (
                    f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                )
                kind = "application/xml"
            elif path in ("/docs/", "/docs"):
                number, kind = 0, "text/html; charset=utf-8"
            elif path.startswith("/docs/page-") and path[11:].isdigit() and int(path[11:]) < total:
                number, kind = int(path[11:]), "text/html; charset=utf-8"
            else:
                self._send(404, b"", "text/plain", {})
                return
            if number is not None:
                etag = f'"page-{number}-v1"'
                headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", None, headers)
                    return
                body = page_html(number, total)
            self._send(200, body.encode("utf-8"), kind, headers)

        def _send(self, status: int, data: bytes, kind: str | None, headers: dict[str, str]) -> None:
            with lock:
                traffic.requests += 1
                traffic.not_modified += status == 304
                traffic.body_bytes += len(data)
            self.send_response(status)
            if kind:
                self.send_header("content-type", kind)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state["base"], traffic
    finally:
        server.shutdown()
        server.server_close()


def rescrape() -> None:
    """Wall time, requests and bytes of a re-scrape of an unchanged 2,000-page site vs the first scrape."""
    from docsbot.config import parse_collections
    from docsbot.freshness.job import JobOptions, ScrapeJob
    from docsbot.freshness.store import SqliteFreshnessStore
    from docsbot.index.bm25 import Bm25Encoder
    from docsbot.index.edge_store import EdgeIndex
    from docsbot.index.embedders import HashingEmbedder

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
        store = SqliteFreshnessStore(root / "freshness.sqlite3")
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
