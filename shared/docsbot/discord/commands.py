"""The bot's application commands as plain data, in Discord's application command JSON.

`command_definitions()` is what `register.register_commands` sends to "Bulk Overwrite Application Commands";
`validate_commands` checks Discord's documented rules first, so a bad definition fails here with a clear
message instead of as a 400 from Discord. Standard library only: the interactions function imports this.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

# Application command types.
CHAT_INPUT: Final = 1
MESSAGE: Final = 3

# Application command option types.
SUB_COMMAND: Final = 1
SUB_COMMAND_GROUP: Final = 2
STRING: Final = 3
INTEGER: Final = 4
BOOLEAN: Final = 5
NUMBER: Final = 10

# Where commands may be used: guilds only (the bot works in forum threads), installed to a guild.
CONTEXT_GUILD: Final = 0
INTEGRATION_GUILD_INSTALL: Final = 0

MAX_QUESTION: Final = 1500  # /ask question and /search query; the handler checks it again
MAX_COLLECTION_NAME: Final = 100
ASK_CONTEXT_MENU: Final = "Ask the docs"

# Discord's limits for command definitions.
MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_STRING_OPTION = 6000
MAX_COMMANDS_TOTAL_CHARS = 4000  # name + description + option names/descriptions/choices, per command
_CHAT_INPUT_NAME = re.compile(r"[-_'\w]{1,32}")  # Discord's pattern, lower case for CHAT_INPUT commands
_OPTION_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})


def _option(
    name: str,
    description: str,
    option_type: int = STRING,
    *,
    required: bool = False,
    autocomplete: bool = False,
    max_length: int | None = None,
) -> dict[str, Any]:
    option: dict[str, Any] = {"type": option_type, "name": name, "description": description}
    if required:
        option["required"] = True
    if autocomplete:
        option["autocomplete"] = True
    if max_length is not None:
        option["min_length"] = 1
        option["max_length"] = max_length
    return option


def _slash(name: str, description: str, options: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    command: dict[str, Any] = {
        "type": CHAT_INPUT,
        "name": name,
        "description": description,
        "contexts": [CONTEXT_GUILD],
        "integration_types": [INTEGRATION_GUILD_INSTALL],
    }
    if options:
        command["options"] = list(options)
    return command


def _collection_option() -> dict[str, Any]:
    return _option(
        "collection",
        "Which documentation to search (defaults to this channel's)",
        autocomplete=True,
        max_length=MAX_COLLECTION_NAME,
    )


_COMMANDS: Final[tuple[dict[str, Any], ...]] = (
    _slash(
        "ask",
        "Ask a question; the answer cites the documentation",
        [
            _option("question", "Your question", required=True, max_length=MAX_QUESTION),
            _collection_option(),
            _option("private", "Only you see the answer", BOOLEAN),
        ],
    ),
    _slash(
        "search",
        "Find the documentation sections that match, without an AI answer",
        [_option("query", "What to look for", required=True, max_length=MAX_QUESTION), _collection_option()],
    ),
    _slash("commands", "Show what the bot can do"),
    _slash("collections", "List the documentation collections available here"),
    _slash("solve", "Mark this thread as solved"),
    _slash("unsolve", "Mark this thread as not solved"),
    _slash("close", "Close (archive) this thread"),
    _slash("open", "Reopen this thread"),
    _slash("status", "Show this thread's collection, votes and state"),
    {
        "type": MESSAGE,
        "name": ASK_CONTEXT_MENU,
        "description": "",  # Discord requires an empty description for context-menu commands
        "contexts": [CONTEXT_GUILD],
        "integration_types": [INTEGRATION_GUILD_INSTALL],
    },
)


def command_definitions() -> list[dict[str, Any]]:
    """Every command the bot registers (a fresh copy: callers may change it)."""
    return copy.deepcopy(list(_COMMANDS))


def command_names() -> frozenset[str]:
    """The names of the registered commands."""
    return frozenset(c["name"] for c in _COMMANDS)


class InvalidCommand(ValueError):
    """A command definition Discord would refuse."""


def validate_commands(commands: Sequence[Mapping[str, Any]]) -> None:
    """Raise `InvalidCommand` on the first definition that breaks Discord's documented rules."""
    if len(commands) > 100:
        raise InvalidCommand("at most 100 commands of each type")
    seen: set[tuple[int, str]] = set()
    for command in commands:
        kind = command.get("type", CHAT_INPUT)
        name = command.get("name")
        if not isinstance(name, str):
            raise InvalidCommand(f"command name must be a string: {name!r}")
        if (kind, name) in seen:
            raise InvalidCommand(f"duplicate command {name!r}")
        seen.add((kind, name))
        description = command.get("description", "")
        if not isinstance(description, str):
            raise InvalidCommand(f"{name}: description must be a string")
        if kind == CHAT_INPUT:
            _check_name(name, f"command {name!r}")
            if not 1 <= len(description) <= MAX_DESCRIPTION:
                raise InvalidCommand(f"{name}: description must be 1-{MAX_DESCRIPTION} characters")
            _check_options(name, command.get("options", []), depth=0)
            if _total_chars(command) > MAX_COMMANDS_TOTAL_CHARS:
                raise InvalidCommand(f"{name}: names, descriptions and choices exceed {MAX_COMMANDS_TOTAL_CHARS}")
        elif kind in (2, MESSAGE):  # USER and MESSAGE context menus
            if not 1 <= len(name) <= MAX_NAME:
                raise InvalidCommand(f"context menu name must be 1-{MAX_NAME} characters: {name!r}")
            if description or command.get("options"):
                raise InvalidCommand(f"{name}: context menu commands take no description or options")
        else:
            raise InvalidCommand(f"{name}: unknown command type {kind!r}")


def _check_name(name: str, what: str) -> None:
    if not _CHAT_INPUT_NAME.fullmatch(name) or name != name.lower():
        raise InvalidCommand(f"{what}: names are 1-{MAX_NAME} lower-case letters, digits, '-', '_' or \"'\"")


def _check_options(command: str, options: object, *, depth: int) -> None:
    if not isinstance(options, list) or len(options) > MAX_OPTIONS:
        raise InvalidCommand(f"{command}: options must be a list of at most {MAX_OPTIONS}")
    names: set[str] = set()
    optional_seen = False
    for option in options:
        if not isinstance(option, dict):
            raise InvalidCommand(f"{command}: each option must be an object")
        name, kind = option.get("name"), option.get("type")
        label = f"{command}.{name}"
        if not isinstance(name, str):
            raise InvalidCommand(f"{label}: option name must be a string")
        _check_name(name, f"option {label}")
        if name in names:
            raise InvalidCommand(f"{label}: duplicate option")
        names.add(name)
        if kind not in _OPTION_TYPES:
            raise InvalidCommand(f"{label}: unknown option type {kind!r}")
        description = option.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION:
            raise InvalidCommand(f"{label}: description must be 1-{MAX_DESCRIPTION} characters")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth >= (1 if kind == SUB_COMMAND_GROUP else 2):
                raise InvalidCommand(f"{label}: subcommands nest at most group → subcommand")
            _check_options(label, option.get("options", []), depth=depth + 1)
            continue
        # Discord wants required options before optional ones.
        if option.get("required"):
            if optional_seen:
                raise InvalidCommand(f"{label}: required options must come before optional ones")
        else:
            optional_seen = True
        if option.get("autocomplete") and option.get("choices"):
            raise InvalidCommand(f"{label}: autocomplete and choices are exclusive")
        if "max_length" in option or "min_length" in option:
            if kind != STRING:
                raise InvalidCommand(f"{label}: min_length/max_length only apply to strings")
            low, high = option.get("min_length", 0), option.get("max_length", MAX_STRING_OPTION)
            if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= MAX_STRING_OPTION):
                raise InvalidCommand(f"{label}: need 0 <= min_length <= max_length <= {MAX_STRING_OPTION}")
            if high < 1:
                raise InvalidCommand(f"{label}: max_length must be at least 1")


def _total_chars(command: Mapping[str, Any]) -> int:
    total = len(command.get("name", "")) + len(command.get("description", ""))
    for option in command.get("options", []):
        total += _total_chars(option)
        for choice in option.get("choices", []):
            total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total
