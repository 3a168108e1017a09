"""Personal data and secrets out of exported text and log lines, replaced by stable pseudonyms.

`Scrubber.scrub(text)` replaces, in this order: Discord user / role / channel mentions and bare Discord ids
(snowflakes), API keys and tokens (JWTs, well-known key prefixes, Discord bot tokens, long hex or base64
secrets), e-mail addresses, IP addresses (IPv4 and IPv6, checked with `ipaddress`), and phone numbers (found by
Google's libphonenumber, the `phonenumbers` package, which knows every country's numbering plan: far fewer
misses and false alarms than a regular expression). Each value becomes `<kind-xxxxxxxx>`, where `xxxxxxxx` is a
keyed hash of the value: the same person or secret gets the same pseudonym everywhere in one export (and in every
export with the same key), so a conversation stays readable, and nothing of the value can be read back. Secrets
are replaced by `<secret>` alone: there is nothing to correlate.

Guarantee, tested with a page of planted data: none of the planted values survives. It is a filter, not a proof:
a secret with no recognisable shape (a short password in prose) passes. `ScrubbingFilter` applies the same
scrubber to log records.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Final

import phonenumbers

PSEUDONYM_HEX: Final = 8
DEFAULT_REGION: Final = "US"  # how numbers without a country code are read; international ones always are

_MENTION = re.compile(r"<(@[!&]?|#)(\d{15,22})>")
_SNOWFLAKE = re.compile(r"(?<![\w/.-])\d{17,20}(?![\w-])")
# Keys with a known shape first (so a prefix is not half-eaten by the generic rules).
_SECRETS: Final = (
    re.compile(r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{10,}"),  # JWT
    re.compile(
        r"\b(?:sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}|sk_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|rk_(?:live|test)_[A-Za-z0-9]{16,}|pk_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}"
        r"|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36})"
    ),
    re.compile(r"\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}"),  # Discord bot token
    re.compile(r"(?i)\b(?:bearer|token|api[_-]?key|secret|password|passwd)\s*[:=]\s*['\"]?([^\s'\"]{8,})"),
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),  # long hex: hashes, keys
    # Long base64-ish runs with letters and digits mixed (not plain words): keys, signatures.
    re.compile(
        r"(?<![\w/])(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])[A-Za-z0-9+/_-]{32,}={0,2}"
    ),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_MENTION_KIND: Final = {"@": "user", "@!": "user", "@&": "role", "#": "channel"}


class Scrubber:
    """Replaces personal data and secrets with pseudonyms; one instance per export keeps them consistent."""

    def __init__(self, key: bytes = b"docsbot", *, region: str = DEFAULT_REGION) -> None:
        self._key = key
        self._region = region

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return f"<{kind}-{digest[:PSEUDONYM_HEX]}>"

    def scrub(self, text: str) -> str:
        if not text:
            return text
        text = _MENTION.sub(lambda m: self.pseudonym(_MENTION_KIND[m.group(1)], m.group(2)), text)
        for pattern in _SECRETS:
            text = pattern.sub(_secret, text)
        text = _EMAIL.sub(lambda m: self.pseudonym("email", m.group(0).lower()), text)
        text = _IPV4.sub(self._ip, text)
        text = _IPV6.sub(self._ip, text)
        text = self._phones(text)
        # Bare ids last: a phone number or an IP must not be mistaken for one first.
        return _SNOWFLAKE.sub(lambda m: self.pseudonym("id", m.group(0)), text)

    def _ip(self, match: re.Match[str]) -> str:
        value = match.group(0)
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return value  # a version number, a time, a C++ scope: not an address
        if address.version == 6 and value.count(":") < 2:
            return value
        return self.pseudonym("ip", address.compressed)

    def _phones(self, text: str) -> str:
        matches = list(phonenumbers.PhoneNumberMatcher(text, self._region, leniency=phonenumbers.Leniency.VALID))
        for match in reversed(matches):  # from the end, so earlier offsets stay valid
            number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            text = text[: match.start] + self.pseudonym("phone", number) + text[match.end :]
        return text


def _secret(match: re.Match[str]) -> str:
    if match.lastindex:  # `token: value`: keep the label, hide the value
        start, end = match.span(1)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + "<secret>" + whole[end - offset :]
    return "<secret>"


class ScrubbingFilter(logging.Filter):
    """A logging filter that scrubs each record's message (arguments formatted in first) before it is emitted."""

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        self._scrub: Callable[[str], str] = (scrubber or Scrubber()).scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._scrub(record.getMessage())
        record.args = None
        return True
