"""Fixtures for the bot's handlers: `client`, the in-process interactions test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.bot_client import BotClient


@pytest.fixture
def client(tmp_path: Path) -> Iterator[BotClient]:
    """A `BotClient` with one collection, `docs`, mapped to the forum the default thread is in."""
    bot_client = BotClient(tmp_path / "state.sqlite3")
    yield bot_client
    bot_client.close()
