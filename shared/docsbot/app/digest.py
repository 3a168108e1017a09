"""The weekly digest's composition root: capture finished threads' conversations, build the gaps report, post it.

`run_digest` is what both `docsbot digest` and the scheduled Cloud Run job (`python -m docsbot.app.digest`, the
scrape job's image with another command) run, in this order:

1. capture: every finished thread of the period whose conversation changed is read from Discord with the bot
   token and stored scrubbed (`docsbot.learning.conversations`); a Discord outage here is logged and the digest
   still goes out (the next run captures what this one missed);
2. the gaps report over the period (`docsbot.learning.gaps.build_report`, the one `docsbot gaps` also runs, with a
   chat model's titles when one is configured);
3. one message in the staff channel with the top clusters and the HTML report attached (`docsbot.learning.digest`).

The job reads its settings from the environment, every problem listed at once: DISCORD_APPLICATION_ID,
DISCORD_BOT_TOKEN, DOCSBOT_DIGEST_COLLECTION, DOCSBOT_DIGEST_CHANNEL_ID, DOCSBOT_DIGEST_SINCE (default 7d),
DOCSBOT_DIGEST_TOP (default 5), plus the store's (DOCSBOT_STATE...) and the index's (QDRANT_URL, the read-only
QDRANT_API_KEY, the embedder's). Its log lines are JSON, scrubbed of personal data.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from docsbot.errors import TransientError

if TYPE_CHECKING:
    from docsbot.discord.rest import DiscordRest
    from docsbot.learning.conversations import CaptureStats
    from docsbot.learning.digest import Digest
    from docsbot.learning.gaps import GapsReport
    from docsbot.settings.config import Settings
    from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.digest")
_AGE = re.compile(r"(\d{1,4})([dhw])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}
DEFAULT_SINCE = "7d"
DEFAULT_TOP = 5


def parse_age(value: str) -> timedelta | None:
    """`7d`, `12h`, `2w` as a duration; None when it is not one."""
    match = _AGE.fullmatch(value.strip())
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


@dataclass(frozen=True)
class DigestJobSettings:
    application_id: str
    bot_token: str
    collection: str
    channel_id: str
    since: timedelta
    top: int
    discord_api: str


def parse_job_settings(env: Mapping[str, str]) -> tuple[DigestJobSettings | None, list[str]]:
    """The job's own settings, or None and every problem found."""
    from docsbot.settings.bot import DISCORD_API
    from docsbot.settings.config import COLLECTION_NAME_PATTERN

    problems: list[str] = []
    application_id = env.get("DISCORD_APPLICATION_ID", "").strip()
    if not application_id.isdigit():
        problems.append("DISCORD_APPLICATION_ID must be the application's id (digits)")
    token = env.get("DISCORD_BOT_TOKEN", "").strip()
    if not token:
        problems.append("DISCORD_BOT_TOKEN is required (the digest reads threads and posts with it)")
    collection = env.get("DOCSBOT_DIGEST_COLLECTION", "").strip()
    if not re.match(COLLECTION_NAME_PATTERN, collection):
        problems.append("DOCSBOT_DIGEST_COLLECTION must name a collection (lower-case letters, digits, - or _)")
    channel = env.get("DOCSBOT_DIGEST_CHANNEL_ID", "").strip()
    if not channel.isdigit() or len(channel) > 20:
        problems.append("DOCSBOT_DIGEST_CHANNEL_ID must be the staff channel's id (digits)")
    since = parse_age(env.get("DOCSBOT_DIGEST_SINCE", DEFAULT_SINCE))
    if since is None:
        problems.append("DOCSBOT_DIGEST_SINCE must be an age such as 7d, 36h or 2w")
    top_text = env.get("DOCSBOT_DIGEST_TOP", str(DEFAULT_TOP)).strip()
    top = int(top_text) if top_text.isdigit() else 0
    if not 1 <= top <= 25:
        problems.append("DOCSBOT_DIGEST_TOP must be a number from 1 to 25")
    if problems or since is None:
        return None, problems
    api = (env.get("DISCORD_API_BASE_URL") or DISCORD_API).rstrip("/")
    return DigestJobSettings(application_id, token, collection, channel, since, top, api), []


@dataclass(frozen=True)
class DigestResult:
    report: GapsReport
    digest: Digest
    captured: CaptureStats | None  # None when capture was skipped or Discord failed during it


def run_digest(
    settings: Settings,
    store: StateStore,
    rest: DiscordRest,
    *,
    collection: str,
    channel_id: str,
    since: datetime | None,
    now: datetime,
    top: int = DEFAULT_TOP,
    capture: bool = True,
) -> DigestResult:
    """Capture, report, post (module docstring). Raises the index's or Discord's errors from the report or post."""
    from docsbot.app.answerers import make_chat
    from docsbot.app.bot import Collections
    from docsbot.learning.conversations import capture_conversations
    from docsbot.learning.digest import post_digest
    from docsbot.learning.gaps import build_report
    from docsbot.learning.pii import Scrubber
    from docsbot.learning.report import render_html
    from docsbot.learning.threads import load_threads

    scrubber = Scrubber()
    captured = None
    if capture:
        try:
            captured = capture_conversations(
                store, rest, collection, since=since, now=now, bot_id=rest.application_id, scrubber=scrubber
            )
            log.info("conversations captured", extra={"collection": collection, "summary": captured.summary()})
        except TransientError as error:  # Discord down or rate-limited past the bound: the digest still goes out
            log.warning("capture stopped; the next run resumes", extra={"error": str(error)})
    services = Collections(settings)
    searcher = services.searcher(collection)
    views = load_threads(store, collection, since=since)
    report = build_report(
        views,
        collection=collection,
        embedder=services.embedder,
        index=searcher.index,
        chat=make_chat(settings),
        now=now,
        since=since,
        scrubber=scrubber,
        suggestions=top,
    )
    digest = post_digest(rest, channel_id, report, render_html(report), now=now, top=top)
    log.info(
        "digest posted",
        extra={
            "collection": collection,
            "gaps": report.gaps,
            "clusters": len(report.clusters),
            "shown": digest.clusters_shown,
        },
    )
    return DigestResult(report, digest, captured)


def job_main(env: Mapping[str, str] | None = None, *, now: datetime | None = None) -> int:
    """The Cloud Run job: JSON logs, settings from the environment (all problems at once), one digest; exit code."""
    from docsbot.app.logs import configure_json_logging
    from docsbot.app.stores import open_configured_store
    from docsbot.discord.rest import DiscordRest
    from docsbot.settings.config import ConfigError, load_settings
    from docsbot.settings.refresh import load_store_settings

    configure_json_logging()
    environment = dict(os.environ if env is None else env)
    job, problems = parse_job_settings(environment)
    try:
        settings = load_settings(environment)
    except ConfigError as error:
        problems.append(str(error))
    try:
        store_settings = load_store_settings(environment)
    except ConfigError as error:
        problems.append(str(error))
    if problems or job is None:
        log.error("digest settings are invalid", extra={"problems": problems})
        return 2
    moment = now or datetime.now(UTC)
    store = open_configured_store(store_settings)
    rest = DiscordRest(job.application_id, bot_token=job.bot_token, base_url=job.discord_api)
    try:
        run_digest(
            settings,
            store,
            rest,
            collection=job.collection,
            channel_id=job.channel_id,
            since=moment - job.since,
            now=moment,
            top=job.top,
        )
    except Exception:  # the index, the store or Discord is unusable: one JSON line, and Cloud Run retries
        log.exception("digest failed")
        return 1
    finally:
        store.close()
        rest.session.close()
    return 0


if __name__ == "__main__":
    sys.exit(job_main())
