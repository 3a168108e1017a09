"""DOCSBOT_STATE and its companions are parsed once (docsbot.settings.store), so every entry point agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from docsbot.settings.bot import BotConfigError, load_bot_settings
from docsbot.settings.config import ConfigError
from docsbot.settings.refresh import load_ingest_settings, load_job_settings, load_store_settings
from docsbot.settings.store import StoreSettings, parse_store_settings

BOT = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "123"}
INGEST = {"DOCSBOT_INGEST_TOKEN": "t" * 32}


def test_every_entry_point_reads_the_same_store(tmp_path: Path) -> None:
    env = {"DOCSBOT_STATE": " Firestore ", "DOCSBOT_DATA_DIR": str(tmp_path), "GOOGLE_CLOUD_PROJECT": "p1"}
    expected = StoreSettings(kind="firestore", data_dir=tmp_path, project="p1")
    assert load_store_settings(env) == expected
    assert load_job_settings(env).store == expected
    assert load_ingest_settings({**env, **INGEST}).store == expected
    bot = load_bot_settings({**env, **BOT})
    assert bot.store == expected and (bot.state, bot.data_dir, bot.project) == ("firestore", tmp_path, "p1")


def test_sqlite_is_the_default(tmp_path: Path) -> None:
    problems: list[str] = []
    assert parse_store_settings({"DOCSBOT_DATA_DIR": str(tmp_path)}, problems) == StoreSettings(
        kind="sqlite", data_dir=tmp_path, project=None
    )
    assert problems == []


def test_store_problems_are_listed_with_every_other_problem() -> None:
    bad = {"DOCSBOT_STATE": "postgres", "FIRESTORE_EMULATOR_HOST": "nonsense"}
    with pytest.raises(BotConfigError) as bot_error:
        load_bot_settings({**bad, "DOCSBOT_QUEUE": "carrier-pigeon"})
    assert "DOCSBOT_STATE: sqlite or firestore, got 'postgres'" in str(bot_error.value)
    assert "DISCORD_PUBLIC_KEY" in str(bot_error.value) and "DOCSBOT_QUEUE" in str(bot_error.value)
    with pytest.raises(ConfigError) as job_error:
        load_job_settings({**bad, "CLOUD_RUN_TASK_COUNT": "0"})
    assert "DOCSBOT_STATE" in str(job_error.value) and "CLOUD_RUN_TASK_COUNT" in str(job_error.value)
    with pytest.raises(ConfigError, match="DOCSBOT_STATE"):
        load_store_settings(bad)


def test_a_malformed_emulator_host_is_a_problem_only_for_firestore() -> None:
    problems: list[str] = []
    parse_store_settings({"DOCSBOT_STATE": "firestore", "FIRESTORE_EMULATOR_HOST": "localhost"}, problems)
    assert problems == ["FIRESTORE_EMULATOR_HOST: host:port expected, got 'localhost'"]
    problems.clear()
    parse_store_settings({"DOCSBOT_STATE": "firestore", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"}, problems)
    parse_store_settings({"DOCSBOT_STATE": "sqlite", "FIRESTORE_EMULATOR_HOST": "localhost"}, problems)
    assert problems == []
