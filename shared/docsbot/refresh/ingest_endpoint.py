"""The ingest endpoint's core: a validated batch of pages and deletions in, the index updated, outcomes out.

A batch (JSON) looks like:

    {"collection": "mydocs", "source": "docs",
     "pages": [{"url": "https://docs.example.com/intro", "title": "Intro", "markdown": "# Intro\\n...",
                "tags": ["v2"]}],
     "deletions": ["https://docs.example.com/old-page"],
     "listing": null}

`listing` (optional) is every page URL the source has now: the source's other indexed pages are deleted (for
pushes that have no memory of what they sent before). A batch whose deletions, explicit and implied by the
listing together, would delete more than `max_prune` of the source's indexed pages is refused unless
`allow_large_prune` is set (the refresh pipeline's drop guard, `deletion_refusal`): a half-empty checkout or a
runaway script must not empty the index.

URLs are refused when they carry credentials (`https://user:pass@host/`: they would be stored and shown in
answers) or characters that break the markdown links answers cite them in (spaces, `<>()[]"` and backquotes:
percent-encode them).

Writes to one collection are serialised with a lease (`ingest/<collection>`), so two concurrent pushes of the
same page end with the points of one of them, never a mix. Re-sending unchanged pages embeds nothing: point ids
derive from the chunk content (docsbot.index.sync).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from docsbot.documents.anchors import normalise_heading_anchors
from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.ports import IndexInfo, VectorIndex
from docsbot.index.sync import sync_pages
from docsbot.refresh.pipeline import deletion_refusal
from docsbot.settings.config import COLLECTION_NAME_PATTERN, CollectionConfig, SiteSource
from docsbot.store.lease import hold_lease
from docsbot.store.ports import FreshnessStore

logger = logging.getLogger(__name__)

SOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
MAX_PAGES = 1000
MAX_DELETIONS = 10_000
MAX_LISTING = 200_000
MAX_URL = 2048
SOURCE_KIND = "ingest"

# Outcomes, per page and per deletion.
NEW, CHANGED, UNCHANGED, EMPTY = "new", "changed", "unchanged", "empty"  # EMPTY: a page with nothing to index
DELETED, ABSENT = "deleted", "absent"  # ABSENT: nothing was indexed for the URL


# Characters that end or break a markdown link `[title](url)` or an autolink `<url>` where answers cite pages.
_LINK_BREAKING = frozenset('<>()[]"`\\')


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if "#" in url or any(c.isspace() for c in url):
        raise ValueError("must have no #fragment and no spaces")
    if "@" in parts.netloc:
        raise ValueError("must not hold credentials (user:password@): they would be stored and shown in answers")
    breaking = sorted({c for c in url if c in _LINK_BREAKING or not c.isprintable()})
    if breaking:
        shown = " ".join(repr(c) for c in breaking)
        raise ValueError(f"must not hold {shown}: they break markdown links; percent-encode them (%28 for '(')")
    return url


class PageIn(BaseModel):
    """One page, as `docsbot.documents.model.Page` needs it: URL, title, markdown, optional tags."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL)
    title: str = Field(min_length=1, max_length=500)
    markdown: str
    tags: list[str] = Field(default_factory=list, max_length=32)

    _url = field_validator("url")(_check_url)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not 1 <= len(tag) <= 64:
                raise ValueError("each tag is 1 to 64 characters")
        return tags


class IngestBatch(BaseModel):
    """A batch of pages to index and URLs to delete, for one source of one collection."""

    model_config = ConfigDict(extra="forbid")

    collection: str = Field(pattern=COLLECTION_NAME_PATTERN)
    source: str = Field(default="docs", pattern=SOURCE_NAME_PATTERN)
    pages: list[PageIn] = Field(default_factory=list, max_length=MAX_PAGES)
    deletions: list[str] = Field(default_factory=list, max_length=MAX_DELETIONS)
    listing: list[str] | None = Field(default=None, max_length=MAX_LISTING)
    allow_large_prune: bool = False

    @field_validator("deletions", "listing")
    @classmethod
    def _urls(cls, urls: list[str] | None) -> list[str] | None:
        for position, url in enumerate(urls or []):
            if len(url) > MAX_URL:
                raise ValueError(f"item {position}: at most {MAX_URL} characters")
            try:
                _check_url(url)
            except ValueError as error:
                raise ValueError(f"item {position} ({url[:100]!r}): {error}") from None
        return urls

    @model_validator(mode="after")
    def _consistent(self) -> IngestBatch:
        urls = [p.url for p in self.pages]
        repeated = sorted({u for u in urls if urls.count(u) > 1})
        if repeated:
            raise ValueError(f"pages: each URL once per batch, repeated: {repeated[:5]}")
        both = sorted(set(urls) & set(self.deletions))
        if both:
            raise ValueError(f"deletions: URLs also sent as pages: {both[:5]}")
        if self.listing is not None:
            missing = sorted(set(urls) - set(self.listing))
            if missing:
                raise ValueError(f"listing: must include every page of the batch, missing {missing[:5]}")
        return self


class BatchRejected(ValueError):
    """The batch is valid JSON of the right shape but cannot be applied (unknown collection...): a 400."""


@dataclass(frozen=True)
class Outcome:
    url: str
    outcome: str


@dataclass
class IngestResult:
    collection: str
    source: str
    pages: list[Outcome] = field(default_factory=list)
    deletions: list[Outcome] = field(default_factory=list)  # explicit deletions and those the listing implied
    embeddings: int = 0  # chunks embedded
    chunks_deleted: int = 0

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((NEW, CHANGED, UNCHANGED, EMPTY, DELETED, ABSENT), 0)
        for item in [*self.pages, *self.deletions]:
            counts[item.outcome] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "source": self.source,
            "counts": self.counts(),
            "embeddings": self.embeddings,
            "chunks_deleted": self.chunks_deleted,
            "pages": [item.__dict__ for item in self.pages],
            "deletions": [item.__dict__ for item in self.deletions],
        }


def format_validation_error(error: Any) -> str:
    """A pydantic ValidationError as one line per problem, each naming the field (`pages.3.url: ...`)."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "body"
        message = re.sub(r"^Value error, ", "", item["msg"])
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


class IngestService:
    """Applies batches to the index of their collection, one writer per collection at a time."""

    def __init__(
        self,
        collections: Mapping[str, CollectionConfig],
        store: FreshnessStore,
        open_index: Callable[[str], VectorIndex],
        embedder: Embedder,
        sparse: Bm25Encoder,
        *,
        lock_wait: float = 30.0,
        lease_ttl: timedelta = timedelta(minutes=5),
        max_prune: float = 0.2,
    ) -> None:
        self.collections = collections
        self.store = store
        self.open_index = open_index
        self.embedder = embedder
        self.sparse = sparse
        self.lock_wait = lock_wait
        self.lease_ttl = lease_ttl
        self.max_prune = max_prune

    def check(self, batch: IngestBatch) -> None:
        """Raise BatchRejected unless the batch may go to its collection and source."""
        config = self.collections.get(batch.collection)
        if config is None:
            known = ", ".join(sorted(self.collections)) or "none"
            raise BatchRejected(f"collection: unknown collection {batch.collection!r} (known: {known})")
        if not config.enabled:
            raise BatchRejected(f"collection: {batch.collection!r} is disabled in the collections file")
        crawled = {s.name for s in config.sources if isinstance(s, SiteSource)}
        if batch.source in crawled:
            raise BatchRejected(
                f"source: {batch.source!r} is a site the scrape job crawls; push to another source name"
            )
        if any(s.name == batch.source and s.kind == "threads" for s in config.sources):
            raise BatchRejected(f"source: {batch.source!r} is the solved threads; push to another source name")

    def apply(self, batch: IngestBatch) -> IngestResult:
        """Index the batch's pages and delete its URLs (raises BatchRejected, LeaseBusy, IndexStoreError)."""
        self.check(batch)
        holder = f"ingest-{uuid.uuid4().hex[:12]}"
        with hold_lease(
            self.store, f"ingest/{batch.collection}", holder, ttl=self.lease_ttl, wait=self.lock_wait
        ) as lease:
            index = self.open_index(batch.collection)
            try:
                return self._apply(index, batch, lease.keep)
            finally:
                index.close()

    def _apply(self, index: VectorIndex, batch: IngestBatch, keep: Callable[[], None]) -> IngestResult:
        result = IngestResult(collection=batch.collection, source=batch.source)
        index.ensure(
            IndexInfo(embedder=self.embedder.name, dimensions=self.embedder.dimensions, sparse=self.sparse.name)
        )
        stored: dict[str, list[str]] = defaultdict(list)
        for point in index.stored_points(source=batch.source):
            stored[point.url].append(point.id)

        page_urls = {p.url for p in batch.pages}
        gone = list(dict.fromkeys(batch.deletions))
        if batch.listing is not None:
            listed = set(batch.listing)
            gone.extend(sorted(u for u in stored if u not in listed and u not in page_urls and u not in gone))
        deleting = sum(1 for url in gone if url in stored)
        # The pipeline's drop guard, for explicit deletions and a listing's alike: after the batch the source
        # keeps the pages it does not delete.
        refusal = deletion_refusal(
            reached=len(stored) - deleting,
            baseline=len(stored),
            max_drop=self.max_prune,
            allow_large_delete=batch.allow_large_prune,
        )
        if refusal is not None:
            field_name = "listing" if batch.listing is not None else "deletions"
            raise BatchRejected(
                f"{field_name}: it would delete {deleting} of the {len(stored)} pages of source {batch.source!r} "
                f"(more than {self.max_prune:.0%}); send allow_large_prune: true if that is intended"
            )

        ids = [point_id for url in gone for point_id in stored.get(url, [])]
        index.delete(ids)
        result.chunks_deleted = len(ids)
        result.deletions = [Outcome(url, DELETED if stored.get(url) else ABSENT) for url in gone]

        pages = [
            Page(
                url=p.url,
                title=p.title,
                markdown=normalise_heading_anchors(p.markdown),
                source_kind=SOURCE_KIND,
                origin="ingest",
                tags=tuple(p.tags),
            )
            for p in batch.pages
        ]
        summary = sync_pages(
            index, self.embedder, self.sparse, pages, source=batch.source, complete=False, on_page=lambda _p: keep()
        )
        changed = set(summary.changed_urls)
        for page in pages:
            if page.url in stored:
                outcome = CHANGED if page.url in changed else UNCHANGED
            else:
                # A new page with chunks was embedded, so it is among the changed URLs; one without is empty.
                outcome = NEW if page.url in changed else EMPTY
            result.pages.append(Outcome(page.url, outcome))
        result.embeddings = summary.chunks_embedded
        result.chunks_deleted += summary.chunks_deleted
        logger.info(
            "ingest batch applied",
            extra={
                "collection": batch.collection,
                "source": batch.source,
                "counts": result.counts(),
                "embeddings": result.embeddings,
            },
        )
        return result
