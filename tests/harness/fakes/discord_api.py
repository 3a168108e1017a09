"""A small Discord REST API on 127.0.0.1, for driving `DiscordRest` (and the real `requests`) in tests.

It speaks Discord's wire format for the endpoints the bot uses, under `/api/v10`:

    PATCH /webhooks/{app}/{token}/messages/@original   edit the interaction's original response
    GET   /webhooks/{app}/{token}/messages/@original
    POST  /webhooks/{app}/{token}[?wait=true]          a follow-up message
    GET   /channels/{id}, PATCH /channels/{id}         bot token
    POST  /channels/{id}/messages, /channels/{id}/typing  bot token (the relay's answers; JSON or multipart:
                                                   `payload_json` + `files[n]`, as Discord takes uploads)
    GET   /channels/{id}/messages?limit=&before=       bot token: a thread's history (`add_history`), newest first
    GET   /users/@me, /oauth2/applications/@me, /gateway/bot  bot token (what discord.py asks when it logs in)
    PUT   /applications/{app}/commands                 bot token
    PUT   /applications/{app}/guilds/{guild}/commands  bot token

It checks payloads the way Discord does (content ≤ 2,000 characters, ≤ 10 embeds and their lengths,
components and custom_id ≤ 100, empty messages, command names and descriptions) and answers violations
with Discord's error JSON (`{"code": 50035, "errors": {...}, "message": "Invalid Form Body"}`), so a test
catches a payload Discord would refuse. It records every request, and can be told to answer the next ones
with a 429 (Discord's body and headers) or any other error.

    with FakeDiscordApi() as api:
        rest = DiscordRest(api.application_id, bot_token=api.bot_token, base_url=api.base_url)
        api.rate_limit_next(retry_after=0.05)
        rest.edit_original(token, {"content": "hi", "allowed_mentions": {"parse": []}})
        assert api.messages[token].original["content"] == "hi"
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.harness.fakes.discord_signing import APPLICATION_ID, THREAD_ID, snowflake
from tests.harness.fakes.loopback import LoopbackServer

API_PREFIX = "/api/v10"
MAX_REQUEST_BODY = 1024 * 1024

# Discord's limits on messages.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_EMBED_FOOTER = 2048
MAX_EMBED_AUTHOR = 256
MAX_EMBEDS_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
ALLOWED_MENTION_TYPES = frozenset({"users", "roles", "everyone"})

_ORIGINAL = re.compile(rf"{API_PREFIX}/webhooks/(\d+)/([^/]+)/messages/@original")
_WEBHOOK = re.compile(rf"{API_PREFIX}/webhooks/(\d+)/([^/]+)")
_CHANNEL = re.compile(rf"{API_PREFIX}/channels/(\d+)")
_CHANNEL_MESSAGES = re.compile(rf"{API_PREFIX}/channels/(\d+)/messages")
_CHANNEL_TYPING = re.compile(rf"{API_PREFIX}/channels/(\d+)/typing")
_COMMANDS = re.compile(rf"{API_PREFIX}/applications/(\d+)(?:/guilds/(\d+))?/commands")
_COMMAND_NAME = re.compile(r"[-_'\w]{1,32}")
_THREAD_METADATA_KEYS = frozenset({"archived", "locked", "auto_archive_duration", "invitable"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # without the query string; an interaction token in it is URL-decoded
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    json: Any  # the parsed body, or None when empty or not JSON


@dataclass
class InteractionMessages:
    """What the bot posted for one interaction token."""

    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all(self) -> list[dict[str, Any]]:
        """The original response (if any), then the follow-ups, in order."""
        return ([self.original] if self.original is not None else []) + list(self.followups)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def discord_error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> Reply:
    """An error in Discord's JSON shape."""
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Reply(status, body)


def form_error(errors: dict[str, Any]) -> Reply:
    """Discord's 400 "Invalid Form Body" with its nested `errors` object."""
    return discord_error(400, 50035, "Invalid Form Body", errors)


def _field_error(path: list[str | int], code: str, message: str) -> dict[str, Any]:
    """`{"a": {"0": {"b": {"_errors": [...]}}}}` for path ["a", 0, "b"], as Discord nests them."""
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path):
        node = {str(part): node}
    return node


def _too_long(path: list[str | int], limit: int) -> dict[str, Any]:
    return _field_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


class FakeDiscordApi(LoopbackServer):
    """Discord's REST API for one application, on an ephemeral 127.0.0.1 port, served from a thread."""

    thread_name = "fake-discord"

    def __init__(self, *, application_id: str = APPLICATION_ID, bot_token: str = "fake-bot-token") -> None:  # noqa: S107
        super().__init__()
        self.application_id = application_id
        self.bot_token = bot_token
        self.channels: dict[str, dict[str, Any]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.allowed_mentions_log: list[tuple[str, Any]] = []  # (route, allowed_mentions or None) per message
        self._messages: dict[str, InteractionMessages] = {}
        self._channel_messages: dict[str, list[dict[str, Any]]] = {}  # channel id → messages the bot posted
        self.typing: list[str] = []  # channel ids, one per typing indicator
        self.gateway_url: str | None = None  # what GET /gateway/bot answers (a fake Gateway's ws:// URL)
        self._expired: set[str] = set()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[tuple[Reply, str | None]] = deque()  # (reply, only for this method, if given)
        self.scripted_served = 0  # scripted replies served so far (the soak attributes failures with it)
        self._lock = threading.Lock()
        self._history: dict[str, list[dict[str, Any]]] = {}  # channel id → its messages (what GET reads)
        self._forbidden: set[str] = set()  # channels the bot may not read (403 Missing Access)
        self.uploads: list[tuple[str, str, bytes]] = []  # (channel id, filename, content) per uploaded file

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler_class(self)

    @property
    def base_url(self) -> str:
        """What to pass as `DiscordRest(base_url=...)`."""
        return self.url + API_PREFIX

    # --- scripting ---------------------------------------------------------------------------------------

    def rate_limit_next(
        self, retry_after: float = 0.05, times: int = 1, *, is_global: bool = False, method: str | None = None
    ) -> None:
        """Answer the next `times` requests (with `method`: PATCH edits, POST follow-ups, when given) with 429,
        Discord's JSON body and its rate-limit headers."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        headers = {
            "Retry-After": str(math.ceil(retry_after)),  # whole seconds in the header; the body is precise
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket0000000000000000000000",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        with self._lock:
            self._scripted.extend([(Reply(429, body, headers), method)] * times)

    def fail_next(
        self, status: int, times: int = 1, *, code: int = 0, message: str | None = None, method: str | None = None
    ) -> None:
        """Answer the next `times` requests (with `method`, when given) with `status` and a Discord error body."""
        text = message or {500: "500: Internal Server Error", 502: "502: Bad Gateway"}.get(status, f"{status}: Error")
        with self._lock:
            self._scripted.extend([(discord_error(status, code, text), method)] * times)

    def clear_scripted(self) -> None:
        """Forget the scripted replies not served yet (the outage is over)."""
        with self._lock:
            self._scripted.clear()

    def expire_token(self, token: str) -> None:
        """Make an interaction token unknown, as after Discord's 15 minutes: its endpoints answer 404."""
        with self._lock:
            self._expired.add(token)

    def add_channel(self, channel_id: str, **fields: Any) -> dict[str, Any]:
        """Create a channel; by default a public thread (type 11) in a forum, open."""
        channel: dict[str, Any] = {
            "id": channel_id,
            "type": 11,
            "guild_id": "1180000000000000002",
            "parent_id": "1180000000000000003",
            "name": "a thread",
            "owner_id": "1180000000000000005",
            "thread_metadata": {"archived": False, "locked": False, "auto_archive_duration": 4320},
        }
        channel.update(fields)
        with self._lock:
            self.channels[channel_id] = channel
        return channel

    def add_history(self, channel_id: str, messages: list[dict[str, Any]]) -> None:
        """Give a channel messages (Discord message objects, any order) for GET /channels/{id}/messages."""
        with self._lock:
            self._history.setdefault(channel_id, []).extend(messages)

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages a channel's history holds (a copy)."""
        with self._lock:
            return list(self._history.get(channel_id, []))

    def replace_history(self, channel_id: str, messages: list[dict[str, Any]]) -> None:
        """Replace a channel's messages (e.g. with what Discord sends a bot that lacks an intent)."""
        with self._lock:
            self._history[channel_id] = list(messages)

    def forbid_channel(self, channel_id: str) -> None:
        """Make reading `channel_id` answer 403 Missing Access (the bot lacks View Channel / Read History)."""
        with self._lock:
            self._forbidden.add(channel_id)

    # --- inspection --------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        """Requests with `method` whose path (after /api/v10) starts with `path_prefix`."""
        prefix = API_PREFIX + path_prefix
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    @property
    def messages(self) -> dict[str, InteractionMessages]:
        """Messages posted per interaction token (copies)."""
        with self._lock:
            return {
                token: InteractionMessages(dict(m.original) if m.original else None, [dict(f) for f in m.followups])
                for token, m in self._messages.items()
            }

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages the bot posted in `channel_id` (copies), oldest first."""
        with self._lock:
            return [dict(m) for m in self._channel_messages.get(channel_id, [])]

    def unguarded_messages(self) -> list[str]:
        """Routes of messages sent without `allowed_mentions` (should be none: docsbot repeats user text)."""
        with self._lock:
            return [route for route, value in self.allowed_mentions_log if value is None]

    # --- dispatch (server threads) -----------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        body: Any = None
        invalid_json = False
        upload: tuple[Any, dict[str, tuple[str, bytes]]] | None = None
        if raw_body and headers.get("content-type", "").startswith("multipart/form-data"):
            upload = _multipart(headers["content-type"], raw_body)
            invalid_json = upload is None
            body = upload[0] if upload else None
        elif raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                invalid_json = True
        with self._lock:
            self._requests.append(RecordedRequest(method, path, dict(parse_qsl(parts.query)), headers, body))
        if not headers.get("user-agent", "").startswith("DiscordBot ("):
            # Discord documents the format as mandatory; Cloudflare refuses clients without one.
            return discord_error(400, 0, "User-Agent must be 'DiscordBot ($url, $versionNumber)'")
        with self._lock:
            scripted = None
            for position, (reply, only) in enumerate(self._scripted):
                if only is None or only == method:
                    scripted = reply
                    del self._scripted[position]
                    self.scripted_served += 1
                    break
        if scripted is not None:
            return scripted
        content_type = headers.get("content-type", "")
        if upload is not None:
            with self._lock:
                return self._route_upload(method, path, headers, upload[0], upload[1])
        if invalid_json and content_type.startswith("multipart/form-data"):
            return form_error(_field_error(["payload_json"], "BASE_TYPE_REQUIRED", "This field is required."))
        if method == "GET" and (history := _CHANNEL_MESSAGES.fullmatch(path)):
            with self._lock:
                return self._bot_auth(headers) or self._read_history(history.group(1), dict(parse_qsl(parts.query)))
        if invalid_json or (raw_body and "application/json" not in content_type):
            return discord_error(400, 50109, "The request body contains invalid JSON.")
        with self._lock:
            return self._route(method, path, headers, body)

    def _route(self, method: str, path: str, headers: dict[str, str], body: Any) -> Reply:
        if match := _ORIGINAL.fullmatch(path):
            app, token = match.groups()
            if method == "PATCH":
                return self._webhook(app, token) or self._edit_original(token, body)
            if method == "GET":
                original = self._messages.get(token, InteractionMessages()).original
                return self._webhook(app, token) or (
                    Reply(200, original) if original else discord_error(404, 10008, "Unknown Message")
                )
        elif match := _WEBHOOK.fullmatch(path):
            app, token = match.groups()
            if method == "POST":
                return self._webhook(app, token) or self._create_followup(token, body)
        elif match := _CHANNEL_MESSAGES.fullmatch(path):
            if method == "POST":
                return self._bot_auth(headers) or self._create_message(match.group(1), body)

        elif match := _CHANNEL_TYPING.fullmatch(path):
            if method == "POST":
                if not (denied := self._bot_auth(headers)):
                    self.typing.append(match.group(1))
                return denied or Reply(204)
        elif path in (f"{API_PREFIX}/users/@me", f"{API_PREFIX}/oauth2/applications/@me", f"{API_PREFIX}/gateway/bot"):
            if method == "GET":
                return self._bot_auth(headers) or Reply(200, self._login_answer(path))
        elif match := _CHANNEL.fullmatch(path):
            if method in ("GET", "PATCH"):
                return self._bot_auth(headers) or self._channel(method, match.group(1), body)
        elif match := _COMMANDS.fullmatch(path):
            app, guild = match.groups()
            if app != self.application_id:
                return discord_error(403, 50001, "Missing Access")
            if method == "PUT":
                return self._bot_auth(headers) or self._put_commands(guild, body)
            if method == "GET":
                stored = self.guild_commands.get(guild, []) if guild else self.global_commands
                return self._bot_auth(headers) or Reply(200, stored)
        else:
            return discord_error(404, 0, "404: Not Found")
        return discord_error(405, 0, "405: Method Not Allowed")

    # --- the relay: channel messages and what a gateway client asks at login ------------------------------

    def bot_user(self) -> dict[str, Any]:
        """The bot's user object (its id is the application's, as for bots made in the developer portal)."""
        return {"id": self.application_id, "username": "docsbot", "discriminator": "0", "global_name": None,
                "avatar": None, "bot": True}  # fmt: skip

    def _login_answer(self, path: str) -> dict[str, Any]:
        if path.endswith("/users/@me"):
            return self.bot_user()
        if path.endswith("/gateway/bot"):
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            return {"url": self.gateway_url or "wss://gateway.invalid", "shards": 1, "session_start_limit": limit}
        return {"id": self.application_id, "name": "docsbot", "description": "", "icon": None,
                "bot_public": False, "bot_require_code_grant": False, "owner": self.bot_user(),
                "verify_key": "00" * 32, "flags": 0, "interactions_endpoint_url": None}  # fmt: skip

    def _create_message(self, channel_id: str, body: Any) -> Reply:
        problem = _message_problem(body, creating=True)
        if problem:
            return problem
        if int(body.get("flags") or 0) & ~((1 << 2) | (1 << 12)):  # only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS
            return form_error(_field_error(["flags"], "MESSAGE_FLAGS_INVALID", "Invalid flags for a new message."))
        self.allowed_mentions_log.append((f"POST /channels/{channel_id}/messages", body.get("allowed_mentions")))
        message = {**_new_message(self.application_id, message_type=0), **_visible_fields(body)}
        message["channel_id"] = channel_id
        message.pop("webhook_id", None)
        if body.get("message_reference"):
            message["type"] = 19  # a reply
        self._channel_messages.setdefault(channel_id, []).append(message)
        return Reply(200, message)

    def _read_history(self, channel_id: str, query: dict[str, str]) -> Reply:
        if channel_id in self._forbidden:
            return discord_error(403, 50001, "Missing Access")
        if channel_id not in self._history and channel_id not in self.channels:
            return discord_error(404, 10003, "Unknown Channel")
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return form_error(_field_error(["limit"], "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1."))
        newest_first = sorted(self._history.get(channel_id, []), key=lambda m: int(m["id"]), reverse=True)
        if "before" in query:
            newest_first = [m for m in newest_first if int(m["id"]) < int(query["before"])]
        return Reply(200, newest_first[:limit])

    def _route_upload(
        self, method: str, path: str, headers: dict[str, str], body: Any, files: dict[str, tuple[str, bytes]]
    ) -> Reply:
        match = _CHANNEL_MESSAGES.fullmatch(path)
        if method != "POST" or not match:
            return discord_error(405, 0, "405: Method Not Allowed")
        if denied := self._bot_auth(headers):
            return denied
        declared = body.get("attachments") if isinstance(body, dict) else None
        if not isinstance(declared, list) or len(declared) != len(files):
            return form_error(_field_error(["attachments"], "ATTACHMENT_NOT_FOUND", "Unknown attachment."))
        for n, item in enumerate(declared):
            if f"files[{item.get('id')}]" not in files:
                return form_error(_field_error(["attachments", n], "ATTACHMENT_NOT_FOUND", "Unknown attachment."))
        reply = self._create_message(match.group(1), {k: v for k, v in body.items() if k != "attachments"})
        if reply.status != 200:
            return reply
        reply.body["attachments"] = [
            {"id": snowflake(), "filename": name, "size": len(data)} for name, data in files.values()
        ]
        for name, data in files.values():
            self.uploads.append((match.group(1), name, data))
        return reply

    # --- interaction webhooks ----------------------------------------------------------------------------

    def _webhook(self, app: str, token: str) -> Reply | None:
        if app != self.application_id or token in self._expired:
            return discord_error(404, 10015, "Unknown Webhook")
        return None

    def _edit_original(self, token: str, body: Any) -> Reply:
        problem = _message_problem(body, creating=False)
        if problem is not None:
            return problem
        self.allowed_mentions_log.append(("PATCH @original", body.get("allowed_mentions")))
        messages = self._messages.setdefault(token, InteractionMessages())
        if messages.original is None:
            # Discord created it with the deferred response ("thinking…"); the fake creates it on first edit.
            messages.original = _new_message(self.application_id, message_type=20)
        messages.original.update(_visible_fields(body))
        messages.original["edited_timestamp"] = _now()
        return Reply(200, messages.original)

    def _create_followup(self, token: str, body: Any) -> Reply:
        problem = _message_problem(body, creating=True)
        if problem is not None:
            return problem
        self.allowed_mentions_log.append(("POST followup", body.get("allowed_mentions")))
        message = _new_message(self.application_id, message_type=0)
        message.update(_visible_fields(body))
        self._messages.setdefault(token, InteractionMessages()).followups.append(message)
        return Reply(200, message)

    # --- bot endpoints -----------------------------------------------------------------------------------

    def _bot_auth(self, headers: dict[str, str]) -> Reply | None:
        if headers.get("authorization") != f"Bot {self.bot_token}":
            return discord_error(401, 0, "401: Unauthorized")
        return None

    def _channel(self, method: str, channel_id: str, body: Any) -> Reply:
        channel = self.channels.get(channel_id)
        if channel is None:
            return discord_error(404, 10003, "Unknown Channel")
        if method == "GET":
            return Reply(200, channel)
        if not isinstance(body, dict):
            return form_error(_field_error([], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
        name = body.get("name")
        if name is not None and not (isinstance(name, str) and 1 <= len(name) <= 100):
            return form_error(_field_error(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
        is_thread = channel.get("type") in (10, 11, 12)
        for key, value in body.items():
            if is_thread and key in _THREAD_METADATA_KEYS:
                channel.setdefault("thread_metadata", {})[key] = value
            else:
                channel[key] = value
        return Reply(200, channel)

    def _put_commands(self, guild: str | None, body: Any) -> Reply:
        if not isinstance(body, list):
            return form_error(_field_error([], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"))
        for index, command in enumerate(body):
            problem = _command_problem(index, command)
            if problem is not None:
                return form_error(problem)
        stored = []
        for command in body:
            record = {
                "id": snowflake(),
                "application_id": self.application_id,
                "version": snowflake(),
                "type": 1,
                "default_member_permissions": None,
                "nsfw": False,
                **command,
            }
            if guild:
                record["guild_id"] = guild
            stored.append(record)
        if guild:
            self.guild_commands[guild] = stored
        else:
            self.global_commands = stored
        return Reply(200, stored)


# --- validation, as Discord does it ------------------------------------------------------------------------


def _message_problem(body: Any, *, creating: bool) -> Reply | None:
    """Discord's 400 for a message payload it would refuse, or None."""
    if not isinstance(body, dict):
        return form_error(_field_error([], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
    content = body.get("content")
    if content is not None:
        if not isinstance(content, str):
            return form_error(_field_error(["content"], "BASE_TYPE_STRING", "Could not interpret as string."))
        if len(content) > MAX_CONTENT:
            return form_error(_too_long(["content"], MAX_CONTENT))
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            return form_error(_field_error(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used."))
        if len(embeds) > MAX_EMBEDS:
            return form_error(_too_long(["embeds"], MAX_EMBEDS))
        total = 0
        for index, embed in enumerate(embeds):
            problem, size = _embed_problem(index, embed)
            if problem is not None:
                return form_error(problem)
            total += size
        if total > MAX_EMBEDS_TOTAL:
            return form_error(
                _field_error(["embeds"], "MESSAGE_EMBEDS_TOO_LONG", f"Embed size exceeds maximum size of {total}")
            )
    components = body.get("components")
    if components is not None:
        problem = _components_problem(components)
        if problem is not None:
            return form_error(problem)
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", []) if isinstance(mentions, dict) else None
        if not isinstance(parse, list) or not set(parse) <= ALLOWED_MENTION_TYPES:
            return form_error(_field_error(["allowed_mentions"], "ALLOWED_MENTIONS_PARSE", "Invalid parse value."))
    if creating and not any(body.get(key) for key in ("content", "embeds", "components", "attachments", "poll")):
        return discord_error(400, 50006, "Cannot send an empty message")
    return None


def _embed_problem(index: int, embed: Any) -> tuple[dict[str, Any] | None, int]:
    """(error, characters counted towards the 6,000 total)."""
    if not isinstance(embed, dict):
        return _field_error(["embeds", index], "DICT_TYPE_CONVERT", "Only dictionaries may be used."), 0
    size = 0
    for key, limit in (("title", MAX_EMBED_TITLE), ("description", MAX_EMBED_DESCRIPTION)):
        value = embed.get(key)
        if value is not None:
            if len(str(value)) > limit:
                return _too_long(["embeds", index, key], limit), 0
            size += len(str(value))
    for key, limit in (("footer", MAX_EMBED_FOOTER), ("author", MAX_EMBED_AUTHOR)):
        part = embed.get(key)
        if isinstance(part, dict):
            text = str(part.get("text" if key == "footer" else "name", ""))
            if len(text) > limit:
                return _too_long(["embeds", index, key, "text" if key == "footer" else "name"], limit), 0
            size += len(text)
    fields = embed.get("fields") or []
    if len(fields) > MAX_EMBED_FIELDS:
        return _too_long(["embeds", index, "fields"], MAX_EMBED_FIELDS), 0
    for position, item in enumerate(fields):
        name, value = str(item.get("name", "")), str(item.get("value", ""))
        if not name or len(name) > MAX_FIELD_NAME:
            return _too_long(["embeds", index, "fields", position, "name"], MAX_FIELD_NAME), 0
        if not value or len(value) > MAX_FIELD_VALUE:
            return _too_long(["embeds", index, "fields", position, "value"], MAX_FIELD_VALUE), 0
        size += len(name) + len(value)
    return None, size


def _components_problem(components: Any) -> dict[str, Any] | None:
    if not isinstance(components, list):
        return _field_error(["components"], "LIST_TYPE_CONVERT", "Only iterables may be used.")
    if len(components) > MAX_ACTION_ROWS:
        return _too_long(["components"], MAX_ACTION_ROWS)
    for row_index, row in enumerate(components):
        if not isinstance(row, dict) or row.get("type") != 1:
            return _field_error(["components", row_index, "type"], "UNION_TYPE_CHOICES", "Value must be one of {1}.")
        children = row.get("components") or []
        if not 1 <= len(children) <= MAX_ROW_COMPONENTS:
            return _field_error(
                ["components", row_index, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        for child_index, child in enumerate(children):
            where: list[str | int] = ["components", row_index, "components", child_index]
            if not isinstance(child, dict):
                return _field_error(where, "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
            custom_id = child.get("custom_id")
            if child.get("type") == 2 and child.get("style") == 5:
                if not child.get("url"):
                    return _field_error([*where, "url"], "BASE_TYPE_REQUIRED", "This field is required")
            elif not isinstance(custom_id, str) or not custom_id:
                return _field_error([*where, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
            elif len(custom_id) > MAX_CUSTOM_ID:
                return _too_long([*where, "custom_id"], MAX_CUSTOM_ID)
            label = child.get("label")
            if label is not None and len(str(label)) > MAX_BUTTON_LABEL:
                return _too_long([*where, "label"], MAX_BUTTON_LABEL)
    return None


def _command_problem(index: int, command: Any) -> dict[str, Any] | None:
    if not isinstance(command, dict):
        return _field_error([index], "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
    kind, name, description = command.get("type", 1), command.get("name"), command.get("description", "")
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return _field_error([index, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    if kind == 1:
        if not _COMMAND_NAME.fullmatch(name) or name != name.lower():
            return _field_error([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            return _field_error([index, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        options = command.get("options") or []
        if len(options) > 25:
            return _too_long([index, "options"], 25)
        for position, option in enumerate(options):
            text = option.get("description") if isinstance(option, dict) else None
            if not isinstance(text, str) or not 1 <= len(text) <= 100:
                return _field_error(
                    [index, "options", position, "description"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
    elif description:
        return _field_error(
            [index, "description"],
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
            "Context menu commands cannot have description",
        )
    return None


def _multipart(content_type: str, raw: bytes) -> tuple[Any, dict[str, tuple[str, bytes]]] | None:
    """(the `payload_json` part parsed, {part name: (filename, bytes)} of the files) of a multipart body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    payload: Any = None
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw_part = part.get_payload(decode=True)
        data = raw_part if isinstance(raw_part, bytes) else b""
        if name == "payload_json":
            try:
                payload = json.loads(data)
            except ValueError:
                return None
        elif isinstance(name, str):
            files[name] = (str(part.get_filename() or name), data)
    return (payload, files) if isinstance(payload, dict) else None


def _visible_fields(body: dict[str, Any]) -> dict[str, Any]:
    """What a message shows: Discord does not echo `allowed_mentions` back."""
    return {k: v for k, v in body.items() if k != "allowed_mentions"}


def _new_message(application_id: str, *, message_type: int) -> dict[str, Any]:
    return {
        "id": snowflake(),
        "type": message_type,
        "channel_id": THREAD_ID,
        "content": "",
        "embeds": [],
        "components": [],
        "attachments": [],
        "mentions": [],
        "flags": 0,
        "author": {"id": application_id, "username": "docsbot", "bot": True, "discriminator": "0"},
        "webhook_id": application_id,
        "application_id": application_id,
        "timestamp": _now(),
        "edited_timestamp": None,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _make_handler_class(api: FakeDiscordApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BODY:
                self._send(discord_error(413, 40005, "Request entity too large"))
                self.close_connection = True
                return
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(api.handle(self.command, self.path, headers, raw))

        def _send(self, reply: Reply) -> None:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures anyway
            return

    return Handler
