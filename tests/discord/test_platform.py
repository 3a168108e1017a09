"""The Discord platform layer: signature checks, interaction parsing, responses, command definitions, the REST
client against a loopback Discord, and the cold-import budget of the interactions path."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import discord_interactions
import pytest
import requests
from werkzeug.datastructures import Headers

from docsbot.discord import components, responses
from docsbot.discord.commands import (
    ASK_CONTEXT_MENU,
    MARK_SOLUTION_MENU,
    InvalidCommand,
    command_definitions,
    command_names,
    validate_commands,
)
from docsbot.discord.components import vote_buttons
from docsbot.discord.interaction import BadInteraction, CommandType, Interaction, InteractionType, parse_interaction
from docsbot.discord.register import register_commands
from docsbot.discord.render import render_error
from docsbot.discord.rest import USER_AGENT, DiscordError, DiscordRest
from docsbot.discord.verify import InvalidRequest, verify_request
from tests.harness.fakes.discord_api import FakeDiscordApi
from tests.harness.fakes.discord_signing import (
    APPLICATION_ID,
    FORUM_ID,
    GUILD_ID,
    OTHER_USER_ID,
    STAFF_ROLE_ID,
    THREAD_ID,
    USER_ID,
    TestSigner,
    interaction_token,
    snowflake,
)

NOW = 1_760_000_000
STAMP = str(NOW)


@pytest.fixture(scope="module")
def signer() -> TestSigner:
    return TestSigner(seed=bytes(range(32)))


def parse(payload: dict[str, Any]) -> Interaction:
    return parse_interaction(json.dumps(payload).encode())


# --- verify ------------------------------------------------------------------------------------------------


def test_genuine_request_passes(signer: TestSigner) -> None:
    body, headers = signer.signed(signer.ping(), STAMP)
    verify_request(headers, body, signer.public_key_hex, now=NOW)


def test_header_names_are_case_insensitive(signer: TestSigner) -> None:
    body, headers = signer.signed(signer.ping(), STAMP)
    verify_request({k.lower(): v for k, v in headers.items()}, body, signer.public_key_hex, now=NOW)
    verify_request({k.upper(): v for k, v in headers.items()}, body, signer.public_key_hex, now=NOW)
    verify_request(Headers(headers), body, signer.public_key_hex, now=NOW)  # what Flask hands the function


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda body, h: (body, {**h, "X-Signature-Ed25519": "0" * 128}), "invalid signature"),
        (lambda body, h: (body + b" ", h), "invalid signature"),
        (lambda body, h: (body.replace(b'"type":1', b'"type":2'), h), "invalid signature"),
        (lambda body, h: (body, {**h, "X-Signature-Timestamp": str(NOW + 1)}), "invalid signature"),
        (lambda body, h: (body, {**h, "X-Signature-Ed25519": "zz" * 64}), "invalid signature"),
        (lambda body, h: (body, {**h, "X-Signature-Ed25519": "ab"}), "invalid signature"),
        (lambda body, h: (body, {**h, "X-Signature-Timestamp": "12.5"}), "invalid timestamp"),
        (lambda body, h: (body, {"X-Signature-Timestamp": h["X-Signature-Timestamp"]}), "missing signature"),
        (lambda body, h: (body, {"X-Signature-Ed25519": h["X-Signature-Ed25519"]}), "missing timestamp"),
        (lambda body, h: (body, {}), "missing signature"),
    ],
    ids=[
        "zero-signature",
        "body-appended",
        "body-changed",
        "timestamp-changed",
        "signature-not-hex",
        "signature-short",
        "timestamp-not-integer",
        "no-signature",
        "no-timestamp",
        "no-headers",
    ],
)
def test_forged_or_incomplete_requests_get_401_and_print_nothing(
    signer: TestSigner,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
    reason: str,
) -> None:
    body, headers = tamper(*signer.signed(signer.ping(), STAMP))
    with pytest.raises(InvalidRequest) as caught:
        verify_request(headers, body, signer.public_key_hex, now=NOW)
    assert (caught.value.status, caught.value.reason) == (401, reason)
    assert capsys.readouterr().out == ""


def test_another_key_gets_401_and_the_library_print_is_swallowed(
    signer: TestSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    body, headers = TestSigner().signed(signer.ping(), STAMP)
    # The library itself prints on failure: this is what verify_request must keep out of the logs.
    sig, ts = headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"]
    assert discord_interactions.verify_key(body, sig, ts, signer.public_key_hex) is False
    assert capsys.readouterr().out != ""
    with pytest.raises(InvalidRequest) as caught:
        verify_request(headers, body, signer.public_key_hex, now=NOW)
    assert caught.value.status == 401
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("offset", "ok"), [(300, True), (-300, True), (301, False), (-301, False), (86400, False)])
def test_stale_and_future_timestamps(signer: TestSigner, offset: int, ok: bool) -> None:
    body, headers = signer.signed(signer.ping(), STAMP)
    if ok:
        verify_request(headers, body, signer.public_key_hex, now=NOW + offset)
        return
    with pytest.raises(InvalidRequest) as caught:
        verify_request(headers, body, signer.public_key_hex, now=NOW + offset)
    assert (caught.value.status, caught.value.reason) == (401, "stale timestamp")


def test_default_clock_is_the_wall_clock(signer: TestSigner) -> None:
    body, headers = signer.signed(signer.ping())  # stamped now
    verify_request(headers, body, signer.public_key_hex)
    body, headers = signer.signed(signer.ping(), str(int(time.time()) - 3600))
    with pytest.raises(InvalidRequest):
        verify_request(headers, body, signer.public_key_hex)


def test_oversized_body_gets_413_even_when_signed(signer: TestSigner) -> None:
    payload = signer.slash_command("ask", {"question": "x" * 70_000})
    body, headers = signer.signed(payload, STAMP)
    with pytest.raises(InvalidRequest) as caught:
        verify_request(headers, body, signer.public_key_hex, now=NOW)
    assert caught.value.status == 413
    verify_request(headers, body, signer.public_key_hex, now=NOW, max_body=len(body))


def test_malformed_public_key_is_a_configuration_error(signer: TestSigner) -> None:
    body, headers = signer.signed(signer.ping(), STAMP)
    with pytest.raises(ValueError, match="64 hexadecimal"):
        verify_request(headers, body, "not-a-key", now=NOW)


def test_concurrent_failures_leave_stdout_alone(signer: TestSigner, capsys: pytest.CaptureFixture[str]) -> None:
    """The print suppression swaps sys.stdout: threads must not leave each other's sink in place."""
    stdout = sys.stdout
    body, headers = TestSigner().signed(signer.ping(), STAMP)
    errors: list[BaseException] = []

    def hammer() -> None:
        for _ in range(100):
            try:
                verify_request(headers, body, signer.public_key_hex, now=NOW)
            except InvalidRequest:
                pass
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert sys.stdout is stdout
    assert capsys.readouterr().out == ""


# --- parse -------------------------------------------------------------------------------------------------


def test_parse_ping(signer: TestSigner) -> None:
    interaction = parse(signer.ping())
    assert interaction.type == InteractionType.PING
    assert interaction.application_id == APPLICATION_ID
    assert interaction.user_id == ""
    assert responses.pong() == {"type": 1}


def test_parse_slash_command_in_a_forum_thread(signer: TestSigner) -> None:
    payload = signer.slash_command(
        "ask",
        {"question": "How do I configure the store?", "collection": "redux", "private": True},
        roles=[STAFF_ROLE_ID],
    )
    interaction = parse(payload)
    assert interaction.type == InteractionType.APPLICATION_COMMAND
    assert (interaction.id, interaction.token) == (payload["id"], payload["token"])
    assert interaction.command_name == "ask"
    assert interaction.command_type == CommandType.CHAT_INPUT
    assert interaction.options == {"question": "How do I configure the store?", "collection": "redux", "private": True}
    assert interaction.subcommand is None and interaction.focused_option is None
    assert (interaction.guild_id, interaction.channel_id) == (GUILD_ID, THREAD_ID)
    assert (interaction.user_id, interaction.username) == (USER_ID, "ada")
    assert interaction.member_roles == (STAFF_ROLE_ID,)
    assert interaction.member_permissions == 2248473465835073
    assert interaction.locale == "en-US"
    channel = interaction.channel
    assert channel is not None and channel.is_thread
    assert (channel.id, channel.type, channel.parent_id, channel.owner_id) == (THREAD_ID, 11, FORUM_ID, USER_ID)
    assert channel.name == "How do I configure the store?"


def test_parse_in_a_dm_takes_the_top_level_user(signer: TestSigner) -> None:
    interaction = parse(signer.slash_command("commands", guild_id=None, channel_id="1180000000000000099"))
    assert interaction.guild_id is None
    assert interaction.user_id == USER_ID
    assert interaction.member_roles == () and interaction.member_permissions is None
    assert interaction.channel is not None and not interaction.channel.is_thread


def test_parse_subcommands_flattens_options(signer: TestSigner) -> None:
    nested = parse(signer.slash_command("admin", {"name": "redux", "limit": 5}, subcommand="collection set"))
    assert nested.subcommand == "collection set"
    assert nested.options == {"name": "redux", "limit": 5}
    single = parse(signer.slash_command("admin", {"ratio": 0.5}, subcommand="tune"))
    assert single.subcommand == "tune" and single.options == {"ratio": 0.5}


def test_parse_autocomplete_names_the_focused_option(signer: TestSigner) -> None:
    interaction = parse(signer.autocomplete("ask", {"question": "hooks", "collection": "re"}, focused="collection"))
    assert interaction.type == InteractionType.AUTOCOMPLETE
    assert interaction.focused_option == "collection"
    assert interaction.options["collection"] == "re"
    nested = parse(signer.autocomplete("admin", {"name": "re"}, focused="name", subcommand="collection set"))
    assert nested.focused_option == "name" and nested.subcommand == "collection set"


def test_parse_message_context_menu_target(signer: TestSigner) -> None:
    payload = signer.message_command("Why does my reducer run twice?")
    interaction = parse(payload)
    assert interaction.command_name == ASK_CONTEXT_MENU
    assert interaction.command_type == CommandType.MESSAGE
    target = interaction.target_message
    assert target is not None
    assert target.id == interaction.target_id == payload["data"]["target_id"]
    assert (target.content, target.author_id, target.author_name) == (
        "Why does my reducer run twice?",
        OTHER_USER_ID,
        "grace",
    )
    assert target.channel_id == THREAD_ID


def test_parse_context_menu_without_resolved_message(signer: TestSigner) -> None:
    payload = signer.message_command("text")
    del payload["data"]["resolved"]
    interaction = parse(payload)
    assert interaction.target_id is not None and interaction.target_message is None
    del payload["data"]["target_id"]
    with pytest.raises(BadInteraction, match="target_id"):
        parse(payload)


def test_parse_button_and_select(signer: TestSigner) -> None:
    message_id = snowflake()
    button = parse(signer.component(f"vote:solved:{THREAD_ID}", message_id))
    assert button.type == InteractionType.MESSAGE_COMPONENT
    assert (button.custom_id, button.component_type, button.message_id) == (f"vote:solved:{THREAD_ID}", 2, message_id)
    select = parse(signer.component("pick", component_type=3, values=["redux", "rtk"]))
    assert select.values == ("redux", "rtk")


@pytest.mark.parametrize("labels", [False, True], ids=["action-rows", "label-components"])
def test_parse_modal_values(signer: TestSigner, labels: bool) -> None:
    payload = signer.modal_submit(f"followup:{THREAD_ID}", {"question": "And with hooks?", "notes": ""}, labels=labels)
    interaction = parse(payload)
    assert interaction.type == InteractionType.MODAL_SUBMIT
    assert interaction.custom_id == f"followup:{THREAD_ID}"
    assert interaction.modal_values == {"question": "And with hooks?", "notes": ""}


def test_parse_accepts_the_signed_bytes_and_str(signer: TestSigner) -> None:
    body, _ = signer.signed(signer.slash_command("status"), STAMP)
    assert parse_interaction(body).command_name == "status"
    assert parse_interaction(body.decode()).command_name == "status"


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"", "not valid JSON"),
        (b"[" * 100_000, "too large"),
        (b"[" * 60_000, "not valid JSON"),  # deep nesting: RecursionError inside json
        (b'{"type": NaN}', "not valid JSON"),
        (b'{"type": 9}', "unsupported interaction type"),
        (b'{"type": true}', "unsupported interaction type"),
        (b'{"type": [1]}', "unsupported interaction type"),
    ],
    ids=["garbage", "array", "empty", "oversized", "deep", "nan", "unknown-type", "bool-type", "list-type"],
)
def test_parse_rejects_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(BadInteraction, match=message):
        parse_interaction(body)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: _without(p, "id"), "id"),
        (lambda p: _without(p, "token"), "token"),
        (lambda p: _without(p, "application_id"), "application_id"),
        (lambda p: _without(p, "member", "user"), "member.user"),
        (lambda p: _without(p, "member"), "user"),
        (lambda p: _without(p, "data"), "data"),
        (lambda p: _without(p, "data", "name"), "data.name"),
        (lambda p: {**p, "id": "12ab"}, "snowflake"),
        (lambda p: {**p, "id": 123}, "snowflake"),
        (lambda p: {**p, "guild_id": "1" * 25}, "snowflake"),
        (lambda p: {**p, "token": "abc/../x"}, "token"),
        (lambda p: {**p, "token": "a" * 1001}, "token"),
        (lambda p: {**p, "channel": {"id": "1", "type": "thread"}}, "channel.type"),
        (lambda p: {**p, "member": {**p["member"], "roles": ["x"]}}, "roles"),
        (lambda p: {**p, "member": {**p["member"], "permissions": "-1"}}, "permissions"),
        (lambda p: {**p, "data": {**p["data"], "options": {"question": "x"}}}, "options"),
        (lambda p: {**p, "data": {**p["data"], "options": [{"name": "q", "type": 3, "value": {"a": 1}}]}}, "value"),
        (lambda p: {**p, "data": {**p["data"], "options": [{"name": "q", "type": 3, "value": "x" * 6001}]}}, "value"),
        (lambda p: {**p, "data": {**p["data"], "options": [{"name": "q", "type": 4, "value": 2**60}]}}, "value"),
        (lambda p: {**p, "data": {**p["data"], "options": [{"type": 3, "value": "x"}]}}, "option name"),
        (lambda p: {**p, "data": {**p["data"], "options": [{"name": "q", "value": "x"}]}}, "option type"),
    ],
)
def test_parse_rejects_missing_or_bad_fields(
    signer: TestSigner, change: Callable[[dict[str, Any]], dict[str, Any]], message: str
) -> None:
    payload = change(signer.slash_command("ask", {"question": "hello"}))
    with pytest.raises(BadInteraction, match=message):
        parse(payload)


def test_parse_rejects_absurd_nesting_and_lists(signer: TestSigner) -> None:
    payload = signer.slash_command("x")
    deep: list[dict[str, Any]] = [{"name": "leaf", "type": 3, "value": "v"}]
    for level in range(4):
        deep = [{"name": f"s{level}", "type": 1, "options": deep}]
    payload["data"]["options"] = deep
    with pytest.raises(BadInteraction, match="too deep"):
        parse(payload)
    payload = signer.slash_command("x", roles=[STAFF_ROLE_ID] * 501)
    with pytest.raises(BadInteraction, match=r"member\.roles"):
        parse(payload)


def test_bad_interaction_messages_do_not_echo_user_text(signer: TestSigner) -> None:
    secret = "my password is hunter2 " * 300
    payload = signer.slash_command("ask", {"question": secret})
    with pytest.raises(BadInteraction) as caught:
        parse(payload)
    assert "hunter2" not in str(caught.value)


def test_component_and_modal_need_a_custom_id(signer: TestSigner) -> None:
    button = signer.component("x" * 101)
    with pytest.raises(BadInteraction, match="custom_id"):
        parse(button)
    modal = signer.modal_submit("f", {"question": "q"})
    del modal["data"]["custom_id"]
    with pytest.raises(BadInteraction, match="custom_id"):
        parse(modal)


# --- response helpers --------------------------------------------------------------------------------------


def test_response_types_match_discord_interactions() -> None:
    assert InteractionType.PING == discord_interactions.InteractionType.PING
    assert InteractionType.AUTOCOMPLETE == discord_interactions.InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
    assert InteractionType.MODAL_SUBMIT == discord_interactions.InteractionType.MODAL_SUBMIT
    expected = discord_interactions.InteractionResponseType
    assert responses.pong()["type"] == expected.PONG
    assert responses.deferred()["type"] == expected.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    assert responses.deferred_update()["type"] == expected.DEFERRED_UPDATE_MESSAGE
    assert responses.message({"content": "x"})["type"] == expected.CHANNEL_MESSAGE_WITH_SOURCE
    assert responses.update_message({"content": "x"})["type"] == expected.UPDATE_MESSAGE
    assert responses.autocomplete([])["type"] == expected.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    assert components.modal("m", "T", "i", "L")["type"] == expected.MODAL
    assert responses.FLAG_EPHEMERAL == discord_interactions.InteractionResponseFlags.EPHEMERAL


def test_deferred_shapes() -> None:
    assert responses.deferred(ephemeral=True) == {"type": 5, "data": {"flags": 64}}
    assert responses.deferred(ephemeral=False) == {"type": 5}
    assert responses.deferred_update() == {"type": 6}


def test_message_turns_mentions_off_unless_told_and_checks_limits() -> None:
    payload = {"content": "hi @everyone"}
    response = responses.message(payload)
    assert response == {"type": 4, "data": {"content": "hi @everyone", "allowed_mentions": {"parse": []}}}
    assert payload == {"content": "hi @everyone"}  # the caller's dict is left alone
    kept = responses.update_message({"components": [], "allowed_mentions": {"parse": ["users"]}})
    assert kept == {"type": 7, "data": {"components": [], "allowed_mentions": {"parse": ["users"]}}}
    with pytest.raises(ValueError, match="2000"):
        responses.message({"content": "x" * 2001})
    with pytest.raises(ValueError, match="embeds"):
        responses.message({"embeds": [{"title": "t"}] * 11})
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": "c" * 101}]}
    with pytest.raises(ValueError, match="custom_id"):
        responses.update_message({"components": [row]})
    assert responses.message(render_error("hello"))["data"]["flags"] == 64


def test_autocomplete_respects_discord_limits() -> None:
    choices: list[dict[str, Any]] = [{"name": f"collection {i}", "value": f"c{i}"} for i in range(30)]
    choices.insert(0, {"name": "n" * 150, "value": "long-name"})
    choices.insert(1, {"name": "too long value", "value": "v" * 101})
    choices.insert(2, {"name": "", "value": "no-name"})
    choices.insert(3, {"name": "number", "value": 3})
    result = responses.autocomplete(choices)["data"]["choices"]
    assert len(result) == 25
    assert result[0] == {"name": "n" * 99 + "…", "value": "long-name"}
    assert result[1] == {"name": "number", "value": 3}
    assert all(len(c["name"]) <= 100 and len(str(c["value"])) <= 100 for c in result)
    assert responses.autocomplete([]) == {"type": 8, "data": {"choices": []}}


def test_modal_shape_and_limits() -> None:
    response = components.modal(
        f"followup:{THREAD_ID}", "Follow-up question", "question", "Your question", max_length=1500
    )
    assert response["type"] == 9
    data = response["data"]
    assert (data["custom_id"], data["title"]) == (f"followup:{THREAD_ID}", "Follow-up question")
    [row] = data["components"]
    assert row["type"] == 1
    [text_input] = row["components"]
    assert text_input == {
        "type": 4,
        "custom_id": "question",
        "style": 2,
        "label": "Your question",
        "min_length": 1,
        "max_length": 1500,
        "required": True,
    }
    with pytest.raises(ValueError, match="title"):
        components.modal("m", "t" * 46, "i", "label")
    with pytest.raises(ValueError, match="label"):
        components.modal("m", "title", "i", "l" * 46)
    with pytest.raises(ValueError, match="custom_id"):
        components.modal("m" * 101, "title", "i", "label")
    with pytest.raises(ValueError, match="max_length"):
        components.modal("m", "title", "i", "label", max_length=4001)


# --- commands ----------------------------------------------------------------------------------------------


def test_command_definitions_are_valid_discord_json() -> None:
    commands = command_definitions()
    validate_commands(commands)
    assert json.loads(json.dumps(commands)) == commands
    chat = {c["name"]: c for c in commands if c["type"] == 1}
    assert set(chat) == {"ask", "search", "commands", "collections", "solve", "unsolve", "close", "open", "status"}
    assert command_names() == {*chat, ASK_CONTEXT_MENU, MARK_SOLUTION_MENU}
    for command in chat.values():
        assert command["name"] == command["name"].lower() and len(command["name"]) <= 32
        assert 1 <= len(command["description"]) <= 100
        assert command["contexts"] == [0] and command["integration_types"] == [0]
        for option in command.get("options", []):
            assert 1 <= len(option["description"]) <= 100 and option["name"] == option["name"].lower()
    menus = {c["name"]: c for c in commands if c["type"] == 3}
    assert set(menus) == {ASK_CONTEXT_MENU, MARK_SOLUTION_MENU}
    assert all(menu["description"] == "" for menu in menus.values())


def test_ask_and_search_options() -> None:
    chat = {c["name"]: c for c in command_definitions()}
    ask = {o["name"]: o for o in chat["ask"]["options"]}
    assert ask["question"] == {
        "type": 3,
        "name": "question",
        "description": ask["question"]["description"],
        "required": True,
        "min_length": 1,
        "max_length": 1500,
    }
    assert ask["collection"]["type"] == 3 and ask["collection"]["autocomplete"] is True
    assert ask["private"]["type"] == 5 and not ask["private"].get("required")
    assert list(ask) == ["question", "collection", "private"]  # required first, as Discord demands
    search = {o["name"]: o for o in chat["search"]["options"]}
    assert search["query"]["required"] is True and search["collection"]["autocomplete"] is True


def test_command_definitions_are_copies() -> None:
    command_definitions()[0]["name"] = "changed"
    assert command_definitions()[0]["name"] == "ask"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({"type": 1, "name": "Ask", "description": "d"}, "lower-case"),
        ({"type": 1, "name": "two words", "description": "d"}, "lower-case"),
        ({"type": 1, "name": "a" * 33, "description": "d"}, "lower-case"),
        ({"type": 1, "name": "ask", "description": "d" * 101}, "description"),
        ({"type": 1, "name": "ask", "description": ""}, "description"),
        ({"type": 3, "name": "Menu", "description": "no"}, "context menu"),
        ({"type": 1, "name": "ask", "description": "d", "options": [{"type": 3, "name": "q"}]}, "description"),
        (
            {
                "type": 1,
                "name": "ask",
                "description": "d",
                "options": [
                    {"type": 3, "name": "a", "description": "d"},
                    {"type": 3, "name": "b", "description": "d", "required": True},
                ],
            },
            "required options",
        ),
        (
            {
                "type": 1,
                "name": "ask",
                "description": "d",
                "options": [{"type": 3, "name": "a", "description": "d", "max_length": 7000}],
            },
            "max_length",
        ),
    ],
)
def test_validate_commands_catches_what_discord_refuses(command: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCommand, match=message):
        validate_commands([command])


def test_validate_commands_catches_duplicates() -> None:
    commands = command_definitions()
    with pytest.raises(InvalidCommand, match="duplicate"):
        validate_commands([*commands, commands[0]])


# --- REST client against a loopback Discord (`api`: tests/discord/conftest.py) -----------------------------


class Sleeps(list[float]):
    """An injected `sleep` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def rest(api: FakeDiscordApi, sleeps: Sleeps) -> Iterator[DiscordRest]:
    client = DiscordRest(api.application_id, bot_token=api.bot_token, base_url=api.base_url, sleep=sleeps, timeout=5)
    yield client
    client.session.close()


@pytest.fixture
def token() -> str:
    return interaction_token(snowflake())


def test_edit_original_and_followups(api: FakeDiscordApi, rest: DiscordRest, token: str) -> None:
    original = rest.edit_original(token, render_error("first", ephemeral=False))
    assert original["id"] and original["content"] == "first"
    edited = rest.edit_original(token, {"components": vote_buttons(THREAD_ID), "allowed_mentions": {"parse": []}})
    assert edited["id"] == original["id"] and edited["content"] == "first"  # an edit keeps unsent fields
    followup = rest.create_followup(token, render_error("second", ephemeral=False))
    assert followup["id"] != original["id"]

    posted = api.messages[token]
    assert posted.original is not None and posted.original["content"] == "first"
    assert [m["content"] for m in posted.all] == ["first", "second"]
    assert api.unguarded_messages() == []

    patch, post = api.requests_to("PATCH", "/webhooks/")[0], api.requests_to("POST", "/webhooks/")[0]
    assert patch.path == f"/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original"
    assert post.query == {"wait": "true"}
    assert patch.headers["user-agent"] == USER_AGENT == "DiscordBot (https://github.com/docsbot/docsbot, 0.1)"
    assert "authorization" not in patch.headers  # the interaction token is the credential
    assert patch.json == render_error("first", ephemeral=False)


def test_rate_limit_waits_retry_after_then_succeeds(
    api: FakeDiscordApi, rest: DiscordRest, sleeps: Sleeps, token: str
) -> None:
    api.rate_limit_next(retry_after=0.05)
    rest.edit_original(token, {"content": "hi", "allowed_mentions": {"parse": []}})
    assert len(sleeps) == 1 and sleeps[0] >= 0.05
    assert sleeps[0] < 1  # the precise JSON value, not the whole-second header
    assert len(api.requests_to("PATCH")) == 2
    assert api.messages[token].original is not None


def test_rate_limit_with_the_real_clock(api: FakeDiscordApi, token: str) -> None:
    rest = DiscordRest(api.application_id, base_url=api.base_url)
    assert rest.sleep is time.sleep  # by default the wait is a real one (the other tests inject and record it)
    api.rate_limit_next(retry_after=0.2)
    rest.create_followup(token, {"content": "hi", "allowed_mentions": {"parse": []}})
    assert len(api.requests_to("POST", "/webhooks/")) == 2  # refused once, then sent again after the wait
    assert len(api.messages[token].followups) == 1


def test_rate_limit_exhausted_or_too_long_raises(api: FakeDiscordApi, sleeps: Sleeps, token: str) -> None:
    rest = DiscordRest(api.application_id, base_url=api.base_url, sleep=sleeps, max_retries=2)
    api.rate_limit_next(retry_after=0.01, times=3)
    with pytest.raises(DiscordError) as caught:
        rest.edit_original(token, {"content": "hi"})
    assert caught.value.status == 429 and caught.value.retry_after == 0.01
    assert sleeps == [0.01, 0.01] and len(api.requests) == 3

    sleeps.clear()
    api.rate_limit_next(retry_after=120, is_global=True)
    with pytest.raises(DiscordError) as caught:
        rest.edit_original(token, {"content": "hi"})
    assert caught.value.status == 429 and caught.value.retry_after == 120
    assert sleeps == []  # longer than the cap: fail now, let the task queue retry later


def test_server_errors_are_retried_with_backoff(
    api: FakeDiscordApi, rest: DiscordRest, sleeps: Sleeps, token: str
) -> None:
    api.fail_next(500)
    api.fail_next(502)
    message = rest.create_followup(token, {"content": "hi", "allowed_mentions": {"parse": []}})
    assert message["content"] == "hi"
    assert sleeps == [0.5, 1.0]
    api.fail_next(503, times=4)
    with pytest.raises(DiscordError) as caught:
        rest.create_followup(token, {"content": "hi"})
    assert caught.value.status == 503


def test_client_errors_raise_at_once_with_the_token_redacted(
    api: FakeDiscordApi, rest: DiscordRest, sleeps: Sleeps, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.expire_token(token)
    with caplog.at_level(logging.DEBUG), pytest.raises(DiscordError) as caught:
        rest.edit_original(token, {"content": "too late"})
    error = caught.value
    assert (error.status, error.code, error.message) == (404, 10015, "Unknown Webhook")
    assert error.route == f"PATCH /webhooks/{APPLICATION_ID}/<token>/messages/@original"
    assert token not in str(error) and token not in repr(error) and token not in caplog.text
    assert sleeps == [] and len(api.requests) == 1


def test_invalid_payload_gets_discords_form_error(api: FakeDiscordApi, rest: DiscordRest, token: str) -> None:
    with pytest.raises(DiscordError) as caught:
        rest.edit_original(token, {"content": "x" * 2001})
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "content: Must be 2000 or fewer in length." in str(caught.value)
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": "c" * 101}]}
    with pytest.raises(DiscordError, match=r"components\.0\.components\.0\.custom_id"):
        rest.create_followup(token, {"content": "x", "components": [row]})
    with pytest.raises(DiscordError) as empty:
        rest.create_followup(token, {"allowed_mentions": {"parse": []}})
    assert empty.value.code == 50006
    with pytest.raises(DiscordError, match="embeds"):
        rest.create_followup(token, {"embeds": [{"title": "t"}] * 11})


def test_unreachable_discord_raises_a_redacted_connection_error(sleeps: Sleeps, token: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rest = DiscordRest(APPLICATION_ID, base_url=f"http://127.0.0.1:{port}/api/v10", sleep=sleeps, timeout=2)
    with pytest.raises(requests.ConnectionError) as caught:
        rest.edit_original(token, {"content": "hi"})
    assert token not in str(caught.value)
    assert caught.value.__suppress_context__
    assert sleeps == [0.5, 1.0, 2.0]


def test_channel_endpoints_use_the_bot_token(api: FakeDiscordApi, rest: DiscordRest) -> None:
    api.add_channel(THREAD_ID, name="How do I configure the store?")
    assert rest.get_channel(THREAD_ID)["name"] == "How do I configure the store?"
    closed = rest.modify_channel(THREAD_ID, {"archived": True}, reason="closed with /close")
    assert closed["thread_metadata"]["archived"] is True
    request = api.requests_to("PATCH", "/channels/")[0]
    assert request.headers["authorization"] == f"Bot {api.bot_token}"
    assert request.headers["x-audit-log-reason"] == "closed%20with%20%2Fclose"
    assert request.json == {"archived": True}
    with pytest.raises(DiscordError) as caught:
        rest.get_channel("1180000000000000999")
    assert (caught.value.status, caught.value.code) == (404, 10003)
    with pytest.raises(ValueError, match="snowflake"):
        rest.get_channel("../applications")


def test_bot_endpoints_need_a_bot_token(api: FakeDiscordApi) -> None:
    anonymous = DiscordRest(api.application_id, base_url=api.base_url)
    with pytest.raises(ValueError, match="bot token"):
        anonymous.modify_channel(THREAD_ID, {"archived": True})
    assert api.requests == []
    wrong = DiscordRest(api.application_id, bot_token="wrong", base_url=api.base_url)
    with pytest.raises(DiscordError) as caught:
        register_commands(wrong, None)
    assert caught.value.status == 401
    assert "wrong" not in str(caught.value) and "wrong" not in repr(wrong)


def test_register_commands_globally_and_in_a_guild(api: FakeDiscordApi, rest: DiscordRest) -> None:
    registered = register_commands(rest, None)
    assert [c["name"] for c in registered] == [c["name"] for c in command_definitions()]
    assert all(c["id"] and c["application_id"] == APPLICATION_ID for c in registered)
    assert api.requests_to("PUT")[-1].path == f"/api/v10/applications/{APPLICATION_ID}/commands"

    in_guild = register_commands(rest, GUILD_ID)
    assert {c["guild_id"] for c in in_guild} == {GUILD_ID}
    assert api.requests_to("PUT")[-1].path == f"/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    assert [c["name"] for c in api.guild_commands[GUILD_ID]] == [c["name"] for c in registered]
    assert api.requests_to("PUT")[-1].json == command_definitions()


def test_the_respond_functions_client_needs_no_bot_token(api: FakeDiscordApi, token: str) -> None:
    """The respond function only edits its answer and posts follow-ups, authorised by the interaction token in
    the URL: built from settings as Terraform deploys it (no DISCORD_BOT_TOKEN), it sends no Authorization."""
    from docsbot.app.bot import build_rest
    from docsbot.settings.bot import load_bot_settings

    env = {
        "DISCORD_PUBLIC_KEY": "ab" * 32,
        "DISCORD_APPLICATION_ID": api.application_id,
        "DISCORD_API_BASE_URL": api.base_url,
    }
    settings = load_bot_settings(env)
    assert settings.bot_token is None
    client = build_rest(settings)
    assert client.edit_original(token, render_error("the answer", ephemeral=False))["content"] == "the answer"
    assert client.create_followup(token, render_error("part 2", ephemeral=False))["content"] == "part 2"
    assert len(api.requests) == 2 and all("authorization" not in r.headers for r in api.requests)
    client.session.close()
