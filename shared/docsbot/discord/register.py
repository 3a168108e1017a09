"""Register the bot's commands with Discord: a deploy-time step (`docsbot register-commands`), never on the
request path.

A guild registration shows up at once (use it while developing); a global one can take up to an hour.
"""

from __future__ import annotations

from typing import Any

from docsbot.discord.commands import command_definitions, validate_commands
from docsbot.discord.rest import DiscordRest


def register_commands(rest: DiscordRest, guild_id: str | None) -> list[dict[str, Any]]:
    """Overwrite the application's commands (in `guild_id`, or globally) with ours; returns Discord's copy.

    The definitions are checked first (`commands.InvalidCommand`), so a mistake never reaches Discord.
    A bulk overwrite is idempotent: running it twice leaves the same commands.
    """
    commands = command_definitions()
    validate_commands(commands)
    return rest.bulk_overwrite_commands(commands, guild_id=guild_id)
