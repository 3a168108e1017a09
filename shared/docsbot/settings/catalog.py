"""The collections catalog: which docs collections the bot answers for, and which Discord channels map to them.

One source of truth: the collections file (TOML) baked into every function's build. The respond function,
the CLI and the jobs read the whole file with `docsbot.settings.config.load_collections` (pydantic, every rule);
the interactions function reads only its catalog part here, with the standard library alone, because it must
start inside Discord's 3 seconds (pydantic alone costs about 0.2 s to import). `CollectionsFile.catalog()`
builds the same `Catalog` from the full model, and a test holds the two readers to the same answer.

The catalog's rules are the full model's for the fields it reads: names `^[a-z0-9][a-z0-9_-]{0,62}$` and unique,
titles 1-100 characters, descriptions up to 500, channel ids digits only and mapped to one collection, and
`auto_answer` (what the gateway relay answers without a command in a collection's channels: "new_threads",
"mentions" or "off", the default) with per-channel overrides in `auto_answer_channels` for mapped channels only.
Every problem is listed at once in one `ConfigError`. With no file (or one that does not declare it), the default
collection (`DOCSBOT_DEFAULT_COLLECTION`) is an implicit enabled entry (`Catalog.with_default`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docsbot.settings.envvars import ConfigError

COLLECTION_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_NAME = re.compile(COLLECTION_NAME_PATTERN)
# What the relay answers in a channel without a command: new forum posts and mentions, mentions only, nothing.
AUTO_ANSWER_MODES = ("new_threads", "mentions", "off")


@dataclass(frozen=True)
class CollectionRecord:
    """One docs collection as the bot presents it: `/collections`, the `collection` option, the prompt."""

    name: str
    title: str
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class Catalog:
    """The collections (enabled or not) and the channel map, in the collections file's order."""

    collections: tuple[CollectionRecord, ...] = ()
    channels: Mapping[str, str] = field(default_factory=dict)  # channel or forum id → collection name
    auto_answers: Mapping[str, str] = field(default_factory=dict)  # channel id → auto-answer mode, unless "off"

    def enabled(self) -> list[CollectionRecord]:
        return [c for c in self.collections if c.enabled]

    def channel_collection(self, channel_id: str) -> str | None:
        return self.channels.get(channel_id)

    def auto_answer(self, channel_id: str) -> str:
        """What the relay answers in `channel_id` without a command (AUTO_ANSWER_MODES); "off" when unmapped."""
        return self.auto_answers.get(channel_id, "off")

    def with_default(self, name: str | None) -> Catalog:
        """This catalog, plus `name` as an implicit enabled entry when no collection of that name is declared.

        So `DOCSBOT_DEFAULT_COLLECTION` works with no collections file (or one that omits it): the collection
        is ingested under that name and the respond side needs no entry to answer from it. A declared entry,
        even a disabled one, is left as the file says.
        """
        if not name or any(c.name == name for c in self.collections) or not _NAME.match(name):
            return self
        return Catalog((*self.collections, CollectionRecord(name=name, title=name)), self.channels, self.auto_answers)


def build_catalog(
    collections: Iterable[CollectionRecord],
    channels: Mapping[str, str],
    auto_answers: Mapping[str, str] | None = None,
) -> Catalog:
    """A catalog; `auto_answers` keeps only the mapped channels whose mode is not "off" (the default)."""
    modes = {c: m for c, m in (auto_answers or {}).items() if m != "off" and c in channels}
    return Catalog(tuple(collections), dict(channels), modes)


def parse_catalog(data: Mapping[str, Any], origin: str = "collections file") -> Catalog:
    """The catalog part of a parsed collections file; ConfigError lists every problem."""
    problems: list[str] = []
    items = data.get("collection", [])
    if not isinstance(items, list):
        raise ConfigError(f"{origin}: `collection` must be an array of tables ([[collection]])")
    records: list[CollectionRecord] = []
    channels: dict[str, str] = {}
    auto_answers: dict[str, str] = {}
    for position, item in enumerate(items):
        where = f"collection.{position}"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a table")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}.name: lower-case letters, digits, '-' or '_' (at most 63), got {name!r}")
            continue
        title = item.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 100:
            problems.append(f"{where}.title: 1 to 100 characters")
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > 500:
            problems.append(f"{where}.description: at most 500 characters")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(f"{where}.enabled: true or false")
        mapped = item.get("discord_channels", [])
        if not isinstance(mapped, list) or not all(isinstance(c, str) and c.isdigit() for c in mapped):
            problems.append(f"{where}.discord_channels: Discord channel ids (strings of digits)")
            mapped = []
        if any(r.name == name for r in records):
            problems.append(f"{where}.name: collection names must be unique, repeated: {name}")
        for channel in mapped:
            if channel in channels:
                problems.append(f"{where}.discord_channels: channel {channel} already maps to {channels[channel]}")
            channels[channel] = name
        auto_answers.update(_auto_answers(item, mapped, where, problems))
        records.append(
            CollectionRecord(
                name=name,
                title=title if isinstance(title, str) else "",
                description=description if isinstance(description, str) else "",
                enabled=enabled if isinstance(enabled, bool) else True,
            )
        )
    if problems:
        raise ConfigError(f"{origin} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    return build_catalog(records, channels, auto_answers)


def _auto_answers(item: Mapping[str, Any], mapped: list[str], where: str, problems: list[str]) -> dict[str, str]:
    """The collection's channels' auto-answer modes: `auto_answer` for each, overridden by `auto_answer_channels`."""
    default = item.get("auto_answer", "off")
    if default not in AUTO_ANSWER_MODES:
        problems.append(f"{where}.auto_answer: one of {', '.join(AUTO_ANSWER_MODES)}, got {default!r}")
        default = "off"
    modes = dict.fromkeys(mapped, default)
    overrides = item.get("auto_answer_channels", {})
    if not isinstance(overrides, dict):
        problems.append(f"{where}.auto_answer_channels: a table of channel id = mode")
        return modes
    for channel, mode in overrides.items():
        if channel not in mapped:
            problems.append(
                f"{where}.auto_answer_channels: channel {channel} is not in this collection's discord_channels"
            )
        elif mode not in AUTO_ANSWER_MODES:
            problems.append(
                f"{where}.auto_answer_channels.{channel}: one of {', '.join(AUTO_ANSWER_MODES)}, got {mode!r}"
            )
        else:
            modes[channel] = mode
    return modes


def load_catalog(path: Path | None) -> Catalog:
    """The catalog of the collections file at `path`; an empty catalog when there is no file."""
    if path is None:
        return Catalog()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"collections file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read collections file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse_catalog(data, str(path))
