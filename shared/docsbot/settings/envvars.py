"""Reading environment variables: numbers within bounds, on/off flags and the data directory, problems collected.

Standard library only: the Discord interactions function reads its settings through this module too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class ConfigError(ValueError):
    """The configuration is invalid; the message says what to fix."""


def collections_file(env: Mapping[str, str], problems: list[str]) -> Path | None:
    """DOCSBOT_COLLECTIONS_FILE, else `./collections.toml` when it exists, else None (no collections)."""
    if env.get("DOCSBOT_COLLECTIONS_FILE"):
        path = Path(env["DOCSBOT_COLLECTIONS_FILE"]).expanduser()
        if not path.is_file():
            problems.append(f"DOCSBOT_COLLECTIONS_FILE: no such file: {path}")
            return None
        return path
    default = Path("collections.toml")
    return default if default.is_file() else None


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def flag(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    """`name` as on/off (1/true/yes/on or 0/false/no/off); off when unset; a problem when anything else."""
    value = (env.get(name) or "").strip().lower()
    if value and value not in TRUE_WORDS | FALSE_WORDS:
        problems.append(f"{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}")
    return value in TRUE_WORDS


def number(env: Mapping[str, str], name: str, default: float, low: float, high: float, problems: list[str]) -> float:
    """`name` as a number from `low` to `high`; the default when unset; a problem when invalid."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        problems.append(f"{name}: a number from {low:g} to {high:g}, got {raw!r}")
        return default
    return value


def integer(env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    """`name` as a whole number from `low` to `high`; the default when unset; a problem when invalid."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append(f"{name}: a whole number from {low} to {high}, got {raw!r}")
        return default
    return value


def data_dir(env: Mapping[str, str]) -> Path:
    """DOCSBOT_DATA_DIR, else `$XDG_DATA_HOME/docsbot`, else `~/.local/share/docsbot`."""
    if env.get("DOCSBOT_DATA_DIR"):
        return Path(env["DOCSBOT_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "docsbot"
