"""The bot's settings: the server allow-list and the default collection, validated at start-up with every
other problem, and handed to the interactions handler by the composition root."""

from __future__ import annotations

from pathlib import Path

import pytest

from docsbot.app.bot import build_interactions
from docsbot.settings.bot import BotConfigError, load_bot_settings
from tests.harness.bot_client import RecordingQueue

BOT = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "123"}


def test_the_allow_list_is_read_and_reaches_the_handler(tmp_path: Path) -> None:
    env = {**BOT, "DOCSBOT_DATA_DIR": str(tmp_path), "DOCSBOT_ALLOWED_GUILDS": " 111, 222 ,,"}
    settings = load_bot_settings(env)
    assert settings.allowed_guilds == frozenset({"111", "222"})
    handler = build_interactions(settings, queue=RecordingQueue())
    assert handler.limits.allowed_guilds == frozenset({"111", "222"})


def test_no_allow_list_means_every_server(tmp_path: Path) -> None:
    assert load_bot_settings({**BOT, "DOCSBOT_DATA_DIR": str(tmp_path)}).allowed_guilds is None


def test_bad_server_ids_and_default_collection_are_listed_with_every_other_problem() -> None:
    env = {"DOCSBOT_ALLOWED_GUILDS": "111,my-server", "DOCSBOT_DEFAULT_COLLECTION": "Redux Docs"}
    with pytest.raises(BotConfigError) as error:
        load_bot_settings(env)
    message = str(error.value)
    assert "DOCSBOT_ALLOWED_GUILDS: server ids (digits, comma-separated), got 'my-server'" in message
    assert "DOCSBOT_DEFAULT_COLLECTION" in message and "DISCORD_PUBLIC_KEY" in message
