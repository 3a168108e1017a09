"""`docsbot push`: send a docs-as-code folder to the ingest endpoint, only what changed since the last push.

The folder is loaded like `docsbot ingest` loads it (docsbot.sources.markdown_folder). A local state file
remembers the content hash of every page the endpoint acknowledged; a push sends the pages whose hash changed
and the deletions of pages gone since, in batches under the endpoint's size limit. The state is saved after
every acknowledged batch, so an interrupted push resumes where it stopped. Files that failed to load are
neither sent nor deleted: what was indexed for them stays.

Deletions are a safety check too: a folder without pages, or one whose push would delete more than
`MAX_DELETE_FRACTION` of the pages pushed before (a broken CI checkout, a wrong --source-dir), is refused
before anything is sent, unless `allow_large_delete` (--allow-large-delete) confirms it.

With `prune`, a last request lists every page URL of the folder and the endpoint deletes the source's other
pages: the way to catch up deletions when the state file was lost (a CI cache evicted).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from docsbot.documents.model import Page
from docsbot.sources.markdown_folder import FolderLoad

STATE_VERSION = 1
DEFAULT_MAX_BATCH_BYTES = 4 * 2**20  # half the endpoint's default limit: room for JSON escaping surprises
MAX_BATCH_PAGES = 1000  # the endpoint's limits per request (docsbot.refresh.ingest_endpoint MAX_PAGES, MAX_DELETIONS)
MAX_BATCH_DELETIONS = 10_000
MAX_DELETE_FRACTION = 0.2  # a push deleting more of the pages pushed before is refused unless confirmed
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PushError(RuntimeError):
    """The endpoint refused a batch or could not be reached; the message says what it answered."""


@dataclass
class PushState:
    """What the endpoint has acknowledged: page URL → content hash, for one endpoint, collection and source."""

    endpoint: str
    collection: str
    source: str
    pages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, endpoint: str, collection: str, source: str) -> PushState:
        """The state in `path`, or an empty one when there is none or it was for another target."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(endpoint, collection, source)
        except (OSError, ValueError) as error:
            raise PushError(f"cannot read the push state {path}: {error} (delete it to push everything)") from None
        target = (data.get("endpoint"), data.get("collection"), data.get("source"))
        if data.get("version") != STATE_VERSION or target != (endpoint, collection, source):
            return cls(endpoint, collection, source)  # another target: remember nothing about this one
        pages = data.get("pages")
        return cls(endpoint, collection, source, dict(pages) if isinstance(pages, dict) else {})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "endpoint": self.endpoint,
            "collection": self.collection,
            "source": self.source,
            "pages": dict(sorted(self.pages.items())),
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)  # a crash never leaves half a state file


@dataclass(frozen=True)
class PushOptions:
    endpoint: str
    collection: str
    source: str = "docs"
    token: str | None = None
    state_path: Path | None = None  # None: remember nothing (every page is sent)
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    prune: bool = False
    allow_large_prune: bool = False
    allow_large_delete: bool = False  # confirm a push deleting every page, or more than MAX_DELETE_FRACTION of them
    timeout: float = 300.0  # per request: the endpoint embeds the batch before answering
    retries: int = 3
    backoff_seconds: float = 2.0


@dataclass
class PushReport:
    pages: int = 0  # pages in the folder
    skipped_unchanged: int = 0  # not sent: same content hash as last acknowledged
    sent: int = 0
    deletions_sent: int = 0
    batches: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # the endpoint's outcomes, summed
    embeddings: int = 0
    too_large: list[str] = field(default_factory=list)  # pages bigger than one batch may be
    problems: list[str] = field(default_factory=list)  # files that could not be loaded
    prune_skipped: str = ""  # why the listing was not sent, when pruning was asked

    def add(self, answer: dict[str, Any]) -> None:
        self.batches += 1
        self.embeddings += int(answer.get("embeddings", 0))
        for key, value in (answer.get("counts") or {}).items():
            self.counts[key] = self.counts.get(key, 0) + int(value)


def page_json(page: Page) -> dict[str, Any]:
    """A page as the endpoint takes it (docsbot.refresh.ingest_endpoint.PageIn)."""
    return {"url": page.url, "title": page.title, "markdown": page.markdown, "tags": list(page.tags)}


def _size(value: object) -> int:
    return len(json.dumps(value).encode("utf-8"))


def plan_batches(
    pages: list[dict[str, Any]],
    deletions: list[str],
    envelope: dict[str, Any],
    max_bytes: int,
    *,
    max_pages: int = MAX_BATCH_PAGES,
    max_deletions: int = MAX_BATCH_DELETIONS,
) -> Iterator[dict[str, Any]]:
    """Batches (the envelope plus pages and deletions) each at most `max_bytes` of JSON, `max_pages` pages and
    `max_deletions` deletions (the endpoint refuses more). Deletions go first, so a page moved to a new URL is
    not briefly indexed twice."""
    base = _size({**envelope, "pages": [], "deletions": []})
    batch: dict[str, Any] = {**envelope, "pages": [], "deletions": []}
    size = base
    limits = {"pages": max_pages, "deletions": max_deletions}
    for kind, items in (("deletions", deletions), ("pages", pages)):
        for item in items:
            item_size = _size(item) + 2  # the ", " separating it from the previous item
            if base + item_size > max_bytes:
                raise ValueError(f"an item is over the batch size limit on its own ({item_size} bytes)")
            full = size + item_size > max_bytes or len(batch[kind]) >= limits[kind]
            if full and (batch["pages"] or batch["deletions"]):
                yield batch
                batch, size = {**envelope, "pages": [], "deletions": []}, base
            batch[kind].append(item)
            size += item_size
    if batch["pages"] or batch["deletions"]:
        yield batch


class Pusher:
    """Sends batches to the endpoint with the bearer token, retrying what may succeed later."""

    def __init__(self, options: PushOptions, session: requests.Session | None = None) -> None:
        self.options = options
        self.session = session or requests.Session()

    def send(self, batch: dict[str, Any]) -> dict[str, Any]:
        options = self.options
        headers = {"Content-Type": "application/json", "User-Agent": "docsbot-push/0.1"}
        if options.token:
            headers["Authorization"] = f"Bearer {options.token}"
        body = json.dumps(batch).encode("utf-8")
        for attempt in range(options.retries + 1):
            last = attempt == options.retries
            try:
                response = self.session.post(options.endpoint, data=body, headers=headers, timeout=options.timeout)
            except requests.RequestException as error:
                if last:
                    raise PushError(f"cannot reach {options.endpoint}: {error}") from None
                self._wait(attempt, None)
                continue
            if response.status_code == 200:
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code in RETRY_STATUSES and not last:
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            raise PushError(f"the endpoint answered {response.status_code}: {_message(response)}")
        raise PushError("unreachable")  # the loop always returns or raises

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.options.backoff_seconds * 2**attempt
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 60.0)
        time.sleep(delay)


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)[:300]


def push_folder(
    loaded: FolderLoad,
    options: PushOptions,
    *,
    session: requests.Session | None = None,
    on_batch: Callable[[int, int], None] | None = None,  # (pages and deletions sent so far, total to send)
) -> PushReport:
    """Push a loaded folder's changes since the last push (see the module docstring); raises PushError."""
    report = PushReport(pages=len(loaded.pages))
    report.problems = [f"{p.path}: {p.kind}: {p.message}" for p in loaded.problems]
    path = options.state_path
    state = (
        PushState.load(path, options.endpoint, options.collection, options.source)
        if path is not None
        else PushState(options.endpoint, options.collection, options.source)
    )
    kept_urls = {p.url for p in loaded.problems if p.url}  # failed to load: neither send nor delete
    current = {page.url: page for page in loaded.pages}
    changed = [page for page in loaded.pages if state.pages.get(page.url) != page.content_hash]
    report.skipped_unchanged = len(loaded.pages) - len(changed)
    deletions = sorted(url for url in state.pages if url not in current and url not in kept_urls)
    if deletions and not options.allow_large_delete:
        if not current and not kept_urls:
            raise PushError(
                f"the folder has no pages: this push would delete all {len(deletions)} pages pushed before "
                "(check the checkout and --source-dir; --allow-large-delete if it is really so)"
            )
        if len(deletions) > MAX_DELETE_FRACTION * len(state.pages):
            raise PushError(
                f"this push would delete {len(deletions)} of the {len(state.pages)} pages pushed before "
                f"(more than {MAX_DELETE_FRACTION:.0%}): check the checkout and --source-dir, "
                "or confirm with --allow-large-delete"
            )

    envelope: dict[str, Any] = {"collection": options.collection, "source": options.source}
    if options.allow_large_delete:
        envelope["allow_large_prune"] = True  # the endpoint applies the same guard to each batch's deletions
    to_send: list[dict[str, Any]] = []
    for page in changed:
        item = page_json(page)
        if _size(item) + _size({**envelope, "pages": [], "deletions": []}) > options.max_batch_bytes:
            report.too_large.append(page.url)
        else:
            to_send.append(item)
    total = len(to_send) + len(deletions)
    pusher = Pusher(options, session)
    done = 0
    for batch in plan_batches(to_send, deletions, envelope, options.max_batch_bytes):
        answer = pusher.send(batch)
        report.add(answer)
        for item in answer.get("pages", []):
            acknowledged = current.get(item.get("url"))
            if acknowledged is not None:
                state.pages[acknowledged.url] = acknowledged.content_hash
        for item in answer.get("deletions", []):
            state.pages.pop(item.get("url"), None)
        if path is not None:
            state.save(path)
        report.sent += len(batch["pages"])
        report.deletions_sent += len(batch["deletions"])
        done += len(batch["pages"]) + len(batch["deletions"])
        if on_batch:
            on_batch(done, total)

    if options.prune:
        unknown = [p for p in loaded.problems if not p.url]
        if unknown:
            report.prune_skipped = f"{len(unknown)} files failed to load and their URLs are unknown"
        elif not current and not kept_urls:
            report.prune_skipped = "the folder has no pages: refusing to delete every page of the source"
        else:
            listing = sorted(set(current) | kept_urls)
            prune = {**envelope, "pages": [], "listing": listing, "allow_large_prune": options.allow_large_prune}
            if _size(prune) > options.max_batch_bytes:
                report.prune_skipped = "the listing of every page is over the batch size limit"
            else:
                answer = pusher.send(prune)
                report.add(answer)
                for item in answer.get("deletions", []):
                    state.pages.pop(item.get("url"), None)
                if path is not None:
                    state.save(path)
    return report
