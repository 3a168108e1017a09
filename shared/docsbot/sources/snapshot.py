"""Scrape snapshots: the pages of one crawl as JSON lines, to inspect or to ingest later.

The first line describes the snapshot (`{"docsbot_snapshot": 1, "collection", "source", "complete", ...}`);
each further line is one page (`url`, `title`, `markdown`, `description`, `tags`, `source_kind`, `origin`).
`docsbot ingest --snapshot FILE` reads it back; a bad line is reported with its number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from docsbot.documents.model import Page

FORMAT_VERSION = 1
MAX_LINE_BYTES = 20 * 1024 * 1024


class SnapshotError(ValueError):
    """The snapshot file is unusable; the message names the line."""


@dataclass(frozen=True)
class SnapshotHeader:
    collection: str
    source: str
    complete: bool = False  # the crawl saw the whole site: pages missing from it may be deleted from the index
    created: str = ""


def page_record(page: Page) -> dict[str, Any]:
    return {
        "url": page.url,
        "title": page.title,
        "markdown": page.markdown,
        "description": page.description,
        "tags": list(page.tags),
        "source_kind": page.source_kind,
        "origin": page.origin,
    }


class SnapshotWriter:
    """Writes a snapshot line by line (pages as they are crawled); the header is rewritten on close."""

    def __init__(self, path: Path, header: SnapshotHeader) -> None:
        self.path = path
        self.header = header
        self._pages: IO[str] = path.with_suffix(path.suffix + ".part").open("w", encoding="utf-8")
        self.count = 0

    def write(self, page: Page) -> None:
        self._pages.write(json.dumps(page_record(page), ensure_ascii=False) + "\n")
        self.count += 1

    def close(self, *, complete: bool) -> None:
        """Finish the file: header first (with the crawl's completeness), then the pages."""
        self._pages.close()
        part = self.path.with_suffix(self.path.suffix + ".part")
        header = {
            "docsbot_snapshot": FORMAT_VERSION,
            "collection": self.header.collection,
            "source": self.header.source,
            "complete": complete,
            "created": self.header.created,
            "pages": self.count,
        }
        with self.path.open("w", encoding="utf-8") as out, part.open(encoding="utf-8") as pages:
            out.write(json.dumps(header) + "\n")
            for line in pages:
                out.write(line)
        part.unlink()


def _field(record: dict[str, Any], name: str, kind: type, line: int, required: bool = True) -> Any:
    value = record.get(name)
    if value is None and not required:
        return kind()
    if not isinstance(value, kind):
        raise SnapshotError(f"line {line}: field {name!r} must be a {kind.__name__}")
    return value


def read_snapshot(path: Path) -> tuple[SnapshotHeader, Iterator[Page]]:
    """The header and an iterator over the pages (validated as they are read)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise SnapshotError(f"cannot open snapshot {path}: {error}") from None
    first = handle.readline(MAX_LINE_BYTES)
    try:
        meta = json.loads(first)
    except json.JSONDecodeError:
        handle.close()
        raise SnapshotError(f"{path}: line 1 is not a docsbot snapshot header") from None
    if not isinstance(meta, dict) or meta.get("docsbot_snapshot") != FORMAT_VERSION:
        handle.close()
        raise SnapshotError(f"{path}: line 1 is not a docsbot snapshot header (version {FORMAT_VERSION})")
    header = SnapshotHeader(
        collection=str(meta.get("collection", "")),
        source=str(meta.get("source", "")),
        complete=bool(meta.get("complete", False)),
        created=str(meta.get("created", "")),
    )

    def pages() -> Iterator[Page]:
        with handle:
            for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES), ""), start=2):
                if not line.strip():
                    continue
                if not line.endswith("\n") and len(line) >= MAX_LINE_BYTES:
                    raise SnapshotError(f"{path}: line {number} is longer than {MAX_LINE_BYTES} bytes")
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise SnapshotError(f"{path}: line {number} is not JSON: {error.msg}") from None
                if not isinstance(record, dict):
                    raise SnapshotError(f"{path}: line {number} is not a JSON object")
                url = _field(record, "url", str, number)
                if not url.startswith(("http://", "https://")):
                    raise SnapshotError(f"{path}: line {number}: url must be an http(s) URL")
                yield Page(
                    url=url,
                    title=_field(record, "title", str, number),
                    markdown=_field(record, "markdown", str, number),
                    description=_field(record, "description", str, number, required=False),
                    tags=tuple(str(t) for t in _field(record, "tags", list, number, required=False)),
                    source_kind=_field(record, "source_kind", str, number, required=False) or "snapshot",
                    origin=_field(record, "origin", str, number, required=False),
                )

    return header, pages()
