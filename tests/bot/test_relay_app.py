"""The relay's composition root: settings from the environment (every problem at once), the client built
from them against the fake Gateway and REST API, and the health endpoint Cloud Run probes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket

from docsbot.app.relay import health_app, load_relay_settings, start_relay
from docsbot.bot.tasks import RespondTask
from docsbot.settings.envvars import ConfigError
from tests.bot.test_relay_gateway import message_payload, thread_payload
from tests.harness.bot_client import RecordingQueue
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import APPLICATION_ID, FORUM_ID, snowflake
from tests.harness.fakes.gateway import FakeGateway, forum_guild


def test_every_settings_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_relay_settings({"DISCORD_GATEWAY_URL": "http://nope", "PORT": "0"})
    message = str(raised.value)
    for expected in ("DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN", "DISCORD_GATEWAY_URL", "PORT"):
        assert expected in message, message
    assert "DISCORD_PUBLIC_KEY" not in message  # the relay verifies no interaction: its account cannot read the key


class SignallingQueue(RecordingQueue):
    """Records tasks and sets `queued` on the first."""

    def __init__(self) -> None:
        super().__init__()
        self.queued = threading.Event()

    def enqueue(self, task: RespondTask) -> bool:
        added = super().enqueue(task)
        self.queued.set()
        return added


class Running:
    def __init__(self, alive: bool) -> None:
        self._alive = alive

    def alive(self) -> bool:
        return self._alive


def call(app: Any, path: str) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(app({"PATH_INFO": path}, lambda status, headers: seen.append(status)))
    return seen[0], body


def test_health_is_ok_while_the_client_runs_and_503_once_it_stopped() -> None:
    assert call(health_app(Running(True)), "/healthz")[0] == "200 OK"  # type: ignore[arg-type]
    assert call(health_app(Running(False)), "/healthz")[0].startswith("503")  # type: ignore[arg-type]
    assert call(health_app(Running(True)), "/")[0].startswith("404")  # type: ignore[arg-type]


def test_the_relay_built_from_its_settings_queues_a_new_forum_post(tmp_path: Path) -> None:
    collections = tmp_path / "collections.toml"
    collections.write_text(
        f'[[collection]]\nname = "docs"\ntitle = "Docs"\ndiscord_channels = ["{FORUM_ID}"]\n'
        'auto_answer = "new_threads"\n',
        encoding="utf-8",
    )
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    queue = SignallingQueue()
    with FakeDiscordApi() as api:
        gateway = FakeGateway(forum_guild([FORUM_ID]), bot_user=api.bot_user(), token=api.bot_token)
        with gateway:
            settings = load_relay_settings({
                "DISCORD_APPLICATION_ID": APPLICATION_ID,
                "DISCORD_BOT_TOKEN": api.bot_token, "DISCORD_API_BASE_URL": api.base_url,
                "DISCORD_GATEWAY_URL": gateway.url, "DOCSBOT_COLLECTIONS_FILE": str(collections),
                "DOCSBOT_DATA_DIR": str(tmp_path),
            })  # fmt: skip
            running = start_relay(settings, queue)
            try:
                gateway.wait_until(lambda log: log.identifies)
                thread_id = snowflake()
                gateway.dispatch("THREAD_CREATE", thread_payload(thread_id, FORUM_ID, "How?", "1180000000000000005"))
                gateway.dispatch("MESSAGE_CREATE", message_payload(thread_id, thread_id, "How do I start?"))
                assert queue.queued.wait(timeout=30)
                (task,) = queue.tasks
                assert task.kind == "relay" and task.collection == "docs" and task.question == "How?\n\nHow do I start?"
                assert running.alive()
            finally:
                running.stop()
            assert not running.alive()
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def test_docsbot_relay_lists_its_settings_problems_as_a_json_line_and_exits(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(tmp_path)}
    done = subprocess.run(  # the real command, in a process of its own: it configures the root logger
        [sys.executable, "-m", "docsbot.cli.main", "relay"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    (line,) = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    assert line["severity"] == "CRITICAL" and "DISCORD_BOT_TOKEN is required" in line["problems"]


def test_without_the_message_content_intent_the_relay_stops_and_its_health_fails(tmp_path: Path) -> None:
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    with FakeDiscordApi() as api:
        gateway = FakeGateway(forum_guild([FORUM_ID]), bot_user=api.bot_user(), token=api.bot_token)
        gateway.message_content_enabled = False  # the developer portal's switch, left off
        with gateway:
            settings = load_relay_settings({
                "DISCORD_APPLICATION_ID": APPLICATION_ID, "DISCORD_BOT_TOKEN": api.bot_token,
                "DISCORD_API_BASE_URL": api.base_url, "DISCORD_GATEWAY_URL": gateway.url,
                "DOCSBOT_DATA_DIR": str(tmp_path),
            })  # fmt: skip
            running = start_relay(settings, SignallingQueue())
            try:
                gateway.wait_until(lambda log: log.identifies)
                assert running.stopped.wait(timeout=30)  # discord.py gives up: no reconnect can fix it
                assert call(health_app(running), "/healthz")[0].startswith("503")
            finally:
                running.stop()
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
