"""Scraper benchmarks: crawl throughput and peak memory against a generated Docusaurus-shaped site.

`python -m bench crawl` serves N generated pages (Docusaurus 3 markup: article, headings with anchors,
highlighted code, a table, an admonition, navbar/sidebar/TOC chrome) from 127.0.0.1 with a sitemap, then
crawls them with the real crawler, fetcher and HTML→markdown converter, delay 0, in a fresh child process
so its peak RSS is the crawl's own. Prints pages/s and peak memory for 200 and 2,000 pages.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 200)

CHROME = """<nav class="navbar"><a href="/">Home</a><a href="/docs/">Docs</a></nav>
<aside class="theme-doc-sidebar-container"><nav class="menu">{links}</nav></aside>"""


def page_html(n: int, total: int) -> str:
    links = "".join(
        f'<a class="menu__link" href="/docs/page-{(n + k) % total}">Page {(n + k) % total}</a>' for k in range(1, 30)
    )
    code = "".join(
        f'<span class="token-line"><span class="token keyword">const</span> value{i} = compute({i})<br></span>'
        for i in range(12)
    )
    rows = "".join(
        f'<tr><td><a href="/docs/page-{i}">option{i}</a></td><td>Sets option {i}.</td></tr>' for i in range(8)
    )
    sections = "".join(
        f"""<h2 class="anchor" id="section-{s}">Section {s} of page {n}
<a class="hash-link" href="#section-{s}">\u200b</a></h2>
<p>Paragraph about feature {n}.{s}: it configures the store, the middleware and the reducers.
{"Some more words. " * 20}</p>
<div class="language-js theme-code-block"><pre><code>{code}</code></pre><button>Copy</button></div>
<div class="theme-admonition theme-admonition-tip alert alert--success"><div class="admonitionHeading_x">tip</div>
<div class="admonitionContent_y"><p>Remember setting {s}.</p></div></div>
<table><thead><tr><th>Option</th><th>Meaning</th></tr></thead><tbody>{rows}</tbody></table>"""
        for s in range(5)
    )
    return f"""<!doctype html><html class="docs-doc-page docs-version-current"><head><meta charset="utf-8">
<meta name="generator" content="Docusaurus v3.10.2"><meta name="docusaurus_version" content="current">
<title>Page {n} | Bench</title></head><body>{CHROME.format(links=links)}
<main><article><nav class="theme-doc-breadcrumbs">Docs / Page {n}</nav>
<div class="theme-doc-markdown markdown"><header><h1>Page {n}</h1></header>{sections}</div></article>
<div class="theme-doc-toc-desktop"><a class="table-of-contents__link" href="#section-0">Section 0</a></div>
<nav class="pagination-nav"><a href="/docs/page-{(n + 1) % total}">Next</a></nav></main>
<footer class="footer">© Bench</footer></body></html>"""


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


def child(base: str, total: int, concurrency: int) -> None:
    """Runs in a fresh process: crawl the site and print one JSON line of measurements."""
    from docsbot.settings.config import SiteSource
    from docsbot.sources.site.scrape import crawl_options, scrape_site

    source = SiteSource(
        kind="docusaurus", url=f"{base}/docs/", max_pages=total + 10, delay_seconds=0.0, concurrency=concurrency
    )
    started = time.perf_counter()
    result = scrape_site(source, options=crawl_options(source), render=lambda url: "")
    seconds = time.perf_counter() - started
    markdown_bytes = sum(len(p.markdown) for p in result.pages)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "pages": len(result.pages),
                "seconds": seconds,
                "peak_mib": peak_kib / 1024,
                "markdown_mib": markdown_bytes / 2**20,
                "completed": result.summary.completed,
            }
        )
    )


def crawl() -> None:
    """Pages per second and peak memory of crawls of 200 and 2,000 generated pages, delay 0."""
    table = Table(title="crawl of a generated Docusaurus-shaped site on 127.0.0.1 (delay 0)")
    for column in ("pages", "concurrency", "seconds", "pages/s", "peak RSS (MiB)", "markdown kept (MiB)", "complete"):
        table.add_column(column, justify="right")
    for total, concurrency in ((200, 2), (2000, 2), (2000, 4)):
        with validating_site(total) as (base, _traffic):
            run = subprocess.run(
                [sys.executable, "-m", "bench.scrape", "child", base, str(total), str(concurrency)],
                capture_output=True,
                text=True,
                timeout=1800,
                check=True,
            )
        data = json.loads(run.stdout.strip().splitlines()[-1])
        table.add_row(
            str(data["pages"]),
            str(concurrency),
            f"{data['seconds']:.1f}",
            f"{data['pages'] / data['seconds']:.1f}",
            f"{data['peak_mib']:.0f}",
            f"{data['markdown_mib']:.1f}",
            str(data["completed"]),
        )
    console.print(table)


def html_markdown() -> None:
    """HTML→markdown time for pages of growing size (a list and a linked table): linear means the time per
    1,000 elements stays flat as pages grow."""
    from docsbot.sources.site.html_markdown import extract_page

    table = Table(title="HTML → markdown on large pages (list items + linked table rows)")
    for column in ("elements", "html KB", "seconds", "ms per 1,000 elements"):
        table.add_column(column, justify="right")
    for scale in (1, 2, 4, 8):
        items = "".join(f"<li>item {n}</li>" for n in range(5_000 * scale))
        rows = "".join(f"<tr><td>{n}</td><td><a href='/r/{n}'>row</a></td></tr>" for n in range(1_250 * scale))
        html = f"<main><ol>{items}</ol><table><tr><th>n</th><th>link</th></tr>{rows}</table></main>"
        started = time.perf_counter()
        extract_page(html, "https://docs.example.com/big")
        seconds = time.perf_counter() - started
        elements = 6_250 * scale
        table.add_row(f"{elements:,}", f"{len(html) // 1024:,}", f"{seconds:.2f}", f"{seconds * 1e6 / elements:.1f}")
    console.print(table)


PARTS = {"crawl": crawl, "html-markdown": html_markdown}

if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        crawl()
