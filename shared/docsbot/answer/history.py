"""Read a conversation history file for `docsbot ask --history`."""

from __future__ import annotations

import json
from pathlib import Path

from docsbot.answer.model import Turn

MAX_HISTORY_BYTES = 1_000_000
MAX_TURNS = 500


class HistoryFileError(ValueError):
    """The history file is unusable; the message says where and why."""


def load_history(path: Path) -> list[Turn]:
    """Turns from a JSON list of `{"role": "user"|"assistant", "content": str}` objects, oldest first."""
    try:
        if path.stat().st_size > MAX_HISTORY_BYTES:
            raise HistoryFileError(f"{path}: larger than {MAX_HISTORY_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HistoryFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise HistoryFileError(f"{path}: cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise HistoryFileError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, list):
        raise HistoryFileError(f'{path}: expected a JSON list of {{"role", "content"}} objects')
    if len(data) > MAX_TURNS:
        raise HistoryFileError(f"{path}: more than {MAX_TURNS} turns")
    turns: list[Turn] = []
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise HistoryFileError(f"{path}: item {position} is not an object")
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "assistant"):
            raise HistoryFileError(f'{path}: item {position}: role must be "user" or "assistant", got {role!r}')
        if not isinstance(content, str):
            raise HistoryFileError(f"{path}: item {position}: content must be a string")
        turns.append(Turn(role=role, content=content))
    return turns
