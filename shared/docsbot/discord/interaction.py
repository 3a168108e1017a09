"""Parse the body Discord POSTs (already verified) into an `Interaction` with the fields the bot routes on.

`parse_interaction` checks types and bounds every size on the way; anything malformed, incomplete or oversized
raises `BadInteraction` (answered with 400), whose message names no user data. The bounds below are ours,
well above anything Discord sends and far below anything costly. Standard library only: the interactions
function imports this on its cold-start path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Final, TypeGuard

from docsbot.discord.components import LABEL, TEXT_INPUT
from docsbot.discord.limits import MAX_CUSTOM_ID, MAX_TEXT_INPUT


class InteractionType(IntEnum):
    """What Discord is sending (same numbers as `discord_interactions.InteractionType`)."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CommandType(IntEnum):
    CHAT_INPUT = 1
    USER = 2
    MESSAGE = 3


THREAD_CHANNEL_TYPES: Final = frozenset({10, 11, 12})  # announcement, public and private threads

# Bounds on what we accept: well above anything Discord sends, far below anything costly.
MAX_BODY = 64 * 1024
MAX_TEXT = 6000  # longest user text: a string option (Discord allows 6,000); message content is at most 4,000
MAX_NAME = 100  # command, option and channel names, usernames, custom_ids
MAX_TOKEN = 1000
MAX_LIST = 500  # roles, options, modal rows, select values
MAX_OPTION_DEPTH = 3  # subcommand group → subcommand → options
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
# Interaction tokens go into URL paths: refuse anything but the URL-safe base64 alphabet Discord uses.
_TOKEN = re.compile(r"[A-Za-z0-9._~+=-]+")
_INTERACTION_TYPES = frozenset(t.value for t in InteractionType)
_SUBCOMMAND_TYPES = (1, 2)

OptionValue = str | int | float | bool


class BadInteraction(ValueError):
    """The body is not an interaction we can handle (answered with 400). The message names no user data."""


@dataclass(frozen=True)
class Channel:
    """The partial channel Discord sends with an interaction."""

    id: str
    type: int | None = None
    parent_id: str | None = None  # for a thread: its forum or text channel
    name: str | None = None
    owner_id: str | None = None  # for a thread: who started it

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_CHANNEL_TYPES


@dataclass(frozen=True)
class TargetMessage:
    """The message a message context-menu command was used on."""

    id: str
    content: str
    author_id: str | None = None
    author_name: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class Interaction:
    """One interaction, with what routing needs; fields that do not apply to its type are empty."""

    id: str
    application_id: str
    type: InteractionType
    token: str
    guild_id: str | None = None
    channel_id: str | None = None
    channel: Channel | None = None
    user_id: str = ""  # empty only for PING
    username: str = ""
    member_roles: tuple[str, ...] = ()
    member_permissions: int | None = None  # the member's permission bit set in this channel
    locale: str | None = None
    guild_locale: str | None = None
    # Application commands and autocomplete.
    command_name: str | None = None
    command_type: int | None = None
    subcommand: str | None = None  # "group sub" or "sub" when the command has subcommands
    options: dict[str, OptionValue] = field(default_factory=dict)
    focused_option: str | None = None  # autocomplete: the option being typed
    target_id: str | None = None  # context menus
    target_message: TargetMessage | None = None
    # Components and modals.
    custom_id: str | None = None
    component_type: int | None = None
    values: tuple[str, ...] = ()  # select menus
    message_id: str | None = None  # the message holding the component
    modal_values: dict[str, str] = field(default_factory=dict)  # text input custom_id → value


# --- parsing ---------------------------------------------------------------------------------------------


def parse_interaction(body: bytes | str, *, max_body: int = MAX_BODY) -> Interaction:
    """The interaction in `body`, or `BadInteraction` when it is malformed, incomplete or oversized."""
    if len(body) > max_body:
        raise BadInteraction("body too large")
    try:
        raw = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise BadInteraction("body is not valid JSON") from error
    if not isinstance(raw, dict):
        raise BadInteraction("body is not a JSON object")

    type_value = raw.get("type")
    if not _is_int(type_value) or type_value not in _INTERACTION_TYPES:
        raise BadInteraction("unsupported interaction type")
    kind = InteractionType(type_value)
    common: dict[str, Any] = {
        "id": _snowflake(raw, "id"),
        "application_id": _snowflake(raw, "application_id"),
        "type": kind,
        "token": _token(raw),
    }
    if kind is InteractionType.PING:
        return Interaction(**common)

    member = _optional_object(raw, "member")
    user = _object(member, "user", "member.user") if member is not None else _object(raw, "user")
    channel = _channel(raw)
    channel_id = _optional_snowflake(raw, "channel_id") or (channel.id if channel else None)
    interaction = Interaction(
        **common,
        guild_id=_optional_snowflake(raw, "guild_id"),
        channel_id=channel_id,
        channel=channel,
        user_id=_snowflake(user, "id", "user.id"),
        username=_optional_str(user, "username", MAX_NAME, "user.username") or "",
        member_roles=_roles(member),
        member_permissions=_permissions(member),
        locale=_optional_str(raw, "locale", 20),
        guild_locale=_optional_str(raw, "guild_locale", 20),
    )
    data = _object(raw, "data")
    if kind in (InteractionType.APPLICATION_COMMAND, InteractionType.AUTOCOMPLETE):
        return _with_command(interaction, data)
    message = _optional_object(raw, "message")
    message_id = _optional_snowflake(message, "id", "message.id") if message is not None else None
    custom_id = _str(data, "custom_id", MAX_CUSTOM_ID, "data.custom_id")
    if kind is InteractionType.MESSAGE_COMPONENT:
        component_type = data.get("component_type")
        if not _is_int(component_type):
            raise BadInteraction("data.component_type must be an integer")
        values = _list(data, "values", "data.values")
        if not all(isinstance(v, str) and len(v) <= MAX_NAME for v in values):
            raise BadInteraction("data.values must be short strings")
        return replace(
            interaction, custom_id=custom_id, component_type=component_type, values=tuple(values), message_id=message_id
        )
    return replace(interaction, custom_id=custom_id, message_id=message_id, modal_values=_modal_values(data))


def _with_command(interaction: Interaction, data: dict[str, Any]) -> Interaction:
    name = _str(data, "name", MAX_NAME, "data.name")
    command_type = data.get("type", CommandType.CHAT_INPUT)
    if not _is_int(command_type):
        raise BadInteraction("data.type must be an integer")
    options: dict[str, OptionValue] = {}
    path: list[str] = []
    focused = _flatten_options(data.get("options", []), options, path, depth=0)
    target_id: str | None = None
    target: TargetMessage | None = None
    if command_type in (CommandType.USER, CommandType.MESSAGE):
        target_id = _snowflake(data, "target_id", "data.target_id")
        if command_type == CommandType.MESSAGE:
            target = _target_message(data, target_id)
    return replace(
        interaction,
        command_name=name,
        command_type=command_type,
        subcommand=" ".join(path) or None,
        options=options,
        focused_option=focused,
        target_id=target_id,
        target_message=target,
    )


def _flatten_options(raw: object, out: dict[str, OptionValue], path: list[str], *, depth: int) -> str | None:
    """Collect leaf options into `out` and subcommand names into `path`; return the focused option's name."""
    if depth >= MAX_OPTION_DEPTH:
        raise BadInteraction("options nest too deep")
    if not isinstance(raw, list) or len(raw) > MAX_LIST:
        raise BadInteraction("data.options must be a list")
    focused: str | None = None
    for option in raw:
        if not isinstance(option, dict):
            raise BadInteraction("each option must be an object")
        name = _str(option, "name", MAX_NAME, "option name")
        option_type = option.get("type")
        if not _is_int(option_type):
            raise BadInteraction("option type must be an integer")
        if option_type in _SUBCOMMAND_TYPES:
            path.append(name)
            focused = _flatten_options(option.get("options", []), out, path, depth=depth + 1) or focused
            continue
        value = option.get("value")
        if not _is_option_value(value):
            raise BadInteraction("option value must be a string, number or boolean within bounds")
        out[name] = value
        if option.get("focused") is True:
            focused = name
    return focused


def _target_message(data: dict[str, Any], target_id: str) -> TargetMessage | None:
    resolved = _optional_object(data, "resolved", "data.resolved")
    messages = _optional_object(resolved, "messages", "data.resolved.messages") if resolved else None
    raw = messages.get(target_id) if messages else None
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadInteraction("the resolved target message must be an object")
    author = _optional_object(raw, "author", "target message author")
    return TargetMessage(
        id=_optional_snowflake(raw, "id", "target message id") or target_id,
        content=_optional_str(raw, "content", MAX_TEXT, "target message content") or "",
        author_id=_optional_snowflake(author, "id", "target message author id") if author else None,
        author_name=_optional_str(author, "username", MAX_NAME, "target message author") if author else None,
        channel_id=_optional_snowflake(raw, "channel_id", "target message channel_id"),
    )


def _modal_values(data: dict[str, Any]) -> dict[str, str]:
    """Text input values by custom_id, from action rows (classic) or label components (newer modals)."""
    values: dict[str, str] = {}
    for row in _list(data, "components", "data.components"):
        if not isinstance(row, dict):
            raise BadInteraction("modal components must be objects")
        if row.get("type") == LABEL:
            children = [_object(row, "component", "label component")]
        else:
            children = _list(row, "components", "modal row components")
        for child in children:
            if not isinstance(child, dict):
                raise BadInteraction("modal components must be objects")
            if child.get("type") == TEXT_INPUT:
                custom_id = _str(child, "custom_id", MAX_CUSTOM_ID, "text input custom_id")
                values[custom_id] = _optional_str(child, "value", MAX_TEXT_INPUT, "text input value") or ""
    return values


def _channel(raw: dict[str, Any]) -> Channel | None:
    channel = _optional_object(raw, "channel")
    if channel is None:
        return None
    channel_type = channel.get("type")
    if channel_type is not None and not _is_int(channel_type):
        raise BadInteraction("channel.type must be an integer")
    return Channel(
        id=_snowflake(channel, "id", "channel.id"),
        type=channel_type,
        parent_id=_optional_snowflake(channel, "parent_id", "channel.parent_id"),
        name=_optional_str(channel, "name", MAX_NAME, "channel.name"),
        owner_id=_optional_snowflake(channel, "owner_id", "channel.owner_id"),
    )


def _roles(member: dict[str, Any] | None) -> tuple[str, ...]:
    if member is None:
        return ()
    roles = _list(member, "roles", "member.roles")
    if not all(isinstance(r, str) and _SNOWFLAKE.fullmatch(r) for r in roles):
        raise BadInteraction("member.roles must be snowflakes")
    return tuple(roles)


def _permissions(member: dict[str, Any] | None) -> int | None:
    raw = _optional_str(member, "permissions", 40, "member.permissions") if member else None
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadInteraction("member.permissions must be a decimal bit set")
    return int(raw)


# --- field helpers ---------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_option_value(value: object) -> TypeGuard[OptionValue]:
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53  # Discord's integer options are within JavaScript's safe range
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def _object(raw: Mapping[str, Any], key: str, label: str | None = None) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise BadInteraction(f"{label or key} is missing or not an object")
    return value


def _optional_object(raw: Mapping[str, Any] | None, key: str, label: str | None = None) -> dict[str, Any] | None:
    value = raw.get(key) if raw is not None else None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInteraction(f"{label or key} must be an object")
    return value


def _list(raw: Mapping[str, Any], key: str, label: str) -> list[Any]:
    value = raw.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise BadInteraction(f"{label} must be a list of at most {MAX_LIST} items")
    return value


def _str(raw: Mapping[str, Any], key: str, max_len: int, label: str | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise BadInteraction(f"{label or key} is missing or not a string")
    if len(value) > max_len:
        raise BadInteraction(f"{label or key} is longer than {max_len} characters")
    return value


def _optional_str(raw: Mapping[str, Any] | None, key: str, max_len: int, label: str | None = None) -> str | None:
    value = raw.get(key) if raw is not None else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInteraction(f"{label or key} must be a string")
    if len(value) > max_len:
        raise BadInteraction(f"{label or key} is longer than {max_len} characters")
    return value


def _snowflake(raw: Mapping[str, Any], key: str, label: str | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value):
        raise BadInteraction(f"{label or key} is missing or not a snowflake")
    return value


def _optional_snowflake(raw: Mapping[str, Any] | None, key: str, label: str | None = None) -> str | None:
    if raw is None or raw.get(key) is None:
        return None
    return _snowflake(raw, key, label)


def _token(raw: Mapping[str, Any]) -> str:
    token = _str(raw, "token", MAX_TOKEN)
    if not _TOKEN.fullmatch(token):
        raise BadInteraction("token has unexpected characters")
    return token
