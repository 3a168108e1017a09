"""The JSON log lines carry no personal data: planted e-mails, phones, IPs, keys and Discord ids, logged through
the real `logging` machinery (message, arguments, extra fields, nested fields, exceptions), come out scrubbed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from docsbot.app.logs import JsonFormatter

PLANTED = {
    "email": "jane.doe@example.com",
    "phone": "+1 415-555-0132",
    "ipv4": "203.0.113.77",
    "ipv6": "2001:db8::8a2e:370:7334",
    "openai": "sk-proj-abcdefghijklmnopqrstuvwx1234",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "discord_user": "118000000000000005",
    "discord_mention": "<@1180000000000000777>",
}


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.app.logs")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.handlers, logger.propagate = [], True


def emitted(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_planted_personal_data_never_reaches_a_log_line(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = lines
    logger.info("question from %s: mail me at %s or call %s", PLANTED["discord_mention"], PLANTED["email"],
                PLANTED["phone"])  # fmt: skip
    logger.warning(
        "request failed",
        extra={
            "client_ip": PLANTED["ipv4"],
            "user_id": int(PLANTED["discord_user"]),
            "details": {"hosts": [PLANTED["ipv6"]], "note": f"used {PLANTED['openai']}"},
            "header": f"Bearer {PLANTED['jwt']}",
        },
    )
    try:
        raise ValueError(f"bad key {PLANTED['github']} for {PLANTED['email']}")
    except ValueError:
        logger.exception("while answering")
    text = stream.getvalue()
    for kind, value in PLANTED.items():
        assert value not in text, kind
    assert "+14155550132" not in text and "4155550132" not in text


def test_lines_stay_json_with_stable_pseudonyms_and_plain_numbers(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = lines
    logger.info("asked by %s", PLANTED["discord_mention"], extra={"attempt": 2, "seconds": 1.5, "ok": True})
    logger.info("answered %s", PLANTED["discord_mention"], extra={"api_key": "plain", "collection": "docs"})
    first, second = emitted(stream)
    pseudonym = str(first["message"]).removeprefix("asked by ")
    assert pseudonym.startswith("<user-") and second["message"] == f"answered {pseudonym}"
    assert (first["attempt"], first["seconds"], first["ok"]) == (2, 1.5, True)
    assert second["api_key"] == "[redacted]" and second["collection"] == "docs"
    assert first["severity"] == "INFO" and first["logger"] == "tests.app.logs"
