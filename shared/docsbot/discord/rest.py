"""A small client for the Discord REST endpoints the bot uses, with Discord's rate-limit rules.

Interaction webhooks (edit the original response, follow-ups) are authorised by the interaction token in
the URL and need no bot token; channel and command endpoints send `Authorization: Bot <token>`.

Retries: a 429 waits what Discord says (`retry_after` in the JSON body, else the `Retry-After` header) when
that is at most `max_retry_after` seconds, otherwise it fails at once so the caller (Cloud Tasks) retries
later instead of holding an instance. 5xx and network errors are retried with exponential backoff. Other
4xx raise `DiscordError` immediately. A retried POST after a 5xx may, rarely, post twice: Discord offers no
idempotency key for messages.

Secrets: the interaction token is part of the URL path, so errors and log lines name the route with
`<token>` in its place; the bot token only ever travels in a header.
"""

from __future__ import annotations

import json as jsonlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from docsbot.errors import TransientError

log = logging.getLogger("docsbot.discord.rest")

DISCORD_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/docsbot/docsbot, 0.1)"
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
MAX_PAGE = 100  # messages per GET /channels/{id}/messages, Discord's maximum
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
_TOKEN_SLOT = "<token>"  # noqa: S105 - a placeholder in routes, not a secret


_WEBHOOK_TOKEN = re.compile(r"(/webhooks/[0-9]+/)[^/\s?\"]+")


def redact(text: str) -> str:
    """`text` with any interaction/webhook token in a `/webhooks/{id}/{token}` path replaced by <token>."""
    return _WEBHOOK_TOKEN.sub(rf"\1{_TOKEN_SLOT}", text)


class _RedactWebhookTokens(logging.Filter):
    """urllib3 logs every request line at DEBUG, URL included: keep interaction tokens out of those lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/webhooks/" in message:
            record.msg, record.args = redact(message), ()
        return True


# A logger filter only runs for records that pass the level check, so this costs nothing unless DEBUG is on.
_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactWebhookTokens) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_RedactWebhookTokens())


@dataclass(frozen=True)
class Attachment:
    """A file to upload with a message."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    description: str = ""


class DiscordError(Exception):
    """Discord refused a request: HTTP `status`, Discord's JSON error `code` (or None), and its message."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        *,
        route: str = "",
        retry_after: float | None = None,
    ) -> None:
        where = f" on {route}" if route else ""
        coded = f" (code {code})" if code is not None else ""
        super().__init__(f"Discord answered {status}{coded}{where}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.route = route  # method and path, the interaction token replaced by <token>
        self.retry_after = retry_after  # seconds, for a 429


class DiscordUnavailableError(DiscordError, TransientError):
    """A 429 or 5xx that outlasted the retries: worth another attempt later."""


class DiscordUnreachableError(requests.ConnectionError, TransientError):
    """No answer from Discord (the connection failed or timed out) after the retries."""


class DiscordRest:
    """Discord's REST API for one application. Thread-safe as far as the `requests.Session` is."""

    def __init__(
        self,
        application_id: str,
        *,
        bot_token: str | None = None,
        base_url: str = DISCORD_API,
        session: requests.Session | None = None,
        timeout: float = 10,
        max_retries: int = 3,
        max_retry_after: float = MAX_RETRY_AFTER,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.application_id = _snowflake(application_id, "application_id")
        self._bot_token = bot_token
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    def __repr__(self) -> str:  # never show the bot token
        return f"DiscordRest(application_id={self.application_id!r}, base_url={self.base_url!r})"

    # --- interaction webhooks (no bot token) -----------------------------------------------------------

    def edit_original(self, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Edit the original interaction response (the deferred "thinking…" message); returns the message."""
        route = f"/webhooks/{self.application_id}/{_TOKEN_SLOT}/messages/@original"
        return _as_object(self._request("PATCH", route, token=token, json=dict(payload)))

    def create_followup(self, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Post a follow-up message to the interaction; returns the message."""
        route = f"/webhooks/{self.application_id}/{_TOKEN_SLOT}"
        return _as_object(self._request("POST", route, token=token, json=dict(payload), params={"wait": "true"}))

    # --- bot endpoints -----------------------------------------------------------------------------------

    def get_channel(self, channel_id: str) -> dict[str, Any]:
        """The channel (or thread) object."""
        route = f"/channels/{_snowflake(channel_id, 'channel_id')}"
        return _as_object(self._request("GET", route, bot=True))

    def create_message(
        self, channel_id: str, payload: Mapping[str, Any], *, files: Sequence[Attachment] = ()
    ) -> dict[str, Any]:
        """Post a message in a channel or thread (the relay's answers, the digest); returns the message.

        With `files`, the request is Discord's multipart upload: the JSON payload in the `payload_json` part
        (with an `attachments` entry per file) and each file in a `files[n]` part."""
        route = f"/channels/{_snowflake(channel_id, 'channel_id')}/messages"
        if not files:
            return _as_object(self._request("POST", route, bot=True, json=dict(payload)))
        body = dict(payload)
        body["attachments"] = [
            {"id": n, "filename": f.filename, **({"description": f.description} if f.description else {})}
            for n, f in enumerate(files)
        ]
        parts = {f"files[{n}]": (f.filename, f.content, f.content_type) for n, f in enumerate(files)}
        return _as_object(
            self._request("POST", route, bot=True, form={"payload_json": jsonlib.dumps(body)}, files=parts)
        )

    def get_messages(self, channel_id: str, *, before: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Up to `limit` (1-100) messages of a channel or thread, newest first; with `before`, only older ones.

        Reading other people's messages' content needs the Message Content intent (enabled for the application)
        and the View Channel and Read Message History permissions in that channel."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        route = f"/channels/{_snowflake(channel_id, 'channel_id')}/messages"
        params = {"limit": str(limit)}
        if before is not None:
            params["before"] = _snowflake(before, "before")
        result = self._request("GET", route, bot=True, params=params)
        if not isinstance(result, list):
            raise DiscordError(200, None, "expected a list of messages", route=f"GET {route}")
        return [m for m in result if isinstance(m, dict)]

    def trigger_typing(self, channel_id: str) -> None:
        """Show "docsbot is typing…" in the channel for about ten seconds, or until the bot posts there."""
        self._request("POST", f"/channels/{_snowflake(channel_id, 'channel_id')}/typing", bot=True)

    def modify_channel(
        self, channel_id: str, payload: Mapping[str, Any], *, reason: str | None = None
    ) -> dict[str, Any]:
        """Change a channel or thread, e.g. `{"archived": True}` to close a thread; returns the channel."""
        route = f"/channels/{_snowflake(channel_id, 'channel_id')}"
        # The audit log reason is a header, so it must be URL-encoded (Discord documents this).
        headers = {"X-Audit-Log-Reason": quote(reason[:512], safe="")} if reason else None
        return _as_object(self._request("PATCH", route, bot=True, json=dict(payload), headers=headers))

    def bulk_overwrite_commands(
        self, commands: Sequence[Mapping[str, Any]], guild_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Replace all global commands (or one guild's) with `commands`; returns what Discord stored."""
        route = f"/applications/{self.application_id}/commands"
        if guild_id is not None:
            route = f"/applications/{self.application_id}/guilds/{_snowflake(guild_id, 'guild_id')}/commands"
        result = self._request("PUT", route, bot=True, json=[dict(c) for c in commands])
        if not isinstance(result, list):
            raise DiscordError(200, None, "expected a list of commands", route=f"PUT {route}")
        return result

    # --- transport ---------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        route: str,
        *,
        token: str | None = None,
        bot: bool = False,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """Send with retries; the parsed JSON answer (None for 204). `form` and `files` make it multipart."""
        where = f"{method} {route}"
        path = route
        if token is not None:
            if not token or len(token) > 1000:
                raise ValueError("invalid interaction token")
            path = route.replace(_TOKEN_SLOT, quote(token, safe=""))
        send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if bot:
            if not self._bot_token:
                raise ValueError(f"{where} needs a bot token (DISCORD_BOT_TOKEN)")
            send_headers["Authorization"] = f"Bot {self._bot_token}"

        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    data=form,
                    files=files,
                    params=params,
                    headers=send_headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                retryable = isinstance(error, requests.ConnectionError | requests.Timeout)
                if retryable and attempt < self.max_retries:
                    log.warning("discord unreachable, retrying", extra={"route": where, "error": type(error).__name__})
                    self.sleep(_backoff(attempt))
                    attempt += 1
                    continue
                # The exception text holds the URL, and with it the token: raise a redacted requests error.
                kind = DiscordUnreachableError if retryable else requests.RequestException
                raise kind(f"{where}: {type(error).__name__} talking to Discord") from None

            status = response.status_code
            body = _json_or_none(response)
            if status < 300:
                if body is None and response.content:
                    raise DiscordError(status, None, "the answer is not JSON", route=where)
                return body
            code, message = _error_details(body, response)
            if token:
                message = message.replace(token, _TOKEN_SLOT)  # in case Discord ever echoes the URL back
            if status == 429:
                retry_after = _retry_after(body, response)
                if attempt >= self.max_retries or retry_after > self.max_retry_after:
                    raise DiscordUnavailableError(status, code, message, route=where, retry_after=retry_after)
                log.warning("discord rate limit, waiting", extra={"route": where, "retry_after": retry_after})
                attempt += 1
                self.sleep(retry_after)
                continue
            if status >= 500 and attempt < self.max_retries:
                log.warning("discord server error, retrying", extra={"route": where, "status": status})
                self.sleep(_backoff(attempt))
                attempt += 1
                continue
            if status >= 500:
                raise DiscordUnavailableError(status, code, message, route=where)
            raise DiscordError(status, code, message, route=where)


def _snowflake(value: str, what: str) -> str:
    # Ids go into URL paths: refusing anything but digits keeps user-supplied ids from changing the route.
    if not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value):
        raise ValueError(f"{what} must be a Discord snowflake (digits)")
    return value


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))


def _as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_details(body: Any, response: requests.Response) -> tuple[int | None, str]:
    """Discord's error `code` and a short message, with the first field errors of a 50035 "Invalid Form Body"."""
    if not isinstance(body, dict):
        return None, (response.reason or "error")[:200]
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or response.reason or "error")[:300]
    problems = list(_field_errors(body.get("errors"), ""))[:5]
    if problems:
        message += ": " + "; ".join(problems)
    return code, message


def _field_errors(errors: Any, path: str) -> Iterator[str]:
    """Yield "field.path: message" from Discord's nested `errors` object."""
    if not isinstance(errors, dict):
        return
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield f"{path or 'body'}: {str(item.get('message', ''))[:200]}"
        else:
            yield from _field_errors(value, f"{path}.{key}" if path else str(key))


def _retry_after(body: Any, response: requests.Response) -> float:
    """Seconds to wait: the JSON `retry_after` (precise) else the `Retry-After` header, else one second."""
    value: Any = body.get("retry_after") if isinstance(body, dict) else None
    if value is None:
        value = response.headers.get("Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    if math.isnan(seconds) or seconds < 0:
        return 1.0
    return seconds
