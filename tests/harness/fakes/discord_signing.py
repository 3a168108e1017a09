"""Sign requests and build interaction payloads the way Discord does, for tests of the interactions endpoint.

    signer = TestSigner()
    body, headers = signer.signed(signer.slash_command("ask", {"question": "How do I log in?"}))
    verify_request(headers, body, signer.public_key_hex)  # passes

Payload builders return dicts in Discord's wire shape: snowflake ids as strings, `member.user` in guilds
(`user` in DMs), and a partial `channel` object, by default a public thread (type 11) in a forum. Defaults
are fixed ids (GUILD_ID, THREAD_ID, ...) so tests can refer to them; every call gets a fresh interaction id
and token.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.signing import SigningKey

DISCORD_EPOCH_MS = 1_420_070_400_000
APPLICATION_ID = "1180000000000000001"
GUILD_ID = "1180000000000000002"
FORUM_ID = "1180000000000000003"
THREAD_ID = "1180000000000000004"
USER_ID = "1180000000000000005"
OTHER_USER_ID = "1180000000000000006"
STAFF_ROLE_ID = "1180000000000000007"
USERNAME = "ada"

# Option types by Python type, for building options from a plain dict (bool before int: bool is an int).
_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))

_counter = itertools.count(1)


def snowflake(at: float | None = None) -> str:
    """A fresh, realistic snowflake: milliseconds since Discord's epoch shifted left 22 bits, plus a counter."""
    ms = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def interaction_token(interaction_id: str) -> str:
    """A token shaped like Discord's: URL-safe base64 without padding."""
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def options_from(values: Mapping[str, Any], focused: str | None = None) -> list[dict[str, Any]]:
    """Discord's option objects for `values` (type from the Python type); `focused` marks one for autocomplete."""
    options = []
    for name, value in values.items():
        option_type = next(code for kind, code in _OPTION_TYPES if isinstance(value, kind))
        option: dict[str, Any] = {"name": name, "type": option_type, "value": value}
        if name == focused:
            option["focused"] = True
        options.append(option)
    return options


class TestSigner:
    """An Ed25519 key pair standing in for Discord's, and builders for the payloads Discord would sign."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, *, application_id: str = APPLICATION_ID, seed: bytes | None = None) -> None:
        self._key = SigningKey(seed) if seed is not None else SigningKey.generate()
        self.application_id = application_id

    @property
    def public_key_hex(self) -> str:
        """What the bot is configured with (DISCORD_PUBLIC_KEY): 64 hex characters."""
        return bytes(self._key.verify_key).hex()

    # --- signing -----------------------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The headers Discord sends with `body`: hex signature of timestamp + body, and the timestamp."""
        stamp = str(int(time.time())) if timestamp is None else timestamp
        signature = self._key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}

    def signed(self, payload: Mapping[str, Any], timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
        """`payload` serialised as Discord does (compact JSON) and its signed headers."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {**self.sign(body, timestamp), "Content-Type": "application/json"}
        return body, headers

    # --- payload builders --------------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """Discord's endpoint check: no user, no channel."""
        interaction_id = snowflake()
        return {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": 1,
            "token": interaction_token(interaction_id),
            "version": 1,
        }

    def base(
        self,
        interaction_type: int,
        *,
        guild_id: str | None = GUILD_ID,
        channel_id: str = THREAD_ID,
        user_id: str = USER_ID,
        username: str = USERNAME,
        roles: Sequence[str] = (),
        permissions: str = "2248473465835073",
        channel: Mapping[str, Any] | None = None,
        thread_owner_id: str | None = None,
        thread_name: str = "How do I configure the store?",
        parent_id: str = FORUM_ID,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Fields every non-PING interaction has. `guild_id=None` makes a DM (top-level `user`, no member)."""
        interaction_id = snowflake()
        user = {"id": user_id, "username": username, "global_name": username.title(), "discriminator": "0"}
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": interaction_type,
            "token": interaction_token(interaction_id),
            "version": 1,
            "locale": locale,
            "channel_id": channel_id,
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id} if guild_id else {"1": user_id},
            "context": 0 if guild_id else 1,
        }
        if guild_id is None:
            payload["user"] = user
            payload["channel"] = dict(channel) if channel else {"id": channel_id, "type": 1}
            return payload
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
        payload["member"] = {
            "user": user,
            "roles": list(roles),
            "permissions": permissions,
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "nick": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        payload["channel"] = (
            dict(channel)
            if channel is not None
            else {
                "id": channel_id,
                "type": 11,  # public thread
                "guild_id": guild_id,
                "parent_id": parent_id,  # the forum channel
                "name": thread_name,
                "owner_id": thread_owner_id or user_id,
                "flags": 0,
                "thread_metadata": {"archived": False, "locked": False, "auto_archive_duration": 4320},
                "permissions": permissions,
            }
        )
        return payload

    def slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        **context: Any,
    ) -> dict[str, Any]:
        """A CHAT_INPUT command. `subcommand` ("sub" or "group sub") nests the options the way Discord does."""
        payload = self.base(2, **context)
        data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1}
        leaf = options_from(options or {})
        if subcommand:
            leaf = _nest(subcommand, leaf)
        if leaf:
            data["options"] = leaf
        if payload.get("guild_id"):
            data["guild_id"] = payload["guild_id"]
        payload["data"] = data
        return payload

    def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        subcommand: str | None = None,
        **context: Any,
    ) -> dict[str, Any]:
        """An autocomplete request while the user types option `focused` (its value: what is typed so far)."""
        payload = self.slash_command(name, None, **context)
        payload["type"] = 4
        leaf = options_from(options, focused=focused)
        payload["data"]["options"] = _nest(subcommand, leaf) if subcommand else leaf
        return payload

    def message_command(
        self,
        content: str,
        *,
        name: str = "Ask the docs",
        target_id: str | None = None,
        author_id: str = OTHER_USER_ID,
        author_name: str = "grace",
        **context: Any,
    ) -> dict[str, Any]:
        """A MESSAGE context-menu command used on a message saying `content`."""
        payload = self.base(2, **context)
        message_id = target_id or snowflake()
        target = {
            "id": message_id,
            "channel_id": payload["channel_id"],
            "content": content,
            "author": {"id": author_id, "username": author_name, "global_name": None, "discriminator": "0"},
            "timestamp": "2024-01-01T00:00:00.000000+00:00",
            "type": 0,
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "pinned": False,
        }
        payload["data"] = {
            "id": snowflake(),
            "name": name,
            "type": 3,
            "target_id": message_id,
            "resolved": {"messages": {message_id: target}},
        }
        return payload

    def component(
        self,
        custom_id: str,
        message_id: str | None = None,
        *,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        **context: Any,
    ) -> dict[str, Any]:
        """A button press (or, with `values`, a select menu choice) on the bot's message `message_id`."""
        payload = self.base(3, **context)
        message_id = message_id or snowflake()
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        payload["data"] = data
        payload["message"] = {
            "id": message_id,
            "channel_id": payload["channel_id"],
            "author": {"id": self.application_id, "username": "docsbot", "bot": True},
            "content": "",
            "type": 20,  # a reply to an interaction
            "components": [],
            "embeds": [],
        }
        return payload

    def modal_submit(
        self, custom_id: str, values: Mapping[str, str], *, labels: bool = False, **context: Any
    ) -> dict[str, Any]:
        """A submitted modal; `values` maps text input custom_ids to what was typed. `labels=True` uses the
        newer label components instead of action rows."""
        payload = self.base(5, **context)
        rows: list[dict[str, Any]] = []
        for input_id, value in values.items():
            text_input = {"type": 4, "custom_id": input_id, "value": value, "id": len(rows) * 2 + 2}
            if labels:
                rows.append({"type": 18, "id": len(rows) * 2 + 1, "component": text_input})
            else:
                rows.append({"type": 1, "id": len(rows) * 2 + 1, "components": [text_input]})
        payload["data"] = {"custom_id": custom_id, "components": rows}
        return payload


def _nest(subcommand: str, leaf: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wrap `leaf` options in a subcommand (type 1), and that in a group (type 2) for "group sub"."""
    parts = subcommand.split()
    nested: list[dict[str, Any]] = [{"name": parts[-1], "type": 1, "options": leaf}]
    if len(parts) == 2:
        nested = [{"name": parts[0], "type": 2, "options": nested}]
    return nested
