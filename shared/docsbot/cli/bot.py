"""The Discord bot commands of `docsbot`: serve (both functions locally, and the gateway relay with --relay),
relay (the gateway relay alone), register-commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from docsbot.cli.common import (
    err,
    fail,
    load_settings_or_fail,
    out,
)
from docsbot.settings.config import (
    ConfigError,
)

if TYPE_CHECKING:  # imported lazily at run time so `docsbot --help` stays fast
    from docsbot.bot.gateway import BackgroundClient
    from docsbot.bot.tasks import TaskQueue
    from docsbot.settings.bot import BotSettings


def _bot_settings() -> BotSettings:
    from docsbot.settings.bot import BotConfigError, load_bot_settings

    try:
        return load_bot_settings()
    except BotConfigError as error:
        fail(str(error))


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (put a tunnel in front for Discord).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    relay: Annotated[
        bool, typer.Option("--relay", help="Also answer new forum posts and mentions (the gateway relay).")
    ] = False,
) -> None:
    """Run the bot locally: POST /interactions, answered in this process (embedded index and state)."""
    import flask
    from werkzeug.serving import run_simple

    from docsbot.app import bot as wiring
    from docsbot.app.bot_http import serve_interaction
    from docsbot.settings.catalog import load_catalog

    bot = _bot_settings()
    load_settings_or_fail()  # the index and model settings respond needs: every problem before listening
    try:
        count = len(load_catalog(bot.collections_file).enabled())
    except ConfigError as error:
        fail(str(error))
    store = wiring.build_store(bot)
    queue = wiring.build_local_queue(bot, store)
    handler = wiring.build_interactions(bot, store=store, queue=queue)
    running = _start_relay(queue) if relay else None
    web = flask.Flask("docsbot")
    web.add_url_rule(
        "/interactions", "interactions", lambda: serve_interaction(handler, flask.request), methods=["POST"]
    )
    web.add_url_rule("/healthz", "healthz", lambda: "ok")
    err.print(
        f"docsbot serve: {count} collections; set the Interactions Endpoint URL to "
        f"https://<your tunnel>/interactions (listening on http://{host}:{port})"
    )
    try:
        run_simple(host, port, web, threaded=True)
    finally:
        if running is not None:
            running.stop()
        queue.close()


def _start_relay(queue: TaskQueue) -> BackgroundClient:
    """The gateway relay over `queue`, in a background thread; fails with every settings problem."""
    from docsbot.app.relay import load_relay_settings, start_relay

    try:
        settings = load_relay_settings()
    except ConfigError as error:
        fail(str(error))
    try:
        running = start_relay(settings, queue)
    except ImportError:
        fail("the relay needs discord.py: pip install -e '.[relay]'")
    err.print("docsbot relay: connecting to the Discord Gateway (new forum posts and mentions)")
    return running


def relay_command() -> None:
    """Run the gateway relay alone: answer new forum posts and mentions without a command (JSON logs)."""
    from docsbot.app.relay import service_main

    try:
        import discord  # noqa: F401
    except ImportError:
        fail("the relay needs discord.py: pip install -e '.[relay]'")
    raise typer.Exit(service_main())


def register_commands_command(
    guild: Annotated[str | None, typer.Option(help="Register in one guild (instant) instead of globally.")] = None,
) -> None:
    """Create or update the bot's slash and context-menu commands through the Discord API."""
    from docsbot.app import bot as wiring
    from docsbot.discord.register import register_commands
    from docsbot.discord.rest import DiscordError

    bot = _bot_settings()
    if not bot.bot_token:
        fail("register-commands needs DISCORD_BOT_TOKEN")
    try:
        registered = register_commands(wiring.build_rest(bot), guild)
    except (DiscordError, ValueError) as error:
        fail(str(error))
    where = f"guild {guild}" if guild else "globally (may take up to an hour to appear)"
    out.print(
        f"registered {len(registered)} commands {where}: {', '.join(c.get('name', '?') for c in registered)}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `docsbot` app."""
    app.command("serve")(serve)
    app.command("relay")(relay_command)
    app.command("register-commands")(register_commands_command)
