"""A scriptable docs site on the loopback SiteServer, with HTTP validators: the refresh tests' site.

Pages by path in Docusaurus markup, a sitemap (optionally listing a subset, to simulate a shrinking sitemap),
ETag + Last-Modified with 304 answers to matching conditional requests, and switches that make the whole site
or single pages answer 503 or drop their connection (a server that died), and pages whose answer is held until
the test releases it.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
from collections.abc import Sequence
from typing import Any

from tests.harness.fakes.site_server import RecordedRequest, Reply, SiteServer


def doc_html(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A page in Docusaurus markup: an article of `## heading` sections."""
    body = "".join(f'<h2 class="anchor" id="{anchor}">{anchor.title()}</h2><p>{text}</p>' for anchor, text in sections)
    return (
        '<!doctype html><html class="docs-doc-page"><head><meta charset="utf-8">'
        f"<title>{title} | Site</title></head><body><main><article>"
        f'<div class="theme-doc-markdown markdown"><header><h1>{title}</h1></header>{body}</div>'
        "</article></main></body></html>"
    )


def long_text(seed: str, words: int = 260) -> str:
    """Distinct prose long enough that each section is a chunk of its own."""
    return " ".join(f"{seed}{i % 37} configures{i % 11} the store" for i in range(words // 4))


class DocsSite:
    """A site on SiteServer: pages by path, a sitemap (optionally listing a subset), ETag + Last-Modified,
    304 answers to matching conditional requests, a switch that makes every URL answer 503, and single pages
    answering 503 or dropping their connection."""

    def __init__(self, server: SiteServer, prefix: str = "/docs/") -> None:
        self.server = server
        self.prefix = prefix
        self.pages: dict[str, str] = {}
        self.modified: dict[str, str] = {}
        self._versions = 0
        self.listed: list[str] | None = None  # paths the sitemap lists (None: every page)
        self.down = False
        self.failing: set[str] = set()  # page paths answering 503 (the rest of the site is fine)
        self.dropping: set[str] = set()  # page paths whose connection is closed unanswered (a server that died)
        # Page paths whose answer waits until their event is set (a page in progress when the test acts).
        self.held: dict[str, threading.Event] = {}
        server.route("/robots.txt", self._robots)
        server.route(f"{prefix}sitemap.xml", self._sitemap)

    def put(self, path: str, html: str) -> None:
        if path not in self.pages:
            self.server.route(path, self._page)
        self.pages[path] = html
        # Each version a later second than the last: If-Modified-Since compares whole seconds.
        self._versions += 1
        self.modified[path] = email.utils.formatdate(1_700_000_000 + self._versions, usegmt=True)

    def url(self, path: str) -> str:
        return self.server.at(path)

    @property
    def sitemap_url(self) -> str:
        return self.server.at(f"{self.prefix}sitemap.xml")

    def _robots(self, request: RecordedRequest) -> Reply:
        if self.down:
            return Reply(status=503, body="down", headers={"Retry-After": "0"})
        return Reply(body="User-agent: *\nAllow: /\n", content_type="text/plain")

    def _sitemap(self, request: RecordedRequest) -> Reply:
        if self.down:
            return Reply(status=503, body="down", headers={"Retry-After": "0"})
        paths = self.listed if self.listed is not None else sorted(self.pages)
        urls = "".join(f"<url><loc>{self.server.at(p)}</loc></url>" for p in paths)
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return Reply(body=body, content_type="application/xml")

    def _page(self, request: RecordedRequest) -> Reply:
        hold = self.held.get(request.path)
        if hold is not None:
            hold.wait(timeout=120)  # a bound only for a broken test: the test sets it
        if self.down or request.path in self.failing:
            return Reply(status=503, body="down", headers={"Retry-After": "0"})
        if request.path in self.dropping:
            return Reply(drop=True)
        html = self.pages[request.path]
        etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": self.modified[request.path]}
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, body=b"", content_type=None, headers=headers)
        return Reply(body=html, headers=headers)

    def page_requests(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path in self.pages]


def generated_site(server: SiteServer, count: int, prefix: str = "/docs/") -> DocsSite:
    """A site of `count` small pages, `page-0` … `page-{count-1}`."""
    site = DocsSite(server, prefix)
    for n in range(count):
        site.put(f"{prefix}page-{n}", doc_html(f"Page {n}", [("intro", f"Page {n} explains topic {n}.")]))
    return site


def site_source(name: str, site: DocsSite, start: str | None = None) -> dict[str, Any]:
    """The collections-file entry of a docusaurus source crawling `site` (no delay, 4 at a time)."""
    return {
        "kind": "docusaurus",
        "name": name,
        "url": site.url(start or min(site.pages)),
        "prefix": site.prefix,
        "sitemap_url": site.sitemap_url,
        "delay_seconds": 0,
        "concurrency": 4,
    }
