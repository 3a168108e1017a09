"""The weekly digest: one Discord message within Discord's limits that pings nobody, the HTML report attached
through a real multipart upload to the loopback Discord, conversations captured first; as `docsbot digest` and as
the Cloud Run job's entry point (settings from the environment, every problem listed), with a chat model's titles
for the clusters it shows."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docsbot.app.digest import job_main
from docsbot.cli.common import CliDeps
from docsbot.cli.main import app
from docsbot.learning.digest import MAX_CONTENT, digest_message
from docsbot.learning.gaps import AskedQuestion, Cluster, GapsReport, NearDoc
from docsbot.store.model import MessageRecord, NewThread, ThreadUpdate
from docsbot.store.sqlite import SqliteStore
from tests.harness.discord_rest import discord_message
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.openai_server import FakeOpenAIServer
from tests.learning.conftest import SIMULATED_AT

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
STAFF = "1190000000000000900"
THREAD = "1190000000000000042"


def cluster(n: int, text: str) -> Cluster:
    questions = [AskedQuestion(f"t{n}-{i}", text, "not_found", NOW) for i in range(n % 4 + 1)]
    return Cluster((f"topic{n}", "words"), questions, 0.31, [NearDoc("Page", f"https://docs.example/{n}", 0.42)])


def test_many_long_clusters_fit_one_message_cut_between_clusters_and_nobody_is_pinged() -> None:
    hostile = "@everyone <@1180000000000000005> **bold** " + "why does it break " * 40
    report = GapsReport("docs", NOW, NOW - timedelta(days=7), 90, [cluster(n, hostile) for n in range(30)], [], 0.6)
    digest = digest_message(report, top=25, attachment="gaps-docs-2026-03-01.html")
    content = digest.payload["content"]
    assert len(content) <= MAX_CONTENT and 1 <= digest.clusters_shown < 25
    assert digest.payload["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in content and "<@1180000000000000005>" not in content
    assert f"… and {30 - digest.clusters_shown} more clusters in the report." in content
    assert content.endswith("Full report attached: gaps-docs-2026-03-01.html")
    assert content.startswith("**Documentation gaps: docs**, the last 7 days:")
    assert content.count("nearest doc: Page <https://docs.example/") == digest.clusters_shown  # no link preview
    assert content.count("\n> ") == digest.clusters_shown  # every shown cluster is whole


def test_a_week_without_gaps_says_so_briefly() -> None:
    digest = digest_message(GapsReport("docs", NOW, NOW - timedelta(days=7), 12, [], [], None))
    assert digest.payload["content"].startswith("**Documentation gaps: docs**, the last 7 days: none.")
    assert digest.clusters_shown == 0 and digest.payload["allowed_mentions"] == {"parse": []}


def discord_thread(data_dir: Path, api: FakeDiscordApi) -> None:
    """A real Discord thread in the store, closed after a person answered, with its history on the fake."""
    store = SqliteStore(data_dir / "docsbot.sqlite3")
    try:
        store.ensure_thread(NewThread(THREAD, "demo", "1180000000000000005", title="redux on a fridge?"), NOW)
        store.add_message(
            MessageRecord(
                "1200000000000000001",
                THREAD,
                "1180000000000000005",
                "can redux run on my fridge?",
                False,
                NOW,
                asked_bot=True,
            )
        )
        store.update_thread(THREAD, ThreadUpdate(open=False), NOW)
    finally:
        store.close()
    api.add_history(THREAD, [
        discord_message(1200000000000000001, "1180000000000000005", "can redux run on my fridge?"),
        discord_message(1200000000000000002, "1180000000000000006", "only if it runs node; ping me at bob@example.com"),
    ])  # fmt: skip


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """The job installs its JSON handler on the root logger (on pytest's captured stdout): put it back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level


def discord_env(api: FakeDiscordApi) -> dict[str, str]:
    return {"DISCORD_APPLICATION_ID": api.application_id, "DISCORD_BOT_TOKEN": api.bot_token,
            "DISCORD_API_BASE_URL": api.base_url}  # fmt: skip


def test_docsbot_digest_captures_then_posts_the_top_gaps_with_the_report_attached(
    simulated: dict[str, str], api: FakeDiscordApi
) -> None:
    obj = CliDeps(clock=lambda: NOW)
    discord_thread(Path(simulated["DOCSBOT_DATA_DIR"]), api)
    env = {**simulated, **discord_env(api)}
    args = ["digest", "--collection", "demo", "--channel", STAFF, "--since", "1d"]
    result = CliRunner().invoke(app, args, env=env, obj=obj)
    assert result.exit_code == 0, result.output
    assert "digest posted: 2 gaps" in result.stdout and "1 stored" in result.stdout

    [posted] = api.channel_messages(STAFF)
    content = posted["content"]
    assert content.startswith("**Documentation gaps: demo**, the last 1 day: 2 questions the docs failed")
    assert "how do I use redux in a flutter app?" in content and len(content) <= MAX_CONTENT
    assert api.unguarded_messages() == []
    [(channel, name, html)] = api.uploads
    assert (channel, name) == (STAFF, "gaps-demo-2026-03-01.html")
    assert b"<!doctype html>" in html and b"how do I use redux in a flutter app?" in html

    store = SqliteStore(Path(simulated["DOCSBOT_DATA_DIR"]) / "docsbot.sqlite3")
    try:
        conversation = store.get_conversation(THREAD)
    finally:
        store.close()
    assert conversation is not None and [m.role for m in conversation.messages] == ["question", "human_reply"]
    assert "bob@example.com" not in conversation.messages[1].content


def test_the_job_lists_every_bad_setting_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code = job_main({"DOCSBOT_DIGEST_SINCE": "weekly", "DOCSBOT_DIGEST_CHANNEL_ID": "#staff"}, now=NOW)
    assert code == 2
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    problems = " ".join(line["problems"])
    for name in ("DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN", "DOCSBOT_DIGEST_COLLECTION",
                 "DOCSBOT_DIGEST_CHANNEL_ID", "DOCSBOT_DIGEST_SINCE"):  # fmt: skip
        assert name in problems, name


def test_the_job_posts_the_digest_from_its_environment(simulated: dict[str, str], api: FakeDiscordApi) -> None:
    env = {**simulated, **discord_env(api), "DOCSBOT_DIGEST_COLLECTION": "demo", "DOCSBOT_DIGEST_CHANNEL_ID": STAFF}
    assert job_main(env, now=NOW + timedelta(hours=1)) == 0
    [posted] = api.channel_messages(STAFF)
    assert "the last 7 days: 2 questions the docs failed" in posted["content"]
    assert [name for _, name, _ in api.uploads] == ["gaps-demo-2026-03-01.html"]


def test_with_a_chat_model_the_digest_shows_the_model_s_titles_for_its_top_clusters(
    simulated: dict[str, str], api: FakeDiscordApi, fake_openai: FakeOpenAIServer
) -> None:
    reply = {"title": "Redux outside the browser", "change": "add", "page": "Redux elsewhere",
             "proposal": "Say where Redux runs [S1]."}  # fmt: skip
    fake_openai.chat_responder = lambda body: json.dumps(reply)
    env = {**simulated, **discord_env(api), "DOCSBOT_DIGEST_COLLECTION": "demo", "DOCSBOT_DIGEST_CHANNEL_ID": STAFF,
           "DOCSBOT_DIGEST_TOP": "1", "DOCSBOT_CHAT_MODEL": "gpt-4.1-mini", "OPENAI_API_KEY": "test-key",
           "DOCSBOT_CHAT_BASE_URL": fake_openai.base_url}  # fmt: skip
    assert job_main(env, now=SIMULATED_AT + timedelta(hours=1)) == 0
    # Two gap clusters; the model is asked about the one the message shows (DOCSBOT_DIGEST_TOP), no more.
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1
    [posted] = api.channel_messages(STAFF)
    assert "**1. Redux outside the browser**" in posted["content"]
    [(_, _, html)] = api.uploads
    assert b"Add a page: Redux elsewhere. Say where Redux runs [S1]." in html
