"""The bot's application commands, each declared once: what Discord is told, and how the bot answers it.

`COMMANDS` is the table. One entry per command holds its Discord definition (type, name, description,
options), whether it is deferred (type 5 now, answered by the respond function from a queued task) or
answered inline by a named handler, and whether its answer is public, private (ephemeral) or the user's
choice. Everything else is generated from the table: `command_definitions()` (what `docsbot
register-commands` sends to "Bulk Overwrite Application Commands"), routing in the interactions handler (a
lookup by name, `find_command`) and the `/commands` help text (`help_lines`). `validate_commands` checks
Discord's documented rules, so a bad definition fails here with a clear message instead of as a 400 from
Discord. Standard library only: the interactions function imports this on its cold-start path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Final, Literal

from docsbot.discord.interaction import CommandType
from docsbot.discord.limits import (
    MAX_COMMAND_DESCRIPTION,
    MAX_COMMAND_NAME,
    MAX_COMMAND_TOTAL_CHARS,
    MAX_COMMANDS,
    MAX_OPTIONS,
    MAX_STRING_OPTION,
)


class OptionType(IntEnum):
    """Application command option types (the ones the validator knows; we use STRING and BOOLEAN)."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    NUMBER = 10


# Where commands may be used: guilds only (the bot works in forum threads), installed to a guild.
CONTEXT_GUILD: Final = 0
INTEGRATION_GUILD_INSTALL: Final = 0

MAX_QUESTION: Final = 1500  # /ask question, /search query, the follow-up modal; the handler checks it again
MAX_COLLECTION_NAME: Final = 100
ASK_CONTEXT_MENU: Final = "Ask the docs"
MARK_SOLUTION_MENU: Final = "Mark as solution"

_CHAT_INPUT_NAME = re.compile(r"[-_'\w]{1,32}")  # Discord's pattern, lower case for CHAT_INPUT commands
_OPTION_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})


@dataclass(frozen=True)
class Option:
    """One option of a slash command, as Discord shows it."""

    name: str
    description: str
    type: OptionType = OptionType.STRING
    required: bool = False
    autocomplete: bool = False  # suggestions come from the interactions handler (collections)
    max_length: int | None = None  # strings only; min_length is then 1

    def definition(self) -> dict[str, Any]:
        option: dict[str, Any] = {"type": self.type.value, "name": self.name, "description": self.description}
        if self.required:
            option["required"] = True
        if self.autocomplete:
            option["autocomplete"] = True
        if self.max_length is not None:
            option["min_length"] = 1
            option["max_length"] = self.max_length
        return option


class Visibility(StrEnum):
    """Who sees a command's answer. Refusals and errors are always private, whatever this says."""

    PUBLIC = "public"
    PRIVATE = "private"  # ephemeral: only the user who asked
    CHOSEN = "chosen"  # the user's `private` option; public unless set


# The respond function's task kinds for commands (a subset of `docsbot.bot.tasks.TaskKind`).
DeferredKind = Literal["ask", "search", "context_ask"]


@dataclass(frozen=True)
class Deferred:
    """Answered later: "thinking…" (type 5) now, and one queued task of `task` kind answers it.

    The question is the option `question_option`, or, when None, the text of the message a context-menu
    command was used on.
    """

    task: DeferredKind
    question_option: str | None


class Handler(StrEnum):
    """The inline handlers of the interactions handler, which maps each to a method."""

    HELP = "help"
    SOLVE = "solve"
    UNSOLVE = "unsolve"
    CLOSE = "close"
    OPEN = "open"
    STATUS = "status"
    MARK_SOLUTION = "mark_solution"


@dataclass(frozen=True)
class Inline:
    """Answered within Discord's 3 seconds by `handler`."""

    handler: Handler


@dataclass(frozen=True)
class Command:
    """One application command, declared once."""

    name: str
    # A slash command's description in Discord and in /commands. Discord gives context menus none, so theirs
    # appears in /commands only.
    description: str
    answer: Deferred | Inline
    visibility: Visibility
    type: CommandType = CommandType.CHAT_INPUT
    options: tuple[Option, ...] = ()

    @property
    def deferred(self) -> bool:
        return isinstance(self.answer, Deferred)

    def definition(self) -> dict[str, Any]:
        """This command in Discord's application command JSON (a fresh dict)."""
        command: dict[str, Any] = {
            "type": self.type.value,
            "name": self.name,
            "description": self.description if self.type == CommandType.CHAT_INPUT else "",
            "contexts": [CONTEXT_GUILD],
            "integration_types": [INTEGRATION_GUILD_INSTALL],
        }
        if self.options:
            command["options"] = [option.definition() for option in self.options]
        return command

    def usage(self) -> str:
        """How a user invokes it: "`/ask question: [collection:] [private:]`", or where to find a context menu."""
        if self.type == CommandType.MESSAGE:
            return f"Right-click a message › Apps › **{self.name}**"
        words = [f"/{self.name}"] + [f"{o.name}:" if o.required else f"[{o.name}:]" for o in self.options]
        return f"`{' '.join(words)}`"


def _collection_option() -> Option:
    return Option(
        "collection",
        "Which documentation to search (defaults to this channel's)",
        autocomplete=True,
        max_length=MAX_COLLECTION_NAME,
    )


COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "ask",
        "Ask a question; the answer cites the documentation",
        Deferred(task="ask", question_option="question"),
        Visibility.CHOSEN,
        options=(
            Option("question", "Your question", required=True, max_length=MAX_QUESTION),
            _collection_option(),
            Option("private", "Only you see the answer", OptionType.BOOLEAN),
        ),
    ),
    Command(
        "search",
        "Find the documentation sections that match, without an AI answer",
        Deferred(task="search", question_option="query"),
        Visibility.PRIVATE,
        options=(Option("query", "What to look for", required=True, max_length=MAX_QUESTION), _collection_option()),
    ),
    Command("commands", "Show what the bot can do", Inline(Handler.HELP), Visibility.PRIVATE),
    Command(
        "collections", "List the documentation collections available here", Inline(Handler.HELP), Visibility.PRIVATE
    ),
    # Thread housekeeping: a close is answered privately, as a message posted in the thread would reopen it.
    Command("solve", "Mark this thread as solved", Inline(Handler.SOLVE), Visibility.PUBLIC),
    Command(
        "unsolve",
        "Mark this thread as not solved (and forget its marked solution)",
        Inline(Handler.UNSOLVE),
        Visibility.PUBLIC,
    ),
    Command("close", "Close (archive) this thread", Inline(Handler.CLOSE), Visibility.PRIVATE),
    Command("open", "Reopen this thread", Inline(Handler.OPEN), Visibility.PUBLIC),
    Command("status", "Show this thread's collection, votes and state", Inline(Handler.STATUS), Visibility.PRIVATE),
    Command(
        ASK_CONTEXT_MENU,
        "Answer that message from the documentation",
        Deferred(task="context_ask", question_option=None),
        Visibility.PUBLIC,
        type=CommandType.MESSAGE,
    ),
    # The learning loop's capture: the thread's author or staff marks the message (anyone's) that solved it.
    Command(
        MARK_SOLUTION_MENU,
        "Record that message as this thread's solution (`/unsolve` undoes it)",
        Inline(Handler.MARK_SOLUTION),
        Visibility.PUBLIC,
        type=CommandType.MESSAGE,
    ),
)

_BY_NAME: Final[Mapping[str, Command]] = {command.name: command for command in COMMANDS}
if len(_BY_NAME) != len(COMMANDS):  # routing is by name alone
    raise RuntimeError("two commands share a name")


def find_command(name: str | None) -> Command | None:
    """The table entry named `name` (what Discord sends as `data.name`), or None."""
    return _BY_NAME.get(name or "")


def command_definitions() -> list[dict[str, Any]]:
    """Every command the bot registers, in Discord's JSON (fresh dicts: callers may change them)."""
    return [command.definition() for command in COMMANDS]


def command_names() -> frozenset[str]:
    """The names of the registered commands."""
    return frozenset(_BY_NAME)


def help_lines() -> list[str]:
    """One line per command for /commands: how to invoke it and its description."""
    return [f"{command.usage()} — {command.description}" for command in COMMANDS]


class InvalidCommand(ValueError):
    """A command definition Discord would refuse."""


def validate_commands(commands: Sequence[Mapping[str, Any]]) -> None:
    """Raise `InvalidCommand` on the first definition that breaks Discord's documented rules."""
    if len(commands) > MAX_COMMANDS:
        raise InvalidCommand(f"at most {MAX_COMMANDS} commands of each type")
    seen: set[tuple[int, str]] = set()
    for command in commands:
        kind = command.get("type", CommandType.CHAT_INPUT)
        name = command.get("name")
        if not isinstance(name, str):
            raise InvalidCommand(f"command name must be a string: {name!r}")
        if (kind, name) in seen:
            raise InvalidCommand(f"duplicate command {name!r}")
        seen.add((kind, name))
        description = command.get("description", "")
        if not isinstance(description, str):
            raise InvalidCommand(f"{name}: description must be a string")
        if kind == CommandType.CHAT_INPUT:
            _check_name(name, f"command {name!r}")
            if not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
                raise InvalidCommand(f"{name}: description must be 1-{MAX_COMMAND_DESCRIPTION} characters")
            _check_options(name, command.get("options", []), depth=0)
            if _total_chars(command) > MAX_COMMAND_TOTAL_CHARS:
                raise InvalidCommand(f"{name}: names, descriptions and choices exceed {MAX_COMMAND_TOTAL_CHARS}")
        elif kind in (CommandType.USER, CommandType.MESSAGE):  # context menus
            if not 1 <= len(name) <= MAX_COMMAND_NAME:
                raise InvalidCommand(f"context menu name must be 1-{MAX_COMMAND_NAME} characters: {name!r}")
            if description or command.get("options"):
                raise InvalidCommand(f"{name}: context menu commands take no description or options")
        else:
            raise InvalidCommand(f"{name}: unknown command type {kind!r}")


def _check_name(name: str, what: str) -> None:
    if not _CHAT_INPUT_NAME.fullmatch(name) or name != name.lower():
        raise InvalidCommand(f"{what}: names are 1-{MAX_COMMAND_NAME} lower-case letters, digits, '-', '_' or \"'\"")


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
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
            raise InvalidCommand(f"{label}: description must be 1-{MAX_COMMAND_DESCRIPTION} characters")
        if kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            if depth >= (1 if kind == OptionType.SUB_COMMAND_GROUP else 2):
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
            if kind != OptionType.STRING:
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
