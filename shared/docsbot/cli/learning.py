"""The learning loop's commands of `docsbot`: export (solved threads as training or eval data).

The logic lives in `docsbot.learning`; this module reads options, opens the configured store (DOCSBOT_STATE:
the local SQLite file or Firestore) and writes the result. Exports and this module's log lines are scrubbed of
personal data (`docsbot.learning.pii`).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docsbot.cli.common import check_collection_name, deps, err, fail

if TYPE_CHECKING:
    from docsbot.store.ports import Store

log = logging.getLogger("docsbot.learning")
_AGE = re.compile(r"(\d{1,5})([dhw])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`30d`, `12h`, `2w` (that long before `now`) or an ISO date/time (UTC when no offset); None: everything."""
    if not value:
        return None
    match = _AGE.fullmatch(value.strip())
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--since {value!r}: expected an age like 30d, 12h, 2w, or a date like 2026-01-31")
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def open_learning_store() -> Store:
    """The configured store (DOCSBOT_STATE, DOCSBOT_DATA_DIR), or exit with every problem listed."""
    from docsbot.app.stores import open_configured_store
    from docsbot.settings.config import ConfigError
    from docsbot.settings.refresh import load_store_settings

    try:
        return open_configured_store(load_store_settings())
    except ConfigError as error:
        fail(str(error))


def export_command(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option(help="The collection whose threads to export.")],
    format: Annotated[str, typer.Option("--format", help="chat (fine-tuning JSONL) or eval (questions.jsonl).")],
    since: Annotated[str | None, typer.Option(help="Only threads active since: 30d, 12h, 2w or a date.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Export solved threads as fine-tuning (chat) or evaluation (eval) JSONL, personal data scrubbed."""
    from docsbot.learning.export import ExportStats, export_lines
    from docsbot.learning.pii import Scrubber, ScrubbingFilter
    from docsbot.learning.threads import load_threads

    check_collection_name(collection)
    if format not in ("chat", "eval"):
        fail(f"--format {format!r}: expected chat or eval")
    scrubber = Scrubber()
    log.addFilter(ScrubbingFilter(scrubber))
    store = open_learning_store()
    try:
        views = load_threads(store, collection, since=parse_since(since, deps(ctx).clock()))
        stats = ExportStats()
        lines = export_lines(views, "chat" if format == "chat" else "eval", scrubber=scrubber, stats=stats)
        if out is None:
            for line in lines:
                sys.stdout.write(line + "\n")
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as file:
                for line in lines:
                    file.write(line + "\n")
    finally:
        store.close()
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(stats.skipped.items())) or "none"
    err.print(f"exported {stats.written} of {stats.threads} threads ({format}); skipped: {skipped}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `docsbot` app."""
    app.command("export")(export_command)
