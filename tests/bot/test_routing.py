"""Routing in the interactions handler, through the in-process test client: every command of the table, buttons,
the follow-up modal, collection choice, quotas and bad requests. No servers, no wall clock: milliseconds each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docsbot.bot import interactions
from docsbot.bot.interactions import INLINE_HANDLERS, HttpResponse, InteractionsHandler, Limits
from docsbot.discord.commands import (
    ASK_CONTEXT_MENU,
    COMMANDS,
    Command,
    Deferred,
    Handler,
    Inline,
    Visibility,
    command_definitions,
    validate_commands,
)
from docsbot.discord.interaction import CommandType, Interaction
from docsbot.settings.catalog import CollectionRecord
from docsbot.store.model import InteractionState
from tests.harness.bot_client import DOCS, NOW, BotClient, Reply, private_text, text_channel, thread
from tests.harness.fakes.discord_signing import FORUM_ID, GUILD_ID, OTHER_USER_ID, THREAD_ID, USER_ID

QUESTION = "my reducer runs but the component never re-renders, what am I doing wrong?"
GUIDE = CollectionRecord("guide", "Redux Toolkit", "The official, opinionated toolset.")


def invoke(client: BotClient, command: Command, **context: Any) -> Reply:
    """Use `command` the way a user would, with a question where it takes one."""
    if command.type == CommandType.MESSAGE:
        return client.message_command(command.name, message=QUESTION, **context)
    required: dict[str, Any] = {o.name: QUESTION for o in command.options if o.required}
    return client.command(command.name, **required, **context)


def nothing_left_behind(client: BotClient, reply: Reply) -> None:
    """Nothing stored and nothing queued for `reply`'s interaction (nor any other)."""
    assert client.queue.tasks == []
    nothing_left_behind_for(client, reply)


def nothing_left_behind_for(client: BotClient, reply: Reply) -> None:
    assert all(t.interaction_id != reply.interaction_id for t in client.queue.tasks)
    assert client.store.get_interaction(reply.interaction_id) is None


def new_client(tmp_path: Path, **kwargs: Any) -> BotClient:
    return BotClient(tmp_path / "other.sqlite3", **kwargs)


# --- the table ---------------------------------------------------------------------------------------------


def test_every_inline_handler_the_table_names_is_routed() -> None:
    named = {c.answer.handler for c in COMMANDS if isinstance(c.answer, Inline)}
    assert named <= set(INLINE_HANDLERS) == set(Handler)


@pytest.mark.parametrize("command", [c for c in COMMANDS if isinstance(c.answer, Inline)], ids=lambda c: c.name)
def test_each_inline_command_reaches_the_handler_its_entry_names(
    client: BotClient, command: Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Handler, str]] = []

    def spy(handler: Handler) -> Any:
        def run(self: InteractionsHandler, interaction: Interaction, entry: Command) -> HttpResponse:
            calls.append((handler, entry.name))
            return HttpResponse(200, {"type": 4, "data": {"content": "ok"}})

        return run

    for handler in Handler:
        monkeypatch.setitem(interactions.INLINE_HANDLERS, handler, spy(handler))
    assert isinstance(command.answer, Inline)
    assert invoke(client, command).content == "ok"
    assert calls == [(command.answer.handler, command.name)]
    assert client.queue.tasks == []


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.deferred], ids=lambda c: c.name)
def test_each_deferred_command_says_thinking_and_queues_exactly_one_task(client: BotClient, command: Command) -> None:
    reply = invoke(client, command)
    assert reply.type == 5
    assert reply.private == (command.visibility == Visibility.PRIVATE)
    (task,) = client.queue.tasks
    assert isinstance(command.answer, Deferred)
    assert task.kind == command.answer.task and task.question == QUESTION
    assert task.task_name() == f"interaction-{reply.interaction_id}"
    assert (task.interaction_id, task.token) == (reply.sent["id"], reply.sent["token"])
    assert (task.collection, task.created_at, task.guild_id) == ("docs", NOW, GUILD_ID)
    record = client.store.get_interaction(reply.interaction_id)
    assert record is not None and record.state is InteractionState.QUEUED


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.deferred], ids=lambda c: c.name)
def test_each_inline_command_answers_at_once_and_queues_nothing(client: BotClient, command: Command) -> None:
    client.answered(THREAD_ID, author=USER_ID)
    reply = invoke(client, command)
    assert reply.status == 200 and reply.type == 4 and reply.content
    assert reply.private == (command.visibility == Visibility.PRIVATE)
    nothing_left_behind(client, reply)


def test_the_register_payload_is_the_table() -> None:
    definitions = command_definitions()
    validate_commands(definitions)
    assert definitions == [c.definition() for c in COMMANDS]
    assert [(d["type"], d["name"]) for d in definitions] == [(c.type, c.name) for c in COMMANDS]
    for definition, command in zip(definitions, COMMANDS, strict=True):
        assert [o["name"] for o in definition.get("options", [])] == [o.name for o in command.options]
        expected = command.description if command.type == CommandType.CHAT_INPUT else ""
        assert definition["description"] == expected


def test_help_lists_every_command_of_the_table(client: BotClient) -> None:
    text = private_text(client.command("commands"))
    for command in COMMANDS:
        assert command.usage() in text and command.description in text
    assert "`/ask question: [collection:] [private:]`" in text
    assert f"Apps › **{ASK_CONTEXT_MENU}**" in text
    assert "`docs` (Redux)" in text
    assert private_text(client.command("collections")) == text


def test_an_unknown_command_gets_a_clear_private_message_and_leaves_nothing(client: BotClient) -> None:
    reply = client.command("frobnicate")
    assert "I don't know that command" in private_text(reply) and "/commands" in reply.content
    nothing_left_behind(client, reply)
    # A context menu called like a slash command is not that command either.
    wrong_type = client.command(ASK_CONTEXT_MENU)
    assert "I don't know that command" in private_text(wrong_type)


# --- verification and bad input (moved from test_handlers) ------------------------------------------------------


def test_ping_is_answered(client: BotClient) -> None:
    assert client.ping().body == {"type": 1}


def test_bad_requests_are_refused_and_leave_nothing(client: BotClient) -> None:
    payload = client.signer.slash_command("ask", {"question": QUESTION})
    body, headers = client.signer.signed(payload, timestamp=str(int(NOW)))
    handle = client.handler.handle
    forged = dict(headers, **{"X-Signature-Ed25519": "00" * 64})
    assert handle(forged, body).status == 401
    assert handle({}, body).status == 401
    assert handle(headers, body.replace(b"reducer", b"REDUCER")).status == 401
    stale = client.signer.sign(body, timestamp=str(int(NOW) - 3600))
    assert handle(stale, body).status == 401
    garbage = b'{"type": 2, "id": '
    assert handle(client.signer.sign(garbage, timestamp=str(int(NOW))), garbage).status == 400
    huge = json.dumps(client.signer.slash_command("ask", {"question": "x" * 100_000})).encode()
    assert handle(client.signer.sign(huge, timestamp=str(int(NOW))), huge).status == 413
    assert client.queue.tasks == []
    assert client.store.get_interaction(payload["id"]) is None
    assert client.store.get_thread(payload["channel_id"]) is None


def test_empty_and_too_long_questions(client: BotClient) -> None:
    assert "too long" in private_text(client.command("ask", question="y" * 1600))
    assert "Please ask a question" in private_text(client.command("ask", question="   "))
    empty_message = client.message_command(ASK_CONTEXT_MENU, message="")
    assert "no text I could read" in private_text(empty_message)
    assert client.queue.tasks == []


def test_a_long_message_is_cut_not_refused(client: BotClient) -> None:
    assert client.message_command(ASK_CONTEXT_MENU, message="x" * 3000).type == 5
    (task,) = client.queue.tasks
    assert len(task.question) == 1500


# --- visibility ----------------------------------------------------------------------------------------------


def test_private_asks_are_deferred_ephemerally(client: BotClient) -> None:
    assert client.command("ask", question=QUESTION, private=True).body == {"type": 5, "data": {"flags": 64}}
    assert client.command("ask", question=QUESTION, private=False).body == {"type": 5}
    assert [t.private for t in client.queue.tasks] == [True, False]


def test_search_is_always_private(client: BotClient) -> None:
    assert client.command("search", query="combineReducers").body == {"type": 5, "data": {"flags": 64}}
    (task,) = client.queue.tasks
    assert task.kind == "search" and task.private and task.question == "combineReducers"


# --- conversations ---------------------------------------------------------------------------------------------


def test_in_a_thread_the_conversation_is_the_thread_and_belongs_to_its_owner(client: BotClient) -> None:
    owner = "1180000000000000077"
    client.command("ask", question=QUESTION, user=OTHER_USER_ID, channel=thread(owner=owner))
    (task,) = client.queue.tasks
    assert (task.thread_id, task.author_id, task.user_id) == (THREAD_ID, owner, OTHER_USER_ID)
    assert task.thread_title == "How do I configure the store?"


def test_in_a_plain_channel_each_question_is_its_own_conversation(tmp_path: Path) -> None:
    client = new_client(tmp_path, default_collection="docs")
    first = client.command("ask", question=QUESTION, channel=text_channel())
    second = client.command("ask", question="and with hooks?", channel=text_channel(), user=OTHER_USER_ID)
    assert [t.thread_id for t in client.queue.tasks] == [first.interaction_id, second.interaction_id]
    assert [t.author_id for t in client.queue.tasks] == [USER_ID, OTHER_USER_ID]
    client.close()


def test_ask_the_docs_outside_a_thread_belongs_to_the_messages_author(tmp_path: Path) -> None:
    client = new_client(tmp_path, default_collection="docs")
    reply = client.message_command(ASK_CONTEXT_MENU, message=QUESTION, author=OTHER_USER_ID, channel=text_channel())
    (task,) = client.queue.tasks
    assert task.kind == "context_ask" and task.author_id == OTHER_USER_ID
    assert task.source_message_id == reply.sent["data"]["target_id"]
    client.close()


def test_the_same_interaction_delivered_twice_is_queued_once(client: BotClient) -> None:
    payload = client.signer.slash_command("ask", {"question": QUESTION}, channel_id=THREAD_ID)
    assert client.send(payload).type == 5
    assert client.send(payload).type == 5
    assert len(client.queue.tasks) == 1


def test_when_the_queue_is_down_the_user_is_told_at_once(client: BotClient) -> None:
    client.queue.fail_with = ConnectionError("cloud tasks unreachable")
    reply = client.command("ask", question=QUESTION)
    assert "can't take questions right now" in private_text(reply)
    record = client.store.get_interaction(reply.interaction_id)
    assert record is not None and record.state is InteractionState.FAILED


# --- collection choice ----------------------------------------------------------------------------------------


def asked_collection(client: BotClient, **kwargs: Any) -> str | None:
    reply = client.command("ask", question=QUESTION, **kwargs)
    assert reply.type == 5, reply.body
    return client.queue.tasks[-1].collection


def test_the_collection_option_wins(tmp_path: Path) -> None:
    client = new_client(tmp_path, collections=(DOCS, GUIDE), default_collection="docs")
    assert asked_collection(client, collection="guide") == "guide"
    client.close()


def test_an_unknown_collection_gets_a_clear_private_message(client: BotClient) -> None:
    reply = client.command("ask", question="hi?", collection="nope")
    assert "I don't know the collection `nope`" in private_text(reply) and "docs" in reply.content
    nothing_left_behind(client, reply)


def test_then_the_threads_collection_then_the_channel_then_its_parent(tmp_path: Path) -> None:
    channels = {FORUM_ID: "docs", "1180000000000000011": "guide"}
    client = new_client(tmp_path, collections=(DOCS, GUIDE), channels=channels)
    assert asked_collection(client) == "docs"  # the thread's forum
    assert asked_collection(client, channel=text_channel("1180000000000000011")) == "guide"  # the channel itself
    in_category = text_channel("1180000000000000012", parent="1180000000000000011")
    assert asked_collection(client, channel=in_category) == "guide"  # its parent
    other = thread("1180000000000000013")
    client.answered(other["id"], collection="guide")
    assert asked_collection(client, channel=other) == "guide"  # the conversation's, over the forum's
    client.close()


def test_then_the_default_then_the_only_one_else_the_user_is_asked_to_choose(tmp_path: Path) -> None:
    unmapped = text_channel()
    with_default = BotClient(tmp_path / "a.sqlite3", collections=(DOCS, GUIDE), channels={}, default_collection="guide")
    assert asked_collection(with_default, channel=unmapped) == "guide"
    only_one = BotClient(tmp_path / "b.sqlite3", collections=(GUIDE,), channels={})
    assert asked_collection(only_one, channel=unmapped) == "guide"
    undecided = BotClient(tmp_path / "c.sqlite3", collections=(DOCS, GUIDE), channels={})
    reply = undecided.command("ask", question=QUESTION, channel=unmapped)
    assert "Which docs should I search?" in private_text(reply) and "docs, guide" in reply.content
    nothing_left_behind(undecided, reply)
    for client in (with_default, only_one, undecided):
        client.close()


def test_a_disabled_collection_is_not_offered(tmp_path: Path) -> None:
    disabled = CollectionRecord("old", "Old docs", "", enabled=False)
    client = new_client(tmp_path, collections=(DOCS, disabled))
    assert "I don't know the collection `old`" in private_text(client.command("ask", question="hi?", collection="old"))
    client.close()


# --- quotas -----------------------------------------------------------------------------------------------------


def test_the_hourly_question_budget_per_person(tmp_path: Path) -> None:
    client = new_client(tmp_path, limits=Limits(user_questions_per_hour=5))
    for _ in range(5):
        assert client.command("ask", question=QUESTION).type == 5
    refused = client.command("ask", question=QUESTION)
    # NOW is 400 s before the hour turns.
    assert private_text(refused) == (
        "You've asked 5 questions this hour, my limit per person. Please try again in 6 min."
    )
    nothing_left_behind_for(client, refused)
    assert client.command("ask", question=QUESTION, user=OTHER_USER_ID).type == 5  # others still may
    client.clock.advance(400)
    assert client.command("ask", question=QUESTION).type == 5  # a new hour
    client.close()


def test_the_hourly_question_budget_per_server(tmp_path: Path) -> None:
    client = new_client(tmp_path, limits=Limits(user_questions_per_hour=10, guild_questions_per_hour=2))
    assert client.command("ask", question=QUESTION).type == 5
    assert client.command("ask", question=QUESTION, user=OTHER_USER_ID).type == 5
    refused = client.command("search", query="hooks", user="1180000000000000088")
    assert "This server has reached its question budget" in private_text(refused)
    assert len(client.queue.tasks) == 2
    client.close()


# --- autocomplete -----------------------------------------------------------------------------------------------


def test_autocomplete_suggests_collections_for_the_collection_option_only(tmp_path: Path) -> None:
    client = new_client(tmp_path, collections=(DOCS, GUIDE))
    choices = client.autocomplete("ask", "collection", question="x", collection="do").body
    assert choices == {"type": 8, "data": {"choices": [{"name": "docs — Redux", "value": "docs"}]}}
    toolkit = client.autocomplete("search", "collection", query="x", collection="TOOLKIT").data["choices"]
    assert toolkit == [{"name": "guide — Redux Toolkit", "value": "guide"}]
    assert client.autocomplete("ask", "question", question="do").data == {"choices": []}
    assert client.autocomplete("frobnicate", "collection", collection="").data == {"choices": []}
    client.close()


# --- no collections file --------------------------------------------------------------------------------------


def test_without_a_collections_file_the_default_collection_answers(tmp_path: Path) -> None:
    client = new_client(tmp_path, collections=(), channels={}, default_collection="redux")
    assert asked_collection(client) == "redux"
    assert asked_collection(client, channel=text_channel()) == "redux"
    assert asked_collection(client, collection="redux") == "redux"
    assert "`redux`" in private_text(client.command("collections"))
    suggested = client.autocomplete("ask", "collection", question="x", collection="red").data["choices"]
    assert suggested == [{"name": "redux — redux", "value": "redux"}]
    client.close()


def test_a_file_that_disables_the_default_collection_is_obeyed(tmp_path: Path) -> None:
    disabled = CollectionRecord("old", "Old docs", "", enabled=False)
    client = new_client(tmp_path, collections=(DOCS, disabled), channels={}, default_collection="old")
    assert asked_collection(client, channel=text_channel()) == "docs"  # the only enabled one, not the disabled default
    client.close()


# --- the guild allow-list -----------------------------------------------------------------------------------------

STRANGER_GUILD = "1180000000000000099"


def test_other_servers_are_refused_politely_and_cost_nothing(tmp_path: Path) -> None:
    limits = Limits(user_questions_per_hour=1, guild_questions_per_hour=1, allowed_guilds=frozenset({GUILD_ID}))
    client = new_client(tmp_path, limits=limits)
    for command in COMMANDS:
        refused = invoke(client, command, guild=STRANGER_GUILD)
        assert "only answers in the servers it was set up for" in private_text(refused)
        nothing_left_behind(client, refused)
    dm = client.command("ask", question=QUESTION, guild=None)
    assert "only answers in the servers it was set up for" in private_text(dm)
    key = client.answered()
    vote = client.send(client.signer.component(f"vote:solved:{key}", guild_id=STRANGER_GUILD, channel_id=THREAD_ID))
    assert vote.status == 200 and "only answers in the servers" in vote.body["data"]["content"]
    form = client.send(client.signer.modal_submit(f"followup:{key}", {"question": QUESTION}, guild_id=STRANGER_GUILD))
    assert "only answers in the servers" in form.body["data"]["content"]
    suggest = client.send(client.signer.autocomplete("ask", {"collection": "d"}, "collection", guild_id=STRANGER_GUILD))
    assert suggest.body == {"type": 8, "data": {"choices": []}}
    stored = client.store.get_thread(key)
    assert stored is not None and stored.solved_votes == 0
    assert client.queue.tasks == []
    # Nothing was taken from any quota: the one question allowed per person and per server is still there.
    assert client.command("ask", question=QUESTION).type == 5
    client.close()


def test_without_an_allow_list_every_server_is_answered(client: BotClient) -> None:
    assert client.command("ask", question=QUESTION, guild=STRANGER_GUILD).type == 5
