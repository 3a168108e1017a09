"""The interaction responses the bot sends back within Discord's 3 seconds, in Discord's numbering.

Every message response turns mentions off unless its payload says otherwise, and is checked against Discord's
limits (`ValueError` on anything Discord would refuse). Modals live with the other components
(`components.modal`). Standard library only: the interactions function imports this on its cold-start path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import Any, Final

from docsbot.discord.limits import MAX_CHOICE_CHARS, MAX_CHOICES, MAX_CONTENT, MAX_CUSTOM_ID, MAX_EMBEDS

FLAG_EPHEMERAL: Final = 1 << 6  # message flag: only the user who interacted sees it


class ResponseType(IntEnum):
    """How we answer (same numbers as `discord_interactions.InteractionResponseType`)."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


def pong() -> dict[str, Any]:
    """The answer to Discord's PING."""
    return {"type": ResponseType.PONG.value}


def deferred(ephemeral: bool = False) -> dict[str, Any]:
    """Show "thinking…"; the answer follows by editing the original response within 15 minutes."""
    response: dict[str, Any] = {"type": ResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE.value}
    if ephemeral:
        response["data"] = {"flags": FLAG_EPHEMERAL}
    return response


def deferred_update() -> dict[str, Any]:
    """Acknowledge a component interaction; the message is edited later (or not at all)."""
    return {"type": ResponseType.DEFERRED_UPDATE_MESSAGE.value}


def message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Reply with a message now. Mentions are off unless `payload` says otherwise."""
    return {"type": ResponseType.CHANNEL_MESSAGE_WITH_SOURCE.value, "data": _checked_message(payload)}


def update_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Edit the message that holds the component. Mentions are off unless `payload` says otherwise."""
    return {"type": ResponseType.UPDATE_MESSAGE.value, "data": _checked_message(payload)}


def autocomplete(choices: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Suggestions for the focused option: the first 25, names shortened to 100 characters.

    A choice whose value is empty or longer than 100 characters is dropped: cutting a value would change
    what the user picks.
    """
    kept: list[dict[str, Any]] = []
    for choice in choices:
        if len(kept) == MAX_CHOICES:
            break
        name, value = str(choice.get("name", "")), choice.get("value")
        if not name or value is None or isinstance(value, bool):
            continue
        if isinstance(value, str) and not 1 <= len(value) <= MAX_CHOICE_CHARS:
            continue
        if len(name) > MAX_CHOICE_CHARS:
            name = name[: MAX_CHOICE_CHARS - 1] + "…"
        kept.append({"name": name, "value": value})
    return {"type": ResponseType.AUTOCOMPLETE_RESULT.value, "data": {"choices": kept}}


def _checked_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `payload` with mentions off by default; `ValueError` on limits Discord would refuse."""
    data = dict(payload)
    data.setdefault("allowed_mentions", {"parse": []})
    content = data.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        raise ValueError(f"content is longer than {MAX_CONTENT} characters")
    if len(data.get("embeds") or []) > MAX_EMBEDS:
        raise ValueError(f"more than {MAX_EMBEDS} embeds")
    for custom_id in _custom_ids(data.get("components") or []):
        if len(custom_id) > MAX_CUSTOM_ID:
            raise ValueError(f"a custom_id is longer than {MAX_CUSTOM_ID} characters")
    return data


def _custom_ids(components: Iterable[Any]) -> Iterable[str]:
    for component in components:
        if isinstance(component, dict):
            if isinstance(component.get("custom_id"), str):
                yield component["custom_id"]
            yield from _custom_ids(component.get("components") or [])
