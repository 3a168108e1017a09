"""A Discord Gateway on 127.0.0.1: a websocket server speaking the gateway protocol (v10, JSON, uncompressed
text frames), for driving the real discord.py client in tests.

    HELLO (op 10) on connect → IDENTIFY (op 2) → READY and one GUILD_CREATE (dispatches, op 0)
    HEARTBEAT (op 1) → HEARTBEAT_ACK (op 11)
    RESUME (op 6) with the session and the last sequence seen → the dispatches after it, then RESUMED
    `dispatch()` sends THREAD_CREATE / MESSAGE_CREATE / MESSAGE_UPDATE...; `reconnect()` sends RECONNECT
    (op 7); `drop()` closes the socket with 4000 (a resumable error), as when a connection is lost.

Every dispatch is kept with its sequence number, like Discord's session buffer: one sent while no client is
connected is delivered on RESUME, so "nothing is lost" is testable. `replay_overlap` makes a RESUME replay
that many dispatches the client had already seen (a duplicate delivery, as when an ack was lost).
It records the IDENTIFY payloads (intents, token), RESUMEs and heartbeats. Served by aiohttp (a dependency of
discord.py) on its own event loop thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.harness.fakes.discord_signing import APPLICATION_ID, GUILD_ID

SESSION_ID = "fake-session-0001"


@dataclass
class GatewayLog:
    identifies: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0
    connections: int = 0


class FakeGateway:
    """One bot's Gateway session; `guild` is the GUILD_CREATE payload sent after READY."""

    def __init__(self, guild: dict[str, Any], *, bot_user: dict[str, Any], token: str = "fake-bot-token") -> None:  # noqa: S107
        self.guild = guild
        self.bot_user = bot_user
        self.token = token
        self.replay_overlap = 0
        self.message_content_enabled = True  # False: the portal's Message Content switch is off (close 4014)
        self.log = GatewayLog()
        self._dispatches: list[tuple[int, str, Any]] = []  # (seq, event, data): the session's buffer
        self._socket: web.WebSocketResponse | None = None
        self._live = False  # identified or resumed: dispatches go out as they happen
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-gateway", daemon=True)
        self._changed = threading.Condition()
        self.url = ""

    # --- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> FakeGateway:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/"

    async def _stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting (any thread) ---------------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Add a dispatch to the session; sent now when a client is connected, else on its RESUME."""
        return asyncio.run_coroutine_threadsafe(self._dispatch(event, data), self._loop).result(timeout=30)

    def reconnect(self) -> None:
        """Ask the client to reconnect and resume (op 7)."""
        asyncio.run_coroutine_threadsafe(self._send_op(7, None), self._loop).result(timeout=30)

    def request_heartbeat(self) -> None:
        """Ask the client for a heartbeat now (op 1), as Discord may."""
        asyncio.run_coroutine_threadsafe(self._send_op(1, None), self._loop).result(timeout=30)

    def drop(self) -> None:
        """Lose the connection: close with 4000 (unknown error; the client resumes)."""
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(timeout=30)

    def wait_until(self, predicate: Any, timeout: float = 30) -> None:
        """Block until `predicate(self.log)` holds (the log changes on every frame), or fail."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.log), timeout=timeout):
                raise AssertionError(f"the gateway never saw it: {self.log}")

    # --- the protocol (the server's loop) -------------------------------------------------------------------

    def _note(self, change: Any) -> None:
        with self._changed:
            change(self.log)
            self._changed.notify_all()

    async def _dispatch(self, event: str, data: dict[str, Any]) -> int:
        seq = len(self._dispatches) + 1
        self._dispatches.append((seq, event, data))
        if self._live and self._socket is not None and not self._socket.closed:
            await self._send(seq, event, data)
        return seq

    async def _send(self, seq: int, event: str, data: Any) -> None:
        assert self._socket is not None
        await self._socket.send_str(json.dumps({"op": 0, "s": seq, "t": event, "d": data}))

    async def _send_op(self, op: int, data: Any) -> None:
        if self._socket is not None and not self._socket.closed:
            await self._socket.send_str(json.dumps({"op": op, "s": None, "t": None, "d": data}))

    async def _drop(self) -> None:
        if self._socket is not None:
            self._live = False
            await self._socket.close(code=4000, message=b"Unknown error")

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket, self._live = socket, False
        self._note(lambda log: setattr(log, "connections", log.connections + 1))
        await self._send_op(10, {"heartbeat_interval": 41250})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            payload = json.loads(frame.data)
            op, data = payload.get("op"), payload.get("d")
            if op == 1:
                await self._send_op(11, None)
                self._note(lambda log: setattr(log, "heartbeats", log.heartbeats + 1))
            elif op == 2:
                await self._identify(socket, data)
            elif op == 6:
                await self._resume(data)
        if self._socket is socket:
            self._live = False
        return socket

    async def _identify(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self._note(lambda log: log.identifies.append(data))
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await socket.close(code=4004, message=b"Authentication failed.")
            return
        if not self.message_content_enabled and int(data.get("intents") or 0) & (1 << 15):
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return
        self._dispatches.clear()  # a new session
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": self.guild["id"], "unavailable": True}],
            "session_id": SESSION_ID,
            "resume_gateway_url": self.url,
            "application": {"id": APPLICATION_ID, "flags": 0},
            "private_channels": [],
        }
        self._live = True
        await self._dispatch("READY", ready)
        await self._dispatch("GUILD_CREATE", self.guild)

    async def _resume(self, data: dict[str, Any]) -> None:
        self._note(lambda log: log.resumes.append(data))
        seen = int(data.get("seq") or 0) - self.replay_overlap
        for seq, event, body in list(self._dispatches):
            if seq > seen:
                await self._send(seq, event, body)
        self._live = True
        await self._dispatch("RESUMED", {})


def forum_guild(forum_ids: list[str], *, guild_id: str = GUILD_ID) -> dict[str, Any]:
    """A GUILD_CREATE payload: a server with a forum channel (type 15) per id."""
    channels = [
        {"id": forum, "type": 15, "name": f"help-{n}", "position": n, "guild_id": guild_id,
         "permission_overwrites": [], "available_tags": [], "flags": 0}
        for n, forum in enumerate(forum_ids)
    ]  # fmt: skip
    return {
        "id": guild_id,
        "name": "Test server",
        "owner_id": "1180000000000000005",
        "channels": channels,
        "threads": [],
        "roles": [
            {
                "id": guild_id,
                "name": "@everyone",
                "permissions": "0",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            }
        ],
        "members": [],
        "member_count": 2,
        "emojis": [],
        "stickers": [],
        "features": [],
        "unavailable": False,
        "large": False,
        "joined_at": "2026-01-01T00:00:00+00:00",
    }
