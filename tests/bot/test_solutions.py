"""The learning loop's capture through the real interactions handler (signed requests, in-process client):
"Mark as solution" on a person's or the bot's message, who may use it, unmarking, and the optional reason form
behind "Not solved"."""

from __future__ import annotations

from pathlib import Path

from docsbot.bot.interactions import Limits
from docsbot.discord.commands import (
    MARK_SOLUTION_MENU,
    command_definitions,
    find_command,
    help_lines,
    validate_commands,
)
from docsbot.discord.components import REASON_INPUT, classify_reason, custom_id
from docsbot.store.model import MessageRecord, SourceRef
from tests.harness.bot_client import BotClient, private_text, text_channel, thread
from tests.harness.fakes.discord_signing import (
    APPLICATION_ID,
    GUILD_ID,
    OTHER_USER_ID,
    STAFF_ROLE_ID,
    THREAD_ID,
    USER_ID,
    snowflake,
)

FIX = "Wrap your root reducer with `combineReducers` before passing it to `configureStore`."


def test_the_command_is_declared_once_and_valid() -> None:
    command = find_command(MARK_SOLUTION_MENU)
    assert command is not None and command.type == 3 and not command.deferred
    definitions = command_definitions()
    validate_commands(definitions)
    assert [d["name"] for d in definitions].count(MARK_SOLUTION_MENU) == 1
    assert any(MARK_SOLUTION_MENU in line for line in help_lines())


def test_the_author_marks_a_persons_message_and_the_thread_is_solved(client: BotClient) -> None:
    client.answered()
    target = snowflake()
    reply = client.message_command(MARK_SOLUTION_MENU, message=FIX, author=OTHER_USER_ID, target_id=target)
    link = f"https://discord.com/channels/{GUILD_ID}/{THREAD_ID}/{target}"
    assert reply.status == 200 and reply.type == 4 and not reply.private
    assert link in reply.content and "solution" in reply.content
    assert reply.data["allowed_mentions"] == {"parse": []}
    thread_record = client.store.get_thread(THREAD_ID)
    assert thread_record is not None and thread_record.solved
    solution = client.store.get_solution(THREAD_ID)
    assert solution is not None
    assert (solution.message_id, solution.author_id, solution.content) == (target, OTHER_USER_ID, FIX)
    assert (solution.link, solution.from_bot, solution.marked_by) == (link, False, USER_ID)


def test_marking_again_is_idempotent_and_says_so(client: BotClient) -> None:
    target = snowflake()
    client.message_command(MARK_SOLUTION_MENU, message=FIX, target_id=target)
    again = client.message_command(MARK_SOLUTION_MENU, message=FIX, target_id=target)
    assert again.status == 200 and "already the solution" in again.content
    solution = client.store.get_solution(THREAD_ID)
    assert solution is not None and solution.message_id == target


def test_the_bots_answer_as_solution_keeps_its_sources(client: BotClient) -> None:
    client.answered()
    answer = client.last_answer[THREAD_ID]
    ref = SourceRef("Store setup", ("Store setup",), "https://redux.js.org/store", "setup")
    with_sources = snowflake()
    stored = client.store.list_messages(THREAD_ID)[-1]
    client.store.add_message(
        MessageRecord(
            with_sources, THREAD_ID, APPLICATION_ID, "Use configureStore [1].", True, stored.created_at, sources=(ref,)
        )
    )
    client.message_command(
        MARK_SOLUTION_MENU, message="Use configureStore [1].", author=APPLICATION_ID, target_id=with_sources
    )
    solution = client.store.get_solution(THREAD_ID)
    assert solution is not None and solution.from_bot and solution.sources == (ref,)
    assert answer != with_sources


def test_only_the_author_or_staff_may_mark(tmp_path: Path) -> None:
    client = BotClient(tmp_path / "s.sqlite3", limits=Limits(staff_roles=frozenset({STAFF_ROLE_ID})))
    try:
        client.answered()
        refused = client.message_command(MARK_SOLUTION_MENU, message=FIX, user=OTHER_USER_ID)
        assert "Only the person who started this thread" in private_text(refused)
        assert client.store.get_solution(THREAD_ID) is None
        staff = client.message_command(MARK_SOLUTION_MENU, message=FIX, user=OTHER_USER_ID, roles=[STAFF_ROLE_ID])
        assert staff.type == 4 and not staff.private
        solution = client.store.get_solution(THREAD_ID)
        assert solution is not None and solution.marked_by == OTHER_USER_ID
    finally:
        client.close()


def test_outside_a_thread_or_on_an_empty_message_it_refuses(client: BotClient) -> None:
    assert "threads" in private_text(client.message_command(MARK_SOLUTION_MENU, message=FIX, channel=text_channel()))
    assert "no text" in private_text(client.message_command(MARK_SOLUTION_MENU, message="  "))
    assert client.store.get_thread(THREAD_ID) is None


def test_a_thread_the_bot_never_answered_can_be_marked(client: BotClient) -> None:
    reply = client.message_command(MARK_SOLUTION_MENU, message=FIX, channel=thread(name="Reducers?"))
    assert reply.type == 4
    record = client.store.get_thread(THREAD_ID)
    assert record is not None and record.solved and record.author_id == USER_ID and record.title == "Reducers?"


def test_unsolve_forgets_the_solution(client: BotClient) -> None:
    client.message_command(MARK_SOLUTION_MENU, message=FIX)
    reply = client.command("unsolve")
    assert reply.type == 4 and "not solved" in reply.content
    record = client.store.get_thread(THREAD_ID)
    assert record is not None and not record.solved
    assert client.store.get_solution(THREAD_ID) is None


def test_not_solved_offers_the_optional_reason_form(client: BotClient) -> None:
    key = client.answered()
    voted = client.button(custom_id("failed", key), user=OTHER_USER_ID)
    buttons = voted.data["components"][0]["components"]
    assert [b["custom_id"] for b in buttons][-1] == custom_id("reason", key)
    form = client.button(custom_id("reason", key), user=OTHER_USER_ID)
    assert form.type == 9 and form.data["custom_id"] == custom_id("reason", key)
    (text_input,) = form.data["components"][0]["components"]
    assert text_input["custom_id"] == REASON_INPUT and text_input["required"] is False
    sent = client.modal(
        custom_id("reason", key), {REASON_INPUT: "This is  outdated: v2 renamed it"}, user=OTHER_USER_ID
    )
    assert "Thanks" in private_text(sent)
    (feedback,) = client.store.list_feedback(key)
    assert (feedback.user_id, feedback.reason, feedback.text) == (
        OTHER_USER_ID,
        "outdated",
        "This is outdated: v2 renamed it",
    )
    empty = client.modal(custom_id("reason", key), {REASON_INPUT: ""}, user=USER_ID)
    assert empty.status == 200
    assert {f.user_id: f.reason for f in client.store.list_feedback(key)} == {
        OTHER_USER_ID: "outdated",
        USER_ID: "other",
    }


def test_a_forged_reason_form_names_no_other_conversation(client: BotClient) -> None:
    client.answered()
    victim = "1180000000000000066"
    client.answered(victim)
    refused = client.modal(custom_id("reason", victim), {REASON_INPUT: "wrong"}, on=client.last_answer[THREAD_ID])
    assert "doesn't belong" in private_text(refused)
    assert client.store.list_feedback(victim) == []


def test_reasons_are_classified_from_what_was_typed() -> None:
    assert classify_reason("It's wrong, that API does not work") == "wrong"
    assert classify_reason("Out of date for v5") == "outdated"
    assert classify_reason("missing the TypeScript part") == "incomplete"
    assert classify_reason("That's not what I asked") == "not_what_i_asked"
    assert classify_reason("meh") == "other"
