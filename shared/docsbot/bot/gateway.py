"""The relay's Discord Gateway adapter: a discord.py client that turns each new message into an
`IncomingMessage` and hands it to `Relay.admit`, off the event loop (the store and the queue block).

Intents: guilds (the channel and thread cache that says which forum a thread is in), guild messages and
message content (privileged: enable it in the developer portal) — nothing else, no member or presence data.
Edits are never read: only `on_message` is handled. No message cache (`max_messages=None`) and no member
cache, so memory stays flat however busy the server is. Connecting, heartbeats, reconnects and resumes are
discord.py's; this adapter only logs them (JSON lines through the root logger, `docsbot.app.logs`).

`configure_endpoints` points discord.py at another REST base and Gateway URL (tests, a local fake); the
library keeps both as class attributes, so it is process-wide — one relay client per process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import discord
import yarl
from discord.gateway import DiscordWebSocket

from docsbot.bot.relay import IncomingMessage, Relay, ThreadInfo

log = logging.getLogger("docsbot.relay")


def relay_intents() -> discord.Intents:
    """Only what the relay reads: guilds, guild messages and their content."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


def configure_endpoints(api_base: str | None, gateway_url: str | None) -> None:
    """Use `api_base` (".../api/v10") for REST and `gateway_url` (ws:// or wss://) for the Gateway."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def incoming(message: discord.Message) -> IncomingMessage:
    """The relay's view of a discord.py message."""
    channel = message.channel
    thread = None
    if isinstance(channel, discord.Thread):
        thread = ThreadInfo(
            thread_id=str(channel.id),
            parent_id=str(channel.parent_id) if channel.parent_id else None,
            name=channel.name or "",
            owner_id=str(channel.owner_id) if channel.owner_id else None,
        )
    replied_to = None
    if message.reference is not None and isinstance(message.reference.resolved, discord.Message):
        replied_to = str(message.reference.resolved.author.id)
    roles = getattr(message.author, "roles", [])
    return IncomingMessage(
        message_id=str(message.id),
        channel_id=str(channel.id),
        guild_id=str(message.guild.id) if message.guild else None,
        author_id=str(message.author.id),
        author_is_bot=message.author.bot,
        content=message.content,
        mentions=frozenset(str(user.id) for user in message.mentions),
        replied_to_author_id=replied_to,
        thread=thread,
        member_roles=tuple(str(role.id) for role in roles if not role.is_default()),
    )


class RelayClient(discord.Client):
    """The Gateway client. `on_outcome(message_id, outcome)` is told what became of each message (tests)."""

    def __init__(self, relay: Relay, *, on_outcome: Callable[[str, str], None] | None = None) -> None:
        super().__init__(
            intents=relay_intents(),
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
        )
        self.relay = relay
        self.on_outcome = on_outcome
        self.connected = asyncio.Event()  # set while a session is up (READY or RESUMED), for /healthz

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None:  # not logged in yet: cannot tell its own messages apart
            return
        seen = incoming(message)
        try:
            outcome = await asyncio.to_thread(self.relay.admit, seen, bot_user_id=str(self.user.id))
        except Exception as error:  # a store outage must not stop the client; the message is lost, logged
            log.error("relay failed", extra={"discord_message": seen.message_id, "error": type(error).__name__})
            outcome = "error"
        log.info("relay", extra={"discord_message": seen.message_id, "outcome": outcome})
        if self.on_outcome is not None:
            self.on_outcome(seen.message_id, outcome)

    async def on_connect(self) -> None:
        log.info("gateway connected")

    async def on_ready(self) -> None:
        self.connected.set()
        log.info("gateway ready", extra={"guilds": len(self.guilds)})

    async def on_resumed(self) -> None:
        self.connected.set()
        log.info("gateway resumed")

    async def on_disconnect(self) -> None:
        self.connected.clear()
        log.warning("gateway disconnected; discord.py reconnects")


class BackgroundClient:
    """Runs a client on an event loop of its own in a daemon thread (`docsbot serve --relay`, the service,
    tests); `stop()` closes the connection and ends the thread."""

    def __init__(self, client: discord.Client, token: str) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()
        self._session: asyncio.Future[None] | None = None
        self._token = token
        self._thread = threading.Thread(target=self._run, name="docsbot-relay", daemon=True)
        self.stopped = threading.Event()  # set when the client's session has ended, for whatever reason

    def start(self) -> BackgroundClient:
        self._thread.start()
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._session = asyncio.ensure_future(self.client.start(self._token), loop=self.loop)
        self._session.add_done_callback(_log_end)
        self._session.add_done_callback(lambda _: self.stopped.set())
        self.loop.run_forever()
        # discord.py leaves helper tasks (the ready wait...) behind after close(): end them before the loop.
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def alive(self) -> bool:
        """Whether the client still runs (it stops for good on a bad token or a refused intent)."""
        return self._thread.is_alive() and not (self._session is not None and self._session.done())

    def stop(self, timeout: float = 30) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.client.close(), self.loop).result(timeout=timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=timeout)


def _log_end(session: asyncio.Future[None]) -> None:
    if not session.cancelled() and session.exception() is not None:
        error = session.exception()
        # discord.py's own words: a bad token, or the Message Content intent not enabled in the portal.
        log.critical("gateway client stopped", extra={"error": type(error).__name__, "reason": str(error)[:300]})
