"""Where the store lives, from the environment: the one parsing of DOCSBOT_STATE.

The bot functions, the scrape job, the ingest endpoint and the CLI all read their store's settings here, so
they agree on the store. Problems are appended to the caller's list, so its settings error (BotConfigError,
ConfigError) lists every problem at once. Standard library only: the Discord interactions function reads its
settings through this module.

    DOCSBOT_STATE            "sqlite" (default: DOCSBOT_DATA_DIR/docsbot.sqlite3) or "firestore"
    GOOGLE_CLOUD_PROJECT     the Firestore project (else the client's default: the metadata server's)
    FIRESTORE_EMULATOR_HOST  host:port of a Firestore emulator; the client reads it itself
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from docsbot.settings.envvars import data_dir as env_data_dir

KINDS = ("sqlite", "firestore")


@dataclass(frozen=True)
class StoreSettings:
    kind: str  # "sqlite" or "firestore" (DOCSBOT_STATE)
    data_dir: Path  # where the SQLite file lives (DOCSBOT_DATA_DIR)
    project: str | None  # GOOGLE_CLOUD_PROJECT


def parse_store_settings(env: Mapping[str, str], problems: list[str]) -> StoreSettings:
    """The store's settings; each problem is appended to `problems` (and a usable default put in its place)."""
    kind = (env.get("DOCSBOT_STATE") or "sqlite").strip().lower()
    if kind not in KINDS:
        problems.append(f"DOCSBOT_STATE: sqlite or firestore, got {kind!r}")
        kind = "sqlite"
    emulator = (env.get("FIRESTORE_EMULATOR_HOST") or "").strip()
    if kind == "firestore" and emulator:
        host, _, port = emulator.rpartition(":")
        if not host or not port.isdigit():
            problems.append(f"FIRESTORE_EMULATOR_HOST: host:port expected, got {emulator!r}")
    return StoreSettings(
        kind=kind,
        data_dir=env_data_dir(env),
        project=(env.get("GOOGLE_CLOUD_PROJECT") or "").strip() or None,
    )
