"""The learning loop end to end: a question asked through the real interactions handler (signed requests) and
answered by the real respond handler; a person's reply marked "Mark as solution" by the thread's author; the
thread solved; `docsbot export` (the real command, on the same store file) contains that solution, scrubbed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from docsbot.cli.main import app
from docsbot.discord.commands import MARK_SOLUTION_MENU
from docsbot.discord.components import custom_id
from docsbot.store.sqlite import SQLITE_FILE
from tests.bot.test_threads import respond_to
from tests.harness.bot_client import BotClient
from tests.harness.fakes.discord_signing import GUILD_ID, OTHER_USER_ID, THREAD_ID, snowflake

QUESTION = "My store never updates the component, mail me at grace.hopper@example.com"
HUMAN_FIX = "You mutate state in the reducer: return a new object instead. Call me on +1 650-253-0000 if stuck."


def export(data_dir: Path, fmt: str, out: Path) -> list[dict[str, Any]]:
    env = {"DOCSBOT_DATA_DIR": str(data_dir), "DOCSBOT_STATE": "sqlite", "DOCSBOT_COLLECTIONS_FILE": ""}
    result = CliRunner().invoke(app, ["export", "--collection", "docs", "--format", fmt, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "exported 1 of 1 threads" in result.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_a_marked_human_solution_solves_the_thread_and_is_exported(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    client = BotClient(data_dir / SQLITE_FILE)
    try:
        asked = client.command("ask", question=QUESTION)
        assert asked.type == 5
        discord = respond_to(client, "Check that your component is connected.")
        answer_id = discord.posted[-1]["id"]
        stored = client.store.list_messages(THREAD_ID)
        assert [(m.from_bot, m.outcome) for m in stored] == [(False, ""), (True, "answered")]
        # Someone votes "Not solved"; then a person's reply solves it and the author marks it.
        client.button(custom_id("failed", THREAD_ID), user=OTHER_USER_ID, on=answer_id)
        reply_id = snowflake()
        marked = client.message_command(MARK_SOLUTION_MENU, message=HUMAN_FIX, author=OTHER_USER_ID, target_id=reply_id)
        assert marked.type == 4 and not marked.private
        assert f"https://discord.com/channels/{GUILD_ID}/{THREAD_ID}/{reply_id}" in marked.content
        record = client.store.get_thread(THREAD_ID)
        assert record is not None and record.solved
    finally:
        client.close()

    (example,) = export(data_dir, "chat", tmp_path / "chat.jsonl")
    roles = [m["role"] for m in example["messages"]]
    assert roles == ["system", "user", "assistant"]
    user, assistant = example["messages"][1]["content"], example["messages"][2]["content"]
    assert user.startswith("My store never updates the component") and "grace.hopper" not in user
    assert assistant.startswith("You mutate state in the reducer") and "650" not in assistant
    assert "<phone-" in assistant and "<email-" in user

    (item,) = export(data_dir, "eval", tmp_path / "eval.jsonl")
    assert set(item) == {"id", "question", "relevant", "answerable", "notes"}
    assert item["relevant"] == [] and item["answerable"] is False  # a person solved it: the docs did not
    assert "grace.hopper" not in str(item["question"]) and "a person's reply" in str(item["notes"])
