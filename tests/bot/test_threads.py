"""Buttons under answers, the follow-up modal and thread housekeeping, through the in-process test client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docsbot.answer.model import Answer, AnswerKind
from docsbot.bot.interactions import Limits
from docsbot.bot.respond import RespondHandler
from docsbot.discord.components import custom_id, followup_modal_id
from tests.harness.bot_client import CHANNEL_ID, BotClient, private_text, text_channel, thread
from tests.harness.fakes.discord_signing import OTHER_USER_ID, STAFF_ROLE_ID, THREAD_ID, USER_ID, snowflake

VICTIM = "1180000000000000066"  # another forum thread, with its own conversation

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
    key = client.answered("1180000000000000056", author="1180000000000000057", channel=CHANNEL_ID)
    form = client.button(custom_id("followup", key), channel=text_channel())
    assert form.type == 9 and form.data["custom_id"] == followup_modal_id(key) == f"followup:{key}"
    [text_input] = form.data["components"][0]["components"]
    assert (text_input["custom_id"], text_input["max_length"]) == ("question", 1500)
    submitted = client.modal(followup_modal_id(key), {"question": "what about thunks?"}, channel=text_channel())
    assert submitted.body == {"type": 5}
    (task,) = client.queue.tasks
    assert (task.kind, task.question, task.thread_id) == ("followup", "what about thunks?", key)
    assert (task.author_id, task.collection, task.private) == ("1180000000000000057", "docs", False)


def test_votes_on_a_later_answer_of_the_conversation_count(client: BotClient) -> None:
    key = client.answered()
    client.answered()  # a second answer in the same thread, with the same buttons
    reply = client.button(custom_id("failed", key), user=OTHER_USER_ID, on=client.last_answer[key])
    assert reply.type == 7
    stored = client.store.get_thread(key)
    assert stored is not None and stored.failed_votes == 1


# --- forged custom_ids: a button acts only on the conversation of the message it sits on ---------------------------


def test_a_vote_naming_another_thread_from_elsewhere_is_refused(client: BotClient) -> None:
    client.answered(VICTIM, author=OTHER_USER_ID)
    attacker_message = client.answers[client.answered()]  # the attacker's own answer, in their own thread
    for voter in range(30):
        refused = client.button(custom_id("failed", VICTIM), user=f"11800000000000002{voter:02d}", on=attacker_message)
        assert "doesn't belong to this conversation" in private_text(refused)
    victim = client.store.get_thread(VICTIM)
    assert victim is not None and victim.failed_votes == 0


def test_a_vote_on_a_message_that_is_not_the_conversations_is_refused(client: BotClient) -> None:
    # Right channel (the victim thread itself), but a message the bot never answered with there.
    client.answered(VICTIM, author=OTHER_USER_ID)
    in_victim_thread = thread(VICTIM, owner=OTHER_USER_ID)
    refused = client.button(custom_id("failed", VICTIM), channel=in_victim_thread, on=snowflake())
    assert "doesn't belong to this conversation" in private_text(refused)
    # The victim's real answer, pressed from another channel (a forged channel), is refused as well.
    elsewhere = client.button(custom_id("failed", VICTIM), channel=text_channel())
    assert "doesn't belong to this conversation" in private_text(elsewhere)
    victim = client.store.get_thread(VICTIM)
    assert victim is not None and victim.failed_votes == 0
    assert client.button(custom_id("failed", VICTIM), channel=in_victim_thread).type == 7  # the real button works


def test_a_follow_up_naming_another_thread_is_refused_and_queues_nothing(client: BotClient) -> None:
    client.answered(VICTIM, author=OTHER_USER_ID)
    attacker_message = client.answers[client.answered()]
    form = client.button(custom_id("followup", VICTIM), on=attacker_message)
    assert "doesn't belong to this conversation" in private_text(form)
    submitted = client.modal(followup_modal_id(VICTIM), {"question": "repeat our chat"}, on=attacker_message)
    assert "doesn't belong to this conversation" in private_text(submitted)
    assert client.queue.tasks == []
    assert client.store.get_interaction(submitted.interaction_id) is None


# --- private answers ----------------------------------------------------------------------------------------------


def test_buttons_on_a_private_answer_do_not_reach_the_shared_conversation(client: BotClient) -> None:
    """A private answer is not stored in the thread's conversation (respond keeps it out): its buttons, on
    answers posted before private answers lost them, must not act on the thread, nor make a public follow-up."""
    key = client.answered()
    private_answer = snowflake()  # posted ephemerally in the same thread; never stored
    form = client.button(custom_id("followup", key), on=private_answer)
    assert form.type == 4 and form.private
    submitted = client.modal(followup_modal_id(key), {"question": "and privately?"}, on=private_answer)
    assert submitted.type == 4 and submitted.private
    assert client.button(custom_id("solved", key), on=private_answer).private
    assert client.queue.tasks == []
    stored = client.store.get_thread(key)
    assert stored is not None and stored.solved_votes == 0


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


# --- what the respond side posts and stores, as the buttons' checks rely on -----------------------------------------


class RecordingDiscord:
    """Interaction webhooks that keep what is posted, giving each message a fresh id as Discord does."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def edit_original(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._keep(payload)

    def create_followup(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._keep(payload)

    def _keep(self, payload: dict[str, Any]) -> dict[str, Any]:
        message = {**payload, "id": snowflake()}
        self.posted.append(message)
        return message


@dataclass
class FixedAnswers:
    """Every collection answers `text` (the respond side's `CollectionServices`, without an index)."""

    text: str

    def searcher(self, collection: str) -> Any:
        raise AssertionError("questions are answered, not searched")

    def answerer(self, collection: str) -> Any:
        return self

    def answer(self, question: str, history: Any) -> Answer:
        return Answer(AnswerKind.GENERATED, self.text, collection="docs")


def respond_to(client: BotClient, text: str) -> RecordingDiscord:
    """Answer every queued task with `text`, through the real respond handler on the client's store."""
    discord = RecordingDiscord()
    responder = RespondHandler(client.store, discord, FixedAnswers(text), clock=client.clock)
    for task in client.queue.tasks:
        assert responder.handle(task.to_json()).outcome == "answered"
    return discord


def test_a_private_answer_offers_no_buttons_and_stays_out_of_the_conversation(client: BotClient) -> None:
    client.command("ask", question="how do I log in?", private=True)
    discord = respond_to(client, "Use the login page.")
    (answer,) = discord.posted
    assert "components" not in answer and answer["content"] == "Use the login page."
    assert client.store.list_messages(THREAD_ID) == []


def test_the_buttons_of_a_long_answer_vote(client: BotClient) -> None:
    client.command("ask", question="tell me everything")
    discord = respond_to(client, "\n\n".join(f"Paragraph {n}: " + "words " * 150 for n in range(6)))
    assert len(discord.posted) > 1 and "components" in discord.posted[-1]
    reply = client.button(custom_id("solved", THREAD_ID), user=OTHER_USER_ID, on=discord.posted[-1]["id"])
    assert reply.type == 7
    stored = client.store.get_thread(THREAD_ID)
    assert stored is not None and stored.solved_votes == 1
