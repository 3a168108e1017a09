"""`docsbot serve` and `register-commands` against loopback Discord."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from typer.testing import CliRunner

from docsbot.cli.main import app
from docsbot.discord.commands import command_names
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import FORUM_ID, GUILD_ID, TestSigner
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def bot_env(tmp_path: Path, signer: TestSigner, discord: FakeDiscordApi) -> dict[str, str]:
    collections = tmp_path / "collections.toml"
    collections.write_text(
        f'[[collection]]\nname = "docs"\ntitle = "Redux"\ndiscord_channels = ["{FORUM_ID}"]\n', encoding="utf-8"
    )
    return {
        "DISCORD_PUBLIC_KEY": signer.public_key_hex,
        "DISCORD_APPLICATION_ID": signer.application_id,
        "DISCORD_BOT_TOKEN": "fake-bot-token",
        "DISCORD_API_BASE_URL": discord.base_url,
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_EMBEDDER": "hashing",
        "OPENAI_API_KEY": "",
    }


def test_register_commands_globally_and_per_guild(tmp_path: Path) -> None:
    signer = TestSigner()
    with FakeDiscordApi() as discord:
        env = bot_env(tmp_path, signer, discord)
        result = CliRunner().invoke(app, ["register-commands", "--guild", GUILD_ID], env=env)
        assert result.exit_code == 0, result.stderr
        assert {c["name"] for c in discord.guild_commands[GUILD_ID]} == set(command_names())
        result = CliRunner().invoke(app, ["register-commands"], env=env)
        assert result.exit_code == 0 and "globally" in result.stdout
        result = CliRunner().invoke(app, ["register-commands"], env={**env, "DISCORD_BOT_TOKEN": ""})
        assert result.exit_code == 2 and "DISCORD_BOT_TOKEN" in result.stderr
        result = CliRunner().invoke(app, ["serve"], env={**env, "DISCORD_PUBLIC_KEY": "nothex"})
        assert result.exit_code == 2 and "DISCORD_PUBLIC_KEY" in result.stderr


def test_serve_answers_signed_interactions(tmp_path: Path) -> None:
    signer = TestSigner()
    with FakeDiscordApi() as discord:
        env = {**os.environ, **bot_env(tmp_path, signer, discord)}
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "docsbot.cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{url}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "docsbot serve did not start"
                    time.sleep(0.2)
            body, headers = signer.signed(signer.ping())
            assert requests.post(f"{url}/interactions", data=body, headers=headers, timeout=5).json() == {"type": 1}
            body, headers = signer.signed(signer.slash_command("commands"))
            help_text = requests.post(f"{url}/interactions", data=body, headers=headers, timeout=5).json()
            assert "`docs` (Redux)" in help_text["data"]["content"]
            assert requests.post(f"{url}/interactions", data=body, timeout=5).status_code == 401
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
