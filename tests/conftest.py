"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

# Session fixtures for every module: the Docusaurus site, Google's Firestore emulator, the Cloud Tasks emulator.
from tests.harness.docusaurus_fixture import docusaurus_site  # noqa: F401
from tests.harness.fakes.openai_server import FakeOpenAIServer
from tests.harness.firestore_emulator import firestore_client, firestore_emulator  # noqa: F401
from tests.harness.recorder import recorder  # noqa: F401
from tests.harness.tasks_emulator import emulator, tasks_emulator  # noqa: F401


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A fresh OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    with FakeOpenAIServer(api_key="test-key") as server:
        yield server


@pytest.fixture
def openai_client(fake_openai: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    """The real `openai` client pointed at `fake_openai`, with two retries and a short timeout."""
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=2, timeout=10.0)
    yield client
    client.close()
