"""The PII scrubber on a page of planted personal data and secrets: none of it is left, pseudonyms are stable,
and ordinary documentation text (URLs, versions, code) passes unchanged."""

from __future__ import annotations

import logging

import pytest

from docsbot.learning.pii import Scrubber, ScrubbingFilter

PLANTED = {
    "email": ["grace.hopper@example.com", "OPS+alerts@corp.example.co.uk"],
    "phone": ["+1 650-253-0000", "(650) 253-0001", "+44 20 7946 0958", "+49 30 901820"],
    "ip": ["192.168.1.20", "8.8.8.8", "2001:db8::ff00:42:8329", "fe80::1"],
    "secret": [
        "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghijkl",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "MTE4MDAwMDAwMDAwMDAwMDAwMQ.GhTa1b.abcdefghijklmnopqrstuvwxyz0123456",
        "d41d8cd98f00b204e9800998ecf8427e",
        "AIzaSyA1234567890abcdefghijklmnopqrstu",
        "hunter2hunter2",  # after "password:"
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdI",
    ],
    "discord": ["<@1180000000000000005>", "<@!1180000000000000006>", "<@&1180000000000000007>", "1180000000000000008"],
}

PAGE = f"""
Hi <@1180000000000000005>, thanks! Ping <@!1180000000000000006> or the <@&1180000000000000007> role
(user id 1180000000000000008). Mail me at grace.hopper@example.com or OPS+alerts@corp.example.co.uk.
Call +1 650-253-0000, or (650) 253-0001, or London +44 20 7946 0958, Berlin +49 30 901820.
The server is at 192.168.1.20 and resolves via 8.8.8.8; IPv6 2001:db8::ff00:42:8329, link-local fe80::1.
OPENAI_API_KEY=sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6 and GITHUB_TOKEN ghp_abcdefghijklmnopqrstuvwxyz0123456789
aws AKIAIOSFODNN7EXAMPLE slack xoxb-1234567890-abcdefghijkl
Authorization: Bearer {PLANTED["secret"][4]}
bot token {PLANTED["secret"][5]}
md5 d41d8cd98f00b204e9800998ecf8427e key AIzaSyA1234567890abcdefghijklmnopqrstu
password: hunter2hunter2
blob Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdI
"""

DOCS_TEXT = (
    "Install redux@5.0.1 and call `configureStore({ reducer })` at 10:30, see "
    "https://redux.js.org/faq/react-redux#why-isnt-my-component-re-rendering-or-my-mapstatetoprops-running "
    "(section 3.2.1, port 8080, 2024-05-01)."
)


def test_no_planted_value_survives() -> None:
    scrubbed = Scrubber().scrub(PAGE)
    left = [value for values in PLANTED.values() for value in values if value in scrubbed]
    assert left == []
    digits = "".join(c for c in scrubbed if c.isdigit())
    for number in ("6502530000", "6502530001", "2079460958", "30901820"):
        assert number not in digits


def test_pseudonyms_are_stable_and_keyed() -> None:
    one, other = Scrubber(b"k1"), Scrubber(b"k2")
    first = one.scrub("ask grace.hopper@example.com")
    assert first == one.scrub("ask Grace.Hopper@example.com") and first.startswith("ask <email-")
    assert one.scrub("<@1180000000000000005>") == one.scrub("<@!1180000000000000005>")
    assert one.scrub("<@1180000000000000005>") != other.scrub("<@1180000000000000005>")


def test_documentation_text_passes_unchanged() -> None:
    assert Scrubber().scrub(DOCS_TEXT) == DOCS_TEXT


def test_log_records_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("docsbot.test.pii")
    logger.addFilter(ScrubbingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="docsbot.test.pii"):
            logger.info("user %s wrote from %s", "grace.hopper@example.com", "192.168.1.20")
    finally:
        logger.filters.clear()
    assert "grace.hopper" not in caplog.text and "192.168.1.20" not in caplog.text
    assert "<email-" in caplog.text and "<ip-" in caplog.text
