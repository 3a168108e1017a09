"""The bot end to end with real parts, all on 127.0.0.1: both functions served by functions-framework,
Google's Firestore emulator, the Cloud Tasks emulator dispatching to the respond function, a Discord API
server recording the edits, the OpenAI-compatible server, and interactions signed as Discord signs them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from docsbot.cli.demo import demo_source
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.refresh.pipeline import ingest_folder
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import FORUM_ID, TestSigner, snowflake
from tests.harness.fakes.openai_server import FakeOpenAIServer
from tests.harness.functions_server import serve_function
from tests.harness.tasks_emulator import TasksEmulator

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    interactions_url: str
    signer: TestSigner
    discord: FakeDiscordApi
    openai: FakeOpenAIServer

    def post(self, payload: dict[str, Any]) -> requests.Response:
        body, headers = self.signer.signed(payload)
        headers["Content-Type"] = "application/json"
        return requests.post(self.interactions_url, data=body, headers=headers, timeout=10)

    def wait_for_answer(self, token: str, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            original = self.discord.messages.get(token)
            if original is not None and original.original is not None:
                return original.original
            time.sleep(0.1)
        raise AssertionError("the deferred message was never edited")


@pytest.fixture
def deployment(
    tmp_path: Path,
    firestore_emulator: str,
    tasks_emulator: TasksEmulator,
    fake_openai: FakeOpenAIServer,
) -> Iterator[Deployment]:
    project = f"docsbot-e2e-{uuid.uuid4().hex[:8]}"  # a fresh database per test
    data_dir = tmp_path / "data"
    index = EdgeIndex(data_dir / "index", "docs")
    ingest_folder(index, HashingEmbedder(), Bm25Encoder(), demo_source())
    index.close()
    collections = tmp_path / "collections.toml"
    collections.write_text(
        f'[[collection]]\nname = "docs"\ntitle = "Redux"\ndiscord_channels = ["{FORUM_ID}"]\n', encoding="utf-8"
    )
    signer = TestSigner()
    with FakeDiscordApi() as discord:
        common = {
            "DISCORD_PUBLIC_KEY": signer.public_key_hex,
            "DISCORD_APPLICATION_ID": signer.application_id,
            "DISCORD_API_BASE_URL": discord.base_url,
            "DOCSBOT_STATE": "firestore",
            "GOOGLE_CLOUD_PROJECT": project,
            "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        }
        respond_env = {
            **common,
            "DOCSBOT_DATA_DIR": str(data_dir),
            "DOCSBOT_EMBEDDER": "hashing",
            "DOCSBOT_COLLECTIONS_FILE": str(collections),
            "DOCSBOT_CHAT_MODEL": "gpt-4o-mini",
            "DOCSBOT_CHAT_BASE_URL": fake_openai.base_url,
            "DOCSBOT_CHAT_API_KEY": "test-key",
        }
        with serve_function(ROOT / "functions" / "respond" / "main.py", "respond", respond_env) as respond_url:
            interactions_env = {
                **common,
                "DOCSBOT_QUEUE": "cloudtasks",
                "DOCSBOT_COLLECTIONS_FILE": str(collections),
                "DOCSBOT_TASKS_QUEUE": tasks_emulator.queue_path,
                "DOCSBOT_RESPOND_URL": respond_url,
                "CLOUD_TASKS_EMULATOR_HOST": tasks_emulator.host_port,
            }
            with serve_function(
                ROOT / "functions" / "interactions" / "main.py", "interactions", interactions_env
            ) as interactions_url:
                yield Deployment(interactions_url, signer, discord, fake_openai)


def test_ask_then_follow_up_through_the_deployed_functions(deployment: Deployment) -> None:
    thread_id = snowflake()
    first = deployment.signer.slash_command(
        "ask", {"question": "why doesn't my component re-render after dispatch?"}, channel_id=thread_id
    )
    response = deployment.post(first)
    assert response.status_code == 200 and response.json() == {"type": 5}
    answer = deployment.wait_for_answer(first["token"])
    assert "The documentation covers this [1]." in answer["content"]
    assert answer["embeds"] and answer["embeds"][0]["description"].startswith("[1] [")
    assert [b["label"] for b in answer["components"][0]["components"]] == ["Solved", "Not solved", "Follow up"]

    follow_up = deployment.signer.slash_command("ask", {"question": "and with hooks?"}, channel_id=thread_id)
    assert deployment.post(follow_up).json() == {"type": 5}
    deployment.wait_for_answer(follow_up["token"])
    prompt = deployment.openai.requests_to("/v1/chat/completions")[-1].body["messages"]
    assert prompt[2] == {"role": "user", "content": "why doesn't my component re-render after dispatch?"}
    assert prompt[-1]["content"].startswith("and with hooks?")


def test_bad_requests_get_4xx_from_the_deployed_function(deployment: Deployment) -> None:
    payload = deployment.signer.slash_command("ask", {"question": "hi"})
    body, headers = deployment.signer.signed(payload)
    headers["X-Signature-Ed25519"] = "11" * 64
    assert requests.post(deployment.interactions_url, data=body, headers=headers, timeout=10).status_code == 401
    assert requests.post(deployment.interactions_url, data=b"{}", timeout=10).status_code == 401
    big = json.dumps({"pad": "x" * 200_000}).encode()
    assert (
        requests.post(
            deployment.interactions_url, data=big, headers=deployment.signer.sign(big), timeout=10
        ).status_code
        == 413
    )
    time.sleep(0.5)
    assert deployment.discord.messages == {}
