"""What a site crawl remembers between runs (HTTP validators and content hashes per URL), in a JSON file.

The state is saved only after the crawl's pages were indexed: a state that says "unchanged" must never
hide a page the index lacks. An unreadable state file means a full re-crawl, never a failure.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from docsbot.sources.site.crawl import PageState

log = logging.getLogger(__name__)


def state_path(data_dir: Path, collection: str, source: str) -> Path:
    return data_dir / "scrape-state" / collection / f"{source}.json"


def load_states(path: Path) -> dict[str, PageState]:
    """URL → PageState from the last indexed crawl; empty when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.warning("ignoring unreadable crawl state %s: %s", path, error)
        return {}
    if not isinstance(data, dict):
        return {}
    states: dict[str, PageState] = {}
    for url, item in data.items():
        if isinstance(item, dict):
            states[url] = PageState(
                etag=item.get("etag"),
                last_modified=item.get("last_modified"),
                content_hash=item.get("content_hash"),
                page_url=item.get("page_url"),
            )
    return states


def save_states(path: Path, states: Mapping[str, PageState]) -> None:
    """Write the states atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({url: state.__dict__ for url, state in sorted(states.items())}), encoding="utf-8")
    os.replace(tmp, path)
