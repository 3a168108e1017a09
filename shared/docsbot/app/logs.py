"""Structured JSON log lines for the functions and jobs (Cloud Logging reads `severity` and `message`), scrubbed.

Guarantees: every line is one JSON object; a field whose name says it holds a credential (`token`, `key`,
`secret`, `authorization`, `password`) is `[redacted]` whatever its value; and the message, the exception text
and every other string field (inside lists and maps too) go through the learning loop's scrubber
(`docsbot.learning.pii`): e-mail addresses, phone numbers, IP addresses, API keys and tokens, and Discord
mentions and ids become stable pseudonyms (`<user-1a2b3c4d>`, `<id-…>`) or `<secret>`, so a person's data
never reaches the logs and lines about the same user or thread can still be correlated.

The scrubber (and libphonenumber with it) is imported at the first log line, not with this module: the
interactions function imports this module on its cold path, which must stay light (tests/test_architecture.py).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docsbot.learning.pii import Scrubber

# Attributes every LogRecord has; anything else came from `extra=` and goes into the JSON line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_SECRET_KEYS = ("token", "key", "secret", "authorization", "password")
_MAX_DEPTH = 5  # nested extra fields deeper than this are written as scrubbed text


class JsonFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        self._given = scrubber

    @property
    def _scrubber(self) -> Scrubber:
        if self._given is None:
            from docsbot.learning.pii import Scrubber

            self._given = Scrubber()
        return self._given

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": self._scrubber.scrub(record.getMessage()),
            "logger": record.name,
        }
        for name, value in record.__dict__.items():
            if name in _STANDARD:
                continue
            # Never let a credential into the logs, whatever a caller passed.
            entry[name] = "[redacted]" if _is_secret(name) else self._clean(value, 0)
        if record.exc_info:
            entry["exception"] = self._scrubber.scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)

    def _clean(self, value: Any, depth: int) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            # Numbers stay numbers, except a Discord id passed as an int (a snowflake is a person's or a thread's).
            return self._scrubber.scrub(str(value)) if isinstance(value, int) and value >= 10**16 else value
        if depth < _MAX_DEPTH and isinstance(value, dict):
            return {str(k): "[redacted]" if _is_secret(str(k)) else self._clean(v, depth + 1) for k, v in value.items()}
        if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v, depth + 1) for v in value]
        return self._scrubber.scrub(str(value))


def _is_secret(name: str) -> bool:
    return any(k in name.lower() for k in _SECRET_KEYS)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record to stdout as one scrubbed JSON line (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
