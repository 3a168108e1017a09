"""Discover page URLs from XML sitemaps (sitemaps.org 0.9): urlsets and nested sitemap indexes.

Parsing is defensive: sizes are bounded (a gzip body is decompressed up to the same limit), documents with a
DTD are refused (sitemaps never need one, and refusing it rules out entity-expansion tricks), element names
are matched without their namespace (many generators get the namespace wrong), and a malformed document is
reported as a problem, never raised, so the crawler can fall back to following links.
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree

from docsbot.sources.site.fetch import FetchResult

logger = logging.getLogger(__name__)

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the protocol's limit for one uncompressed sitemap
MAX_ENTRIES_PER_SITEMAP = 50_000  # the protocol's limit too
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    """A document that is not a readable sitemap; the message says why."""


@dataclass(frozen=True)
class SitemapDocument:
    """One parsed sitemap: a `urlset` (page URLs) or a `sitemapindex` (URLs of further sitemaps)."""

    kind: str  # "urlset" or "sitemapindex"
    locs: tuple[str, ...]


@dataclass
class SitemapDiscovery:
    """What reading a set of sitemaps found."""

    urls: list[str] = field(default_factory=list)  # accepted page URLs, in document order, without duplicates
    sitemaps_read: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    limit_reached: bool = False

    @property
    def found(self) -> bool:
        """Whether at least one sitemap was read."""
        return bool(self.sitemaps_read)

    @property
    def complete(self) -> bool:
        """Whether every sitemap was read and no limit cut the listing short."""
        return self.found and not self.problems and not self.limit_reached


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(max_bytes + 1)  # reading one byte more tells "at the limit" from "over it"
    except (OSError, EOFError, zlib.error) as error:
        raise SitemapError(f"broken gzip data: {error}") from None
    if len(out) > max_bytes:
        raise SitemapError(f"uncompressed sitemap is over {max_bytes} bytes")
    return out


def parse_sitemap(
    data: bytes, *, max_bytes: int = MAX_SITEMAP_BYTES, max_entries: int = MAX_ENTRIES_PER_SITEMAP
) -> SitemapDocument:
    """Parse one sitemap document (plain or gzip). Raises SitemapError when it is not a usable sitemap."""
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(data, max_bytes)
    if len(data) > max_bytes:
        raise SitemapError(f"sitemap is over {max_bytes} bytes")
    if not data.strip():
        raise SitemapError("empty document")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SitemapError("document has a DTD (not allowed in a sitemap)")
    kind = ""
    locs: list[str] = []
    path: list[str] = []
    try:
        # Safe without defusedxml: DTDs (hence entities) were refused above, and expat never fetches anything.
        for event, element in ElementTree.iterparse(io.BytesIO(data), events=("start", "end")):  # noqa: S314
            name = _local_name(element.tag)
            if event == "start":
                if not path:
                    if name not in ("urlset", "sitemapindex"):
                        raise SitemapError(f"not a sitemap: the root element is <{name}>")
                    kind = name
                path.append(name)
                continue
            path.pop()
            if name == "loc" and len(path) == 2 and path[1] in ("url", "sitemap"):
                text = (element.text or "").strip()
                if text:
                    locs.append(text)
                    if len(locs) > max_entries:
                        raise SitemapError(f"more than {max_entries} entries")
            if len(path) <= 1:
                element.clear()  # entries are done with: keep memory flat on big sitemaps
    except ElementTree.ParseError as error:
        raise SitemapError(f"not well-formed XML: {error}") from None
    if not kind:
        raise SitemapError("no root element")
    return SitemapDocument(kind=kind, locs=tuple(locs))


def read_sitemaps(
    fetch: Callable[[str], FetchResult],
    sitemap_urls: Sequence[str],
    *,
    accept: Callable[[str], bool] = lambda url: True,
    max_urls: int = 50_000,
    max_sitemaps: int = 100,
    max_depth: int = 3,
) -> SitemapDiscovery:
    """Read sitemaps breadth-first from `sitemap_urls`, following indexes up to `max_depth` levels.

    `fetch` is typically `PoliteFetcher.fetch_document`. Page URLs pass through `accept` (scope, patterns);
    at most `max_urls` are kept and at most `max_sitemaps` documents read. Every failure becomes a line in
    `problems`; nothing is raised for a bad sitemap.
    """
    discovery = SitemapDiscovery()
    queue: deque[tuple[str, int]] = deque((url, 0) for url in sitemap_urls)
    queued = set(sitemap_urls)
    seen_urls: set[str] = set()
    while queue:
        url, depth = queue.popleft()
        if len(discovery.sitemaps_read) >= max_sitemaps:
            discovery.problems.append(f"stopped after {max_sitemaps} sitemaps; {len(queue) + 1} not read")
            break
        result = fetch(url)
        if not result.ok:
            reason = result.error_kind or result.outcome
            discovery.problems.append(f"{url}: {reason}{f' ({result.message})' if result.message else ''}")
            continue
        try:
            document = parse_sitemap(result.body)
        except SitemapError as error:
            logger.warning("sitemap %s is unusable: %s", url, error)
            discovery.problems.append(f"{url}: {error}")
            continue
        discovery.sitemaps_read.append(url)
        if document.kind == "sitemapindex":
            if depth >= max_depth:
                discovery.problems.append(f"{url}: sitemap index nested deeper than {max_depth} levels")
                continue
            for loc in document.locs:
                if loc not in queued:
                    queued.add(loc)
                    queue.append((loc, depth + 1))
            continue
        for loc in document.locs:
            if loc in seen_urls or not accept(loc):
                continue
            if len(discovery.urls) >= max_urls:
                discovery.limit_reached = True
                return discovery
            seen_urls.add(loc)
            discovery.urls.append(loc)
    return discovery
