"""The shapes every part of docsbot passes around: pages, their sections, chunks and sources.

A `Page` is one documentation page whatever it came from (a markdown folder, a crawled site, the
ingest endpoint, a solved Discord thread). A page of kind `COMMUNITY_KIND` is a community answer, not the
docs: every `Source` of it says so in its `label`, which the prompt, the extractive answer, Discord and the
terminal all show. Its markdown is *normalised*: every heading carries its anchor explicitly, as
`## Heading text {#anchor}`, so that deep links survive every later step unchanged.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

# The source kind of solved Discord threads (`docsbot.sources.threads`): community answers, not the docs.
COMMUNITY_KIND = "threads"
COMMUNITY_LABEL = "Community answer"

# A fixed namespace so point ids are stable across machines and releases.
_POINT_NAMESPACE = uuid.UUID("6f1c1b3e-6a53-4b8e-9a53-d0c5b07a1d1e")


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of a string's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Page:
    """One documentation page, normalised to markdown with explicit heading anchors."""

    url: str  # canonical page URL, no fragment
    title: str
    markdown: str
    source_kind: str  # "markdown_folder", "docusaurus", "sitemap", "ingest", ...
    origin: str = ""  # where it came from (a relative path, a fetched URL), for messages
    description: str = ""
    tags: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content_hash(self) -> str:
        """Hash of everything that changes what gets indexed for this page."""
        return sha256_hex("\x1f".join([self.url, self.title, self.markdown, ",".join(self.tags)]))


@dataclass(frozen=True)
class Section:
    """A heading section of a page: the text under one heading, up to the next heading."""

    heading_path: tuple[str, ...]  # headings from the page's top section down to this one
    anchor: str  # "" for the text before the first heading
    level: int  # 1 for the page's lead section, 2-6 for headings
    markdown: str  # the section body, without its heading line


@dataclass(frozen=True)
class Chunk:
    """A piece of a page small enough to embed, standing alone: its text starts with its heading path."""

    url: str  # page URL, no fragment
    anchor: str  # "" when the chunk is the page's lead section
    title: str  # page title
    heading_path: tuple[str, ...]
    text: str
    token_count: int
    source_kind: str = ""
    tags: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()  # every section anchor whose text this chunk holds (merged sections)

    @property
    def content_hash(self) -> str:
        return sha256_hex(self.text)

    @property
    def point_id(self) -> str:
        """Derived from (url, anchor, content hash): unchanged content always maps to the same point."""
        return str(uuid.uuid5(_POINT_NAMESPACE, f"{self.url}\n{self.anchor}\n{self.content_hash}"))

    @property
    def deep_link(self) -> str:
        return f"{self.url}#{self.anchor}" if self.anchor else self.url


@dataclass(frozen=True)
class Source:
    """A search result as a citation shows it: one page section."""

    title: str
    heading_path: tuple[str, ...]
    url: str  # page URL, no fragment
    anchor: str
    snippet: str
    score: float
    text: str = ""  # the matched chunk texts of this section, for prompting
    source_kind: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    anchors: tuple[str, ...] = ()  # every section anchor the matched chunks cover

    @property
    def deep_link(self) -> str:
        return f"{self.url}#{self.anchor}" if self.anchor else self.url

    @property
    def community(self) -> bool:
        """Whether this is a community answer (a solved thread) rather than a documentation section."""
        return self.source_kind == COMMUNITY_KIND

    @property
    def label(self) -> str:
        """`Page › Section`, as a citation line shows it; `Community answer › Thread title` for a solved thread."""
        parts = [self.title, *[h for h in self.heading_path if h != self.title]]
        if self.community:
            parts.insert(0, COMMUNITY_LABEL)
        return " › ".join(p for p in parts if p)
