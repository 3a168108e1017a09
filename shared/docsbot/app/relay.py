"""The gateway relay's composition root: its settings, the Gateway client over the respond queue, and the
health endpoint Cloud Run probes (`functions/relay/main.py`, `docsbot relay`, `docsbot serve --relay`).

The relay reads the bot's settings (`docsbot.settings.bot`) and needs DISCORD_BOT_TOKEN besides, but not
DISCORD_PUBLIC_KEY (it verifies no interaction, and its account reads no other secret); optionally
DISCORD_GATEWAY_URL (a ws:// or wss:// Gateway other than Discord's: tests, a local fake) and PORT (the
health endpoint's, default 8080). Every problem is listed at once. It queues the respond tasks on the queue
`DOCSBOT_QUEUE` names: Cloud Tasks in the cloud (the relay's account may only enqueue), or in this process.

`/healthz` answers 200 while the Gateway client runs — reconnecting included, which is discord.py's job —
and 503 once it has stopped for good (a bad token, the Message Content intent not enabled), so Cloud Run's
liveness probe restarts the instance and the logs say why.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docsbot.bot.relay import Relay
from docsbot.bot.tasks import TaskQueue
from docsbot.settings.bot import DISCORD_API, BotConfigError, BotSettings, load_bot_settings
from docsbot.settings.catalog import load_catalog
from docsbot.settings.envvars import ConfigError, integer

if TYPE_CHECKING:
    from docsbot.bot.gateway import BackgroundClient, RelayClient

log = logging.getLogger("docsbot.relay")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class RelaySettings:
    bot: BotSettings
    bot_token: str
    gateway_url: str | None  # None: Discord's
    port: int


def load_relay_settings(env: Mapping[str, str] | None = None) -> RelaySettings:
    """The relay's settings (default: `os.environ`); a ConfigError lists every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    bot: BotSettings | None = None
    # The relay verifies no interaction signature: an all-zero key stands in for the one the bot settings require.
    bot_env = {"DISCORD_PUBLIC_KEY": "00" * 32, **{k: v for k, v in env.items() if k != "DISCORD_PUBLIC_KEY" or v}}
    try:
        bot = load_bot_settings(bot_env)
    except BotConfigError as error:
        problems.extend(line.strip()[2:] for line in str(error).splitlines()[1:])
    token = (env.get("DISCORD_BOT_TOKEN") or "").strip()
    if not token:
        problems.append("DISCORD_BOT_TOKEN is required: the relay logs in to the Gateway as the bot")
    gateway_url = (env.get("DISCORD_GATEWAY_URL") or "").strip() or None
    if gateway_url and not gateway_url.startswith(("ws://", "wss://")):
        problems.append(f"DISCORD_GATEWAY_URL: a ws:// or wss:// URL, got {gateway_url[:100]!r}")
    port = integer(env, "PORT", 8080, 1, 65535, problems)
    if problems or bot is None:
        raise ConfigError("relay configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return RelaySettings(bot=bot, bot_token=token, gateway_url=gateway_url, port=port)


def build_relay(bot: BotSettings, queue: TaskQueue) -> Relay:
    """The relay's core over the collections file baked into the build (the same catalog /ask reads)."""
    return Relay(
        queue,
        load_catalog(bot.collections_file),
        application_id=bot.application_id,
        allowed_guilds=bot.allowed_guilds,
        clock=time.time,
    )


def build_client(
    settings: RelaySettings, queue: TaskQueue, *, on_outcome: Callable[[str, str], None] | None = None
) -> RelayClient:
    """The Gateway client, pointed at DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL when they are set."""
    from docsbot.bot.gateway import RelayClient, configure_endpoints

    api_base = settings.bot.discord_api if settings.bot.discord_api != DISCORD_API else None
    configure_endpoints(api_base, settings.gateway_url)
    return RelayClient(build_relay(settings.bot, queue), on_outcome=on_outcome)


def start_relay(settings: RelaySettings, queue: TaskQueue) -> BackgroundClient:
    """The Gateway client, connecting in a background thread of this process."""
    from docsbot.bot.gateway import BackgroundClient

    return BackgroundClient(build_client(settings, queue), settings.bot_token).start()


def health_app(running: BackgroundClient) -> Callable[[Mapping[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app: GET /healthz → 200 while the client runs, 503 once it has stopped for good; else 404."""

    def app(environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/healthz":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if running.alive():
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"the gateway client has stopped\n"]

    return app


def service_main(env: Mapping[str, str] | None = None) -> int:
    """The Cloud Run service (`functions/relay/main.py`): JSON logs, the client, /healthz on PORT."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from docsbot.app.bot import build_queue, build_store
    from docsbot.app.logs import configure_json_logging

    configure_json_logging()
    try:
        settings = load_relay_settings(env)
    except ConfigError as error:
        log.critical("relay not started", extra={"problems": str(error)})
        return 2
    store = build_store(settings.bot) if settings.bot.queue == "inprocess" else None
    queue = build_queue(settings.bot, store) if store is not None else _cloud_queue(settings.bot)
    running = start_relay(settings, queue)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the probe every few seconds is not news
            return

    server = make_server("0.0.0.0", settings.port, health_app(running), handler_class=QuietHandler)  # noqa: S104
    log.info("relay started", extra={"port": settings.port})
    try:
        server.serve_forever()
    finally:
        running.stop()
    return 0


def _cloud_queue(bot: BotSettings) -> TaskQueue:
    from docsbot.app.bot import build_cloud_tasks_queue

    return build_cloud_tasks_queue(bot)
