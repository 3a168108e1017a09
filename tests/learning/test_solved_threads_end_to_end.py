"""Issue 14's first "Must show", end to end: a question asked through the real interactions handler (signed
requests) and answered by the real respond handler from the real index; a person's reply marked "Mark as
solution"; the thread solved; `docsbot export` contains it; `docsbot ingest` (the real command, the collection's
`threads` source, the one refresh pipeline) indexes it; the same question asked again in another thread is
answered citing the solved thread's Discord link, labelled a community answer. Then `/unsolve`, the same
refresh, and the thread is gone from the index and from the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from docsbot.app.bot import Collections
from docsbot.bot.respond import RespondHandler
from docsbot.cli.demo import demo_source
from docsbot.cli.main import app
from docsbot.discord.commands import MARK_SOLUTION_MENU
from docsbot.settings.config import load_settings
from docsbot.store.sqlite import SQLITE_FILE
from tests.bot.test_threads import RecordingDiscord
from tests.harness.bot_client import BotClient, thread
from tests.harness.fakes.discord_signing import GUILD_ID, OTHER_USER_ID, THREAD_ID, USER_ID, snowflake

QUESTION = "Why does my flutter_redux StoreConnector widget never rebuild? Mail me at grace.hopper@example.com"
HUMAN_FIX = (
    "Your StoreConnector converter builds a new ViewModel every time without equality, and distinct is on: "
    "implement == and hashCode on the ViewModel so the StoreConnector widget rebuilds when the state changes."
)
SECOND_THREAD = "1180000000000000077"
SECOND_ASKER = "1180000000000000078"
TITLE = "StoreConnector never rebuilds"
THREAD_LINK = f"https://discord.com/channels/{GUILD_ID}/{THREAD_ID}"


def environment(tmp_path: Path) -> dict[str, str]:
    """A data directory whose collection `docs` has the Redux sample folder and opts into the threads source."""
    sample = demo_source()
    collections = tmp_path / "collections.toml"
    collections.write_text(
        f"""
[[collection]]
name = "docs"
title = "Redux"

[[collection.source]]
kind = "markdown_folder"
name = "docs"
path = "{sample.path.as_posix()}"
url_map = "{Path(str(sample.url_map)).as_posix()}"

[[collection.source]]
kind = "threads"
""",
        encoding="utf-8",
    )
    return {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_STATE": "sqlite",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_CHAT_MODEL": "none",
        "DOCSBOT_RERANKER": "none",
    }


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def answer_queued(client: BotClient, env: dict[str, str], done: int) -> list[dict[str, Any]]:
    """Answer the tasks queued after the first `done` with the real respond handler on the real index; the
    messages it posted. The index is released afterwards, so `docsbot ingest` can open it."""
    services = Collections(load_settings(env))
    discord = RecordingDiscord()
    responder = RespondHandler(client.store, discord, services, clock=client.clock)
    try:
        for task in client.queue.tasks[done:]:
            assert responder.handle(task.to_json()).outcome == "answered"
    finally:
        services.searcher("docs").index.close()
    return discord.posted


def cited(posted: list[dict[str, Any]]) -> str:
    """The "Sources" embed of an answer: its citation lines."""
    return "\n".join(e["description"] for m in posted for e in m.get("embeds", []) if e.get("title") == "Sources")


def test_a_solved_thread_answers_the_same_question_again_until_it_is_unsolved(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run(env, "ingest", "--collection", "docs")  # the docs; the threads source has nothing yet
    client = BotClient(Path(env["DOCSBOT_DATA_DIR"]) / SQLITE_FILE)
    try:
        # 1. Asked in a forum post; the docs do not answer it (no thread is cited).
        assert client.command("ask", question=QUESTION, channel=thread(name=TITLE)).type == 5
        first = answer_queued(client, env, 0)
        assert THREAD_LINK not in json.dumps(first)
        # 2. A person's reply marked as the solution by the thread's author: the thread is solved.
        reply_id = snowflake()
        marked = client.message_command(MARK_SOLUTION_MENU, message=HUMAN_FIX, author=OTHER_USER_ID, target_id=reply_id)
        assert marked.type == 4 and f"{THREAD_LINK}/{reply_id}" in marked.content
        record = client.store.get_thread(THREAD_ID)
        assert record is not None and record.solved

        # 3. The export contains it, scrubbed.
        (example,) = [
            json.loads(line)
            for line in run(env, "export", "--collection", "docs", "--format", "chat").splitlines()
            if line.startswith("{")
        ]
        assert example["messages"][-1] == {"role": "assistant", "content": HUMAN_FIX}
        assert "grace.hopper" not in json.dumps(example)

        # 4. The refresh indexes the thread: one new community page.
        refreshed = run(env, "ingest", "--collection", "docs")
        assert "ingest docs/threads" in refreshed and "1 (1 new, 0 changed, 0 unchanged)" in refreshed

        # 5. The same question, asked by someone else in another forum post: answered citing the thread.
        asked = len(client.queue.tasks)
        client.command("ask", question=QUESTION, channel=thread(SECOND_THREAD, owner=SECOND_ASKER), user=SECOND_ASKER)
        again = answer_queued(client, env, asked)
        sources = cited(again)
        first_line = sources.splitlines()[0]
        assert first_line == f"[1] [Community answer › {TITLE}](<{THREAD_LINK}>)", sources
        text = again[0]["content"]
        assert "solved community threads" in text and "implement == and hashCode on the ViewModel" in text
        assert "grace.hopper" not in json.dumps(again)  # the asker's address was scrubbed before indexing

        # 6. /unsolve, the same refresh: the thread leaves the index, and the next answer does not cite it.
        unsolved = client.command("unsolve", user=USER_ID)
        assert unsolved.status == 200
        record = client.store.get_thread(THREAD_ID)
        assert record is not None and not record.solved
        run(env, "ingest", "--collection", "docs")
        asked = len(client.queue.tasks)
        client.command("ask", question=QUESTION, channel=thread(SECOND_THREAD, owner=SECOND_ASKER), user=SECOND_ASKER)
        last = answer_queued(client, env, asked)
        assert THREAD_LINK not in json.dumps(last) and "Community answer" not in json.dumps(last)
    finally:
        client.close()
