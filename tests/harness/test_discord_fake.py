"""Self-test of the harness: the loopback Discord API refuses what Discord would refuse (marked `harness`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docsbot.discord.rest import DiscordError, DiscordRest
from tests.harness.fakes.discord_api import FakeDiscordApi

pytestmark = pytest.mark.harness


@pytest.fixture
def api() -> Iterator[FakeDiscordApi]:
    with FakeDiscordApi() as fake:
        yield fake


@pytest.fixture
def rest(api: FakeDiscordApi) -> Iterator[DiscordRest]:
    client = DiscordRest(api.application_id, bot_token=api.bot_token, base_url=api.base_url, timeout=5)
    yield client
    client.session.close()


def test_fake_refuses_commands_discord_would_refuse(api: FakeDiscordApi, rest: DiscordRest) -> None:
    with pytest.raises(DiscordError) as caught:
        rest.bulk_overwrite_commands([{"type": 1, "name": "Ask", "description": "d"}])
    assert (caught.value.status, caught.value.code) == (400, 50035)
