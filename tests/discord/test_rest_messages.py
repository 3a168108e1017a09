"""`DiscordRest` reading a thread's history and uploading a file, through the real `requests` against the loopback
Discord fake (Discord's wire format: newest first, `before` pagination, 429 bodies, multipart `payload_json` +
`files[n]`)."""

from __future__ import annotations

from typing import Any

import pytest

from docsbot.discord.rest import Attachment, DiscordError, DiscordRest, DiscordUnavailableError
from tests.harness.discord_rest import discord_message, rest_client
from tests.harness.fakes.discord_api import FakeDiscordApi

THREAD = "1180000000000000100"


def history(count: int, *, first_id: int = 1200000000000000000) -> list[dict[str, Any]]:
    return [discord_message(first_id + n, "1180000000000000005", f"message {n}") for n in range(count)]


def test_messages_come_newest_first_and_before_pages_back(api: FakeDiscordApi, rest: DiscordRest) -> None:
    api.add_history(THREAD, history(150))
    first = rest.get_messages(THREAD, limit=100)
    assert [m["content"] for m in first[:2]] == ["message 149", "message 148"] and len(first) == 100
    second = rest.get_messages(THREAD, before=str(first[-1]["id"]), limit=100)
    assert len(second) == 50 and second[-1]["content"] == "message 0"
    request = api.requests_to("GET", f"/channels/{THREAD}/messages")[-1]
    assert request.query == {"limit": "100", "before": first[-1]["id"]}
    assert request.headers["authorization"] == f"Bot {api.bot_token}"


def test_a_rate_limit_waits_what_discord_says_then_reads(
    api: FakeDiscordApi, rest: DiscordRest, sleeps: list[float]
) -> None:
    api.add_history(THREAD, history(3))
    api.rate_limit_next(retry_after=0.25, method="GET")
    assert len(rest.get_messages(THREAD)) == 3
    assert sleeps == [0.25]


def test_a_rate_limit_longer_than_the_bound_fails_at_once(api: FakeDiscordApi, sleeps: list[float]) -> None:
    api.add_history(THREAD, history(3))
    bounded = rest_client(api, sleeps, max_retry_after=5)
    api.rate_limit_next(retry_after=60, method="GET")
    with pytest.raises(DiscordUnavailableError) as raised:
        bounded.get_messages(THREAD)
    assert raised.value.retry_after == 60 and sleeps == []


def test_a_channel_the_bot_may_not_read_is_a_403(api: FakeDiscordApi, rest: DiscordRest) -> None:
    api.forbid_channel(THREAD)
    with pytest.raises(DiscordError) as raised:
        rest.get_messages(THREAD)
    assert raised.value.status == 403 and raised.value.code == 50001


def test_limits_and_ids_are_checked_before_sending(api: FakeDiscordApi, rest: DiscordRest) -> None:
    with pytest.raises(ValueError, match="limit"):
        rest.get_messages(THREAD, limit=101)
    with pytest.raises(ValueError, match="snowflake"):
        rest.get_messages(THREAD, before="1/../../users")
    assert api.requests == []


def test_a_message_with_a_file_is_a_multipart_upload(api: FakeDiscordApi, rest: DiscordRest) -> None:
    html = b"<!doctype html><p>gaps</p>"
    sent = rest.create_message(
        THREAD,
        {"content": "weekly digest", "allowed_mentions": {"parse": []}},
        files=[Attachment("gaps.html", html, "text/html")],
    )
    assert sent["content"] == "weekly digest"
    assert [a["filename"] for a in sent["attachments"]] == ["gaps.html"]
    assert api.uploads == [(THREAD, "gaps.html", html)]
    request = api.requests_to("POST", f"/channels/{THREAD}/messages")[-1]
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.json["attachments"] == [{"id": 0, "filename": "gaps.html"}]
    assert request.json["allowed_mentions"] == {"parse": []}
    assert api.unguarded_messages() == []


def test_an_upload_after_a_rate_limit_is_sent_again_whole(
    api: FakeDiscordApi, rest: DiscordRest, sleeps: list[float]
) -> None:
    api.rate_limit_next(retry_after=0.1, method="POST")
    rest.create_message(THREAD, {"content": "x", "allowed_mentions": {"parse": []}},
                        files=[Attachment("a.html", b"<p>a</p>", "text/html")])  # fmt: skip
    assert sleeps == [0.1] and api.uploads == [(THREAD, "a.html", b"<p>a</p>")]
