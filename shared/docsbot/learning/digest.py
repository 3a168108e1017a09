"""The weekly digest: the gaps report's top clusters as one Discord message for a staff channel, report attached.

`digest_message` turns a `GapsReport` into one message payload: a heading (the period, how many questions the
docs failed, in how many clusters, out of how many threads), then per cluster, largest first: its label, its
size, whether it is far from the docs, one representative question and the nearest doc section. Guarantees:

- within Discord's limits: the content is at most 2,000 characters; clusters are added whole while they fit,
  then "… and N more clusters in the attached report" (no cluster is cut mid-line); each text is clipped first;
- nobody is pinged: `allowed_mentions` is `{"parse": []}` and any mention-like text is neutralised;
- no link previews: URLs are wrapped in `<…>`; every text comes from the report, already scrubbed of personal data;
- no gaps: a short "no documentation gaps" message (the job still says it ran, so silence means a broken job).

`post_digest` sends it with the HTML report as `files[0]` (Discord's multipart upload), or without it when the
report is larger than `MAX_ATTACHMENT` (then the message says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from docsbot.discord.markdown import neutralize_mentions
from docsbot.discord.rest import Attachment
from docsbot.learning.gaps import Cluster, GapsReport

MAX_CONTENT = 2000
MAX_QUESTION = 180
MAX_LABEL = 80
MAX_ATTACHMENT = 8 * 1024 * 1024  # under Discord's smallest upload limit for bots (10 MiB)
TOP = 5


class MessagePoster(Protocol):
    """What posting needs of `docsbot.discord.rest.DiscordRest`."""

    def create_message(
        self, channel_id: str, payload: dict[str, Any], *, files: list[Attachment] = ...
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Digest:
    payload: dict[str, Any]
    clusters_shown: int


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _plain(text: str, limit: int) -> str:
    """Text safe to show: one line, clipped, mentions defused, markdown emphasis characters escaped."""
    clipped = _clip(neutralize_mentions(text), limit)
    for char in ("\\", "*", "_", "`", "~", "|", ">", "#"):
        clipped = clipped.replace(char, "\\" + char)
    return clipped


def _period(report: GapsReport) -> str:
    if report.since is None:
        return "all time"
    days = max(1, round((report.generated_at - report.since).total_seconds() / 86400))
    return f"the last {days} day{'s' if days != 1 else ''}"


def _cluster_lines(number: int, cluster: Cluster) -> str:
    far = " · far from the docs" if cluster.far_from_docs else ""
    size = f"{cluster.size} question{'s' if cluster.size != 1 else ''}"
    lines = [f"**{number}. {_plain(cluster.label, MAX_LABEL)}**: {size}{far}"]
    if cluster.representatives:
        lines.append(f"> {_plain(cluster.representatives[0], MAX_QUESTION)}")
    if cluster.nearest_docs:
        doc = cluster.nearest_docs[0]
        title = _plain(doc.title or "doc", MAX_LABEL)
        link = f" <{doc.url}>" if doc.url.startswith(("https://", "http://")) and len(doc.url) <= 300 else ""
        lines.append(f"nearest doc: {title}{link} ({doc.similarity:.2f})")
    return "\n".join(lines)


def digest_message(report: GapsReport, *, top: int = TOP, attachment: str | None = None) -> Digest:
    """The digest as one message payload (content ≤ 2,000 characters, nobody pinged)."""
    collection = _plain(report.collection, 64)
    if not report.clusters:
        content = (
            f"**Documentation gaps: {collection}**, {_period(report)}: none. "
            f"Every finished thread of {report.threads} was answered from the docs (or is still open)."
        )
        return Digest({"content": content, "allowed_mentions": {"parse": []}}, 0)
    heading = (
        f"**Documentation gaps: {collection}**, {_period(report)}: {report.gaps} question"
        f"{'s' if report.gaps != 1 else ''} the docs failed, in {len(report.clusters)} cluster"
        f"{'s' if len(report.clusters) != 1 else ''} (of {report.threads} threads)."
    )
    footer = f"Full report attached: {attachment}" if attachment else "Full report: run `docsbot gaps --out`."
    blocks: list[str] = []
    for number, cluster in enumerate(report.clusters[:top], start=1):
        block = _cluster_lines(number, cluster)
        rest = len(report.clusters) - number
        more = f"… and {rest} more cluster{'s' if rest != 1 else ''} in the report." if rest else ""
        candidate = "\n\n".join([heading, *blocks, block, more, footer])
        if len(candidate) > MAX_CONTENT:
            break
        blocks.append(block)
    rest = len(report.clusters) - len(blocks)
    more = f"… and {rest} more cluster{'s' if rest != 1 else ''} in the report." if rest else ""
    content = "\n\n".join(part for part in [heading, *blocks, more, footer] if part)
    if len(content) > MAX_CONTENT:  # not even one cluster fits (it cannot, with the clipping above): heading only
        content = "\n\n".join([heading, footer])
    return Digest({"content": content, "allowed_mentions": {"parse": []}, "flags": 1 << 2}, len(blocks))


def report_filename(report: GapsReport, now: datetime) -> str:
    return f"gaps-{report.collection}-{now.date().isoformat()}.html"


def post_digest(
    poster: MessagePoster, channel_id: str, report: GapsReport, html: str, *, now: datetime, top: int = TOP
) -> Digest:
    """Post the digest in `channel_id` with the HTML report attached (when it fits); returns what was sent."""
    data = html.encode()
    name = report_filename(report, now)
    if not report.clusters:
        digest = digest_message(report, top=top)
        poster.create_message(channel_id, digest.payload)
        return digest
    if len(data) > MAX_ATTACHMENT:
        digest = digest_message(report, top=top)
        digest.payload["content"] = digest.payload["content"].replace(
            "Full report: run `docsbot gaps --out`.",
            "The full report is too large to attach: run `docsbot gaps --out`.",
        )
        poster.create_message(channel_id, digest.payload)
        return digest
    digest = digest_message(report, top=top, attachment=name)
    poster.create_message(
        channel_id, digest.payload, files=[Attachment(name, data, "text/html", "Documentation gaps report")]
    )
    return digest
