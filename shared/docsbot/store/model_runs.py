"""The scrape job's reports: one source's latest state, and each run with what every source in it did.

Pydantic models (they travel as JSON in SQLite, as maps in Firestore, and into the job's JSON logs), kept apart
from `docsbot.store.model` so that the interactions function's cold path never imports pydantic.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from docsbot.store.model import RunOutcome, SourceOutcome, worst_outcome


class SourceRecord(BaseModel):
    """The latest state of one configured source, updated at the end of every run that handled it."""

    model_config = ConfigDict(extra="ignore")

    collection: str
    source: str
    kind: str = ""
    last_run_id: str | None = None
    last_outcome: SourceOutcome | None = None
    last_reasons: list[str] = Field(default_factory=list)
    last_started: datetime | None = None
    last_finished: datetime | None = None
    # Pages seen by the last complete, non-degraded crawl: the yardstick of the "far fewer pages" rule.
    last_good_pages: int | None = None
    last_good_at: datetime | None = None


class SourceRun(BaseModel):
    """One source in one run: what was fetched, what changed in the index, and why it ended as it did."""

    model_config = ConfigDict(extra="ignore")

    collection: str
    source: str
    kind: str = ""
    outcome: SourceOutcome = "ok"
    reasons: list[str] = Field(default_factory=list)  # why degraded / failed / skipped, one line each
    started: datetime
    finished: datetime | None = None
    pages_seen: int = 0  # pages the crawl reached (fetched, same content or 304)
    pages_fetched: int = 0  # downloaded in full (HTTP 200)
    pages_not_modified: int = 0  # answered 304: nothing downloaded
    pages_unchanged: int = 0  # 304s plus pages whose chunks were all indexed already
    pages_new: int = 0
    pages_changed: int = 0
    pages_deleted: int = 0
    errors: dict[str, int] = Field(default_factory=dict)  # error kind → pages
    embeddings: int = 0  # chunks embedded
    chunks_deleted: int = 0
    requests: int = 0  # HTTP requests for pages (retries and redirects included)
    baseline_pages: int | None = None  # the last good crawl's page count, when there was one
    complete: bool = False  # the crawl saw the whole site, so vanished pages could be deleted


class RunRecord(BaseModel):
    """One run of the scrape job (one Cloud Run task, or one `docsbot scrape-job`)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    started: datetime
    finished: datetime | None = None
    outcome: RunOutcome = "running"
    task_index: int = 0
    task_count: int = 1
    sources: list[SourceRun] = Field(default_factory=list)

    def finish(self, now: datetime) -> None:
        self.finished = now
        self.outcome = worst_outcome([s.outcome for s in self.sources])

    @property
    def failed_sources(self) -> list[SourceRun]:
        return [s for s in self.sources if s.outcome == "failed"]
