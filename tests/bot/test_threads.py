"""Buttons under answers, the follow-up modal and thread housekeeping, through the in-process test client."""

from __future__ import annotations

from pathlib import Path

from docsbot.bot.interactions import Limits
from docsbot.discord.components import custom_id, followup_modal_id
from tests.harness.bot_client import BotClient, private_text, text_channel
from tests.harness.fakes.discord_signing import OTHER_USER_ID, STAFF_ROLE_ID, THREAD_ID, USER_ID

# --- buttons and the follow-up modal ------------------------------------------------------------------------------


def test_votes_update_the_buttons_with_the_counts(client: BotClient) -> None:
    key = client.answered()
    reply = client.button(custom_id("solved", key), user=OTHER_USER_ID)
    assert reply.type == 7
    labels = [b["label"] for b in reply.data["components"][0]["components"]]
    assert labels == ["Solved · 1", "Not solved", "Follow up"]
    stored = client.store.get_thread(key)
    assert stored is not None and stored.solved_votes == 1 and not stored.solved
    client.button(custom_id("solved", key), user=USER_ID)  # the author's vote settles it
    stored = client.store.get_thread(key)
    assert stored is not None and stored.solved


def test_a_vote_on_a_forgotten_conversation_is_answered_privately(client: BotClient) -> None:
    assert "no longer known" in private_text(client.button(custom_id("failed", "1180000000000000055")))


def test_the_follow_up_button_opens_the_modal_and_its_answer_continues_the_conversation(client: BotClient) -> None:
    key = client.answered("1180000000000000056", author="1180000000000000057")
    form = client.button(custom_id("followup", key), channel=text_channel())
    assert form.type == 9 and form.data["custom_id"] == followup_modal_id(key) == f"followup:{key}"
    [text_input] = form.data["components"][0]["components"]
    assert (text_input["custom_id"], text_input["max_length"]) == ("question", 1500)
    submitted = client.modal(followup_modal_id(key), {"question": "what about thunks?"}, channel=text_channel())
    assert submitted.body == {"type": 5}
    (task,) = client.queue.tasks
    assert (task.kind, task.question, task.thread_id) == ("followup", "what about thunks?", key)
    assert (task.author_id, task.collection, task.private) == ("1180000000000000057", "docs", False)


def test_unknown_buttons_and_modals_are_refused(client: BotClient) -> None:
    assert client.button("pick-a-colour").status == 400
    assert client.button("vote:maybe:123").status == 400
    assert client.modal("vote:solved:123", {"question": "q"}).status == 400
    assert client.modal("survey", {"question": "q"}).status == 400
    assert client.queue.tasks == []


# --- thread housekeeping ---------------------------------------------------------------------------------------------


def test_housekeeping_is_for_the_author_or_staff_in_threads(tmp_path: Path) -> None:
    client = BotClient(tmp_path / "staff.sqlite3", limits=Limits(staff_roles=frozenset({STAFF_ROLE_ID})))
    key = client.answered()
    refused = client.command("solve", user=OTHER_USER_ID)
    assert "Only the person who started this thread" in private_text(refused)
    solved = client.command("solve")
    assert solved.type == 4 and not solved.private and "solved" in solved.content
    closed = client.command("close", user=OTHER_USER_ID, roles=[STAFF_ROLE_ID])
    assert "Thread closed" in private_text(closed)  # private: a message in the thread would reopen it
    assert client.archiver.calls == [(key, {"archived": True})]
    status = private_text(client.command("status"))
    assert "`docs`" in status and "solved" in status and "closed" in status
    reopened = client.command("open")
    assert reopened.content == "Thread reopened." and not reopened.private
    assert "works in threads (forum posts) only" in private_text(client.command("close", channel=text_channel()))
    client.close()


def test_closing_without_a_bot_token_or_permission_is_explained(tmp_path: Path) -> None:
    no_token = BotClient(tmp_path / "a.sqlite3", archiver=False)
    assert "needs the bot token" in private_text(no_token.command("close"))
    failing = BotClient(tmp_path / "b.sqlite3")
    failing.archiver.fail_with = PermissionError("403 Missing Permissions")
    assert "Manage Threads permission" in private_text(failing.command("close"))
    stored = failing.store.get_thread(THREAD_ID)
    assert stored is not None and stored.open
    no_token.close()
    failing.close()


def test_status_before_any_answer(client: BotClient) -> None:
    assert "haven't answered anything" in private_text(client.command("status"))
