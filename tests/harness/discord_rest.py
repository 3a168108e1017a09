"""Fixtures and builders for tests that drive `DiscordRest` (the real `requests`) against the loopback Discord fake.

- `api`: a fresh `FakeDiscordApi` on 127.0.0.1, stopped after the test;
- `sleeps`: the waits the client asked for (it records them instead of sleeping: no test waits on the clock);
- `rest`: the client with the fake's bot token, its waits recorded in `sleeps`, closed after the test;
- `rest_client`: the same client with other options (a bound on `Retry-After`...); the caller closes it;
- `discord_message`: one message object in Discord's wire format, for `FakeDiscordApi.add_history`.

A test folder's conftest, or a test module, imports the fixtures it uses (`from tests.harness.discord_rest import
api, rest, sleeps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docsbot.discord.rest import DiscordRest
from tests.harness.fakes.discord_api import FakeDiscordApi

SENT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def discord_message(
    message_id: int, author: str, content: str, *, kind: int = 0, sent: datetime = SENT, **extra: Any
) -> dict[str, Any]:
    """A message as Discord sends it; its timestamp is `sent` plus the id's last three digits in seconds, so a
    later id is a later message, as with Discord's snowflakes."""
    timestamp = (sent + timedelta(seconds=message_id % 1000)).isoformat()
    return {"id": str(message_id), "type": kind, "content": content, "author": {"id": author},
            "timestamp": timestamp, "embeds": [], **extra}  # fmt: skip


def rest_client(api: FakeDiscordApi, sleeps: list[float], **options: Any) -> DiscordRest:
    """A `DiscordRest` on the fake with its bot token, recording its waits in `sleeps`; `options` go to it as is."""
    return DiscordRest(api.application_id, bot_token=api.bot_token, base_url=api.base_url, sleep=sleeps.append,
                       **options)  # fmt: skip


@pytest.fixture
def api() -> Iterator[FakeDiscordApi]:
    with FakeDiscordApi() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def rest(api: FakeDiscordApi, sleeps: list[float]) -> Iterator[DiscordRest]:
    client = rest_client(api, sleeps)
    yield client
    client.session.close()
