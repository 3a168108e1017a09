"""A one-time import of the JSON crawl-state files earlier versions of `docsbot scrape` kept.

Before the one refresh pipeline, `docsbot scrape` remembered each site source's crawl state (HTTP validators and
content hashes per URL) in `DOCSBOT_DATA_DIR/scrape-state/<collection>/<source>.json`, while the scheduled job
kept the same facts in the state store. Now both use the store. On the first refresh of a source whose store has
no page states, its JSON file is imported into the store and renamed `<source>.json.imported`, so switching costs
no full download. An unreadable file is left alone and the crawl is simply a full one.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from docsbot.store.model import PageRecord
from docsbot.store.ports import FreshnessStore

log = logging.getLogger(__name__)


def state_path(data_dir: Path, collection: str, source: str) -> Path:
    return data_dir / "scrape-state" / collection / f"{source}.json"


def read_state_file(path: Path, now: datetime) -> list[PageRecord] | None:
    """The page records of a JSON state file; None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring unreadable crawl state %s: %s", path, error)
        return None
    if not isinstance(data, dict):
        return None
    return [
        PageRecord(
            url=url,
            checked_at=now,
            etag=item.get("etag"),
            last_modified=item.get("last_modified"),
            content_hash=item.get("content_hash"),
            page_url=item.get("page_url"),
        )
        for url, item in data.items()
        if isinstance(url, str) and isinstance(item, dict)
    ]


def import_state_file(store: FreshnessStore, data_dir: Path, collection: str, source: str, now: datetime) -> int:
    """Import the source's JSON state file into `store` once; returns how many page states were imported."""
    path = state_path(data_dir, collection, source)
    if not path.exists() or store.load_pages(collection, source):
        return 0
    records = read_state_file(path, now)
    if records is None:
        return 0
    store.save_pages(collection, source, records, replace=True)
    path.rename(path.with_name(path.name + ".imported"))
    log.info("imported %d crawl states of %s/%s from %s", len(records), collection, source, path)
    return len(records)
