"""Discord markdown: defuse mentions, and split long text into messages without breaking what it shows.

`neutralize_mentions`: `@everyone` / `@here` get a zero-width space after the `@` everywhere, code included
(the only change ever made inside code); user mentions `<@123>` / `<@!123>` become `@user` and role mentions
`<@&123>` become `@role` outside code, where Discord would render them. Channel mentions `<#123>` stay.

`restrict_links`: links (masked `[label](url)`, `<url>` and bare URLs) to hosts outside an allowed set become
plain text: the label followed by the URL in inline code, so nothing clickable hides or points elsewhere.
Code is left alone (nothing in it is clickable).

`split_markdown`: parts of at most `limit` characters, cut at the best boundary, never inside a code fence
that fits one message nor inside a user-perceived character. Standard library only.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from docsbot.discord.limits import MAX_CONTENT

MIN_SPLIT_LIMIT = 64  # below this, a reopened code fence plus its closer could leave no room for text
_MAX_REOPEN = 40  # a reopened fence line longer than this is shortened to ``` + language

# --- mentions -------------------------------------------------------------------------------------------

_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
# Inline code first so its contents are skipped; then user and role mentions.
_PROSE_MENTION = re.compile(r"(?P<code>(`+)[^\n]*?\2)|(?P<user><@!?\d+>)|(?P<role><@&\d+>)")


def neutralize_mentions(text: str) -> str:
    """Defuse mention syntax: `@everyone`/`@here` everywhere, user/role mentions outside code (module doc)."""
    text = _MASS_MENTION.sub("@" + _ZWSP, normalise_newlines(text))
    if "<@" not in text:
        return text
    out: list[str] = []
    pos = 0
    for fence in _find_fences(text):
        out.append(_PROSE_MENTION.sub(_replace_mention, text[pos : fence.start]))
        out.append(text[fence.start : fence.end])
        pos = fence.end
    out.append(_PROSE_MENTION.sub(_replace_mention, text[pos:]))
    return "".join(out)


def _replace_mention(match: re.Match[str]) -> str:
    if match.group("user"):
        return "@user"
    if match.group("role"):
        return "@role"
    return match.group(0)  # inline code: unchanged


# --- links ----------------------------------------------------------------------------------------------

# Inline code first (left alone), then masked links, then <url> autolinks, then bare URLs.
_LINK = re.compile(
    r"(?P<code>(`+)[^\n]*?\2)"
    r"|\[(?P<label>[^\]\n]*)\]\(\s*<?(?P<target>[a-zA-Z][a-zA-Z0-9+.-]*:[^\s)>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)"
    r"|<(?P<auto>https?://[^\s>]+)>"
    r"|(?P<bare>https?://[^\s<>()\[\]`]+)",
    re.IGNORECASE,
)


def host_allowed(url: str, allowed_hosts: Collection[str]) -> bool:
    """Whether `url` is http(s) on one of `allowed_hosts` (exact host names, or `.example.com` for any subdomain)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username or parts.password:
        return False
    return any(host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])) for h in allowed_hosts)


def restrict_links(text: str, allowed_hosts: Collection[str]) -> str:
    """`text` with every link outside `allowed_hosts` made plain text (module doc); code is left unchanged."""
    allowed = {h.lower() for h in allowed_hosts}

    def plain(url: str) -> str:
        return "`" + url.replace("`", "") + "`"

    def replace_link(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group(0)
        if match.group("target") is not None:
            target = match.group("target")
            if host_allowed(target, allowed):
                return match.group(0)
            label = match.group("label").strip()
            return f"{label} ({plain(target)})" if label else plain(target)
        url = match.group("auto") or match.group("bare") or ""
        trailing = ""
        while url and url[-1] in ".,;:!?'\"":  # sentence punctuation is not part of the URL
            url, trailing = url[:-1], url[-1] + trailing
        if host_allowed(url, allowed):
            return match.group(0)
        return plain(url) + trailing

    text = normalise_newlines(text)
    out: list[str] = []
    pos = 0
    for fence in _find_fences(text):
        out.append(_LINK.sub(replace_link, text[pos : fence.start]))
        out.append(text[fence.start : fence.end])
        pos = fence.end
    out.append(_LINK.sub(replace_link, text[pos:]))
    return "".join(out)


# --- splitting ------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"([ \t]*)(`{3,})([^`]*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,})[ \t]*")
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\n)+")
_SPACES = re.compile(r"[ \t]+")
# Spans a word split would break: inline code and markdown links.
_PROTECTED_SPAN = re.compile(r"(`+)[^\n]+?\1|\[[^\]\n]*\]\([^)\n]*\)")
_HEADING_LINE = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")


@dataclass(frozen=True)
class _Fence:
    """A fenced code block in the text, by character offsets."""

    start: int  # first character of the opening line
    body_start: int  # first character after the opening line
    body_end: int  # the newline before the closing line; end of text when unclosed
    end: int  # just after the closing line; end of text when unclosed
    reopen: str  # the line that reopens the block in the next message ("```python")
    closer: str  # the line that closes it ("```")
    closed: bool


def split_markdown(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split markdown into parts of at most `limit` characters, breaking at the best boundary that fits.

    Preference: blank lines, then line breaks, then spaces, then anywhere that does not cut a grapheme.
    Code fences are never split unless a block alone exceeds `limit`; then it is split between lines (or
    within a too-long line), each part closed and the next reopened with the same info string. An unclosed
    fence is closed. Only whitespace at split points is lost.
    """
    if limit < MIN_SPLIT_LIMIT:
        raise ValueError(f"limit must be at least {MIN_SPLIT_LIMIT}")
    text = normalise_newlines(text).strip()
    if not text:
        return []
    splitter = _Splitter(text, limit)
    return splitter.split()


class _Splitter:
    """Greedy splitting of one text: each part ends at the best-ranked cut that fits."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.fences = _find_fences(text)
        # A block that fits in one message is kept whole; only bigger ones may be cut inside.
        self.splittable = [f for f in self.fences if _fence_length(text, f) > limit]
        self.whole = [f for f in self.fences if _fence_length(text, f) <= limit]
        self.cuts = self._find_cuts()

    def split(self) -> list[str]:
        text, parts = self.text, []
        start = 0
        while start < len(text):
            reopened = self._fence_inside(start)
            prefix = reopened.reopen + "\n" if reopened else ""
            if self._length(start, len(text), prefix) <= self.limit:
                a, b = len(text), len(text)
            else:
                a, b = self._best_cut(start, prefix)
            body = text[start:a].rstrip()
            if body.strip():
                closing = self._closing_fence(a)
                parts.append(prefix + body + ("\n" + closing.closer if closing else ""))
            start = b
        return parts

    def _length(self, start: int, a: int, prefix: str) -> int:
        """Upper bound of a part's length from `start` to a cut at `a` (trailing whitespace is dropped)."""
        closing = self._closing_fence(a)
        return len(prefix) + (a - start) + (1 + len(closing.closer) if closing else 0)

    def _best_cut(self, start: int, prefix: str) -> tuple[int, int]:
        window_end = start + self.limit - len(prefix)
        for level in self.cuts:
            index = bisect.bisect_right(level, (window_end, len(self.text) + 1))
            for a, b in reversed(level[:index]):
                if a <= start or not self.text[start:a].strip():
                    break  # any earlier cut would leave this part empty
                if self._length(start, a, prefix) <= self.limit:
                    return a, b
        # Hard cut: the furthest position that fits, preferably between graphemes.
        fallback = 0
        for p in range(min(window_end, len(self.text) - 1), start, -1):
            if self._allowed(p) and self._length(start, p, prefix) <= self.limit:
                fallback = fallback or p
                if is_grapheme_break(self.text, p):
                    return p, p
        if fallback:
            return fallback, fallback
        # Nothing fits (cannot happen with limit >= MIN_SPLIT_LIMIT); still make progress.
        end = start + max(1, self.limit - len(prefix) - 8)
        return end, end

    def _find_cuts(self) -> list[list[tuple[int, int]]]:
        """Candidate cuts `(a, b)`: the part ends at `a`, the next starts at `b`; best level first, sorted."""
        text = self.text
        paragraphs: set[tuple[int, int]] = set()
        lines: set[tuple[int, int]] = set()
        words: set[tuple[int, int]] = set()
        protected_words: set[tuple[int, int]] = set()

        for m in _PARAGRAPH_BREAK.finditer(text):
            if self._outside_fences(m.start()):
                # A heading stays with the text under it: a break right after one ranks as a line break.
                line_start = text.rfind("\n", 0, m.start()) + 1
                after_heading = _HEADING_LINE.match(text, line_start) is not None
                (lines if after_heading else paragraphs).add((m.start(), m.end()))
        in_paragraph_break = {p for a, b in paragraphs | lines for p in range(a, b)}
        for fence in self.fences:
            # The edges of a code block are as good as blank lines.
            if fence.start > 0 and fence.start - 1 not in in_paragraph_break:
                paragraphs.add((fence.start - 1, fence.start))
            if fence.end < len(text) and fence.end not in in_paragraph_break:
                paragraphs.add((fence.end, fence.end + 1))
        taken = in_paragraph_break | {a for a, _ in paragraphs}
        for m in re.finditer("\n", text):
            a = m.start()
            if a in taken:
                continue
            if self._outside_fences(a) or any(f.body_start < a < f.body_end - 1 for f in self.splittable):
                lines.add((a, a + 1))

        protected = [m.span() for m in _PROTECTED_SPAN.finditer(text)]
        protected_starts = [s for s, _ in protected]
        for m in _SPACES.finditer(text):
            a, b = m.span()
            if a == 0 or b == len(text) or text[a - 1] == "\n" or text[b] == "\n":
                continue  # indentation or trailing spaces: not between words
            if not (self._allowed(a) and self._allowed(b)):
                continue
            i = bisect.bisect_left(protected_starts, a) - 1  # the last span starting before this run
            in_span = i >= 0 and b < protected[i][1]
            if in_span and self._fence_inside(a) is None:
                protected_words.add((a, b))
            else:
                words.add((a, b))

        def safe(cuts: set[tuple[int, int]]) -> list[tuple[int, int]]:
            return sorted(c for c in cuts if is_grapheme_break(text, c[0]) and is_grapheme_break(text, c[1]))

        return [safe(paragraphs), safe(lines), safe(words), safe(protected_words)]

    def _outside_fences(self, p: int) -> bool:
        return not any(f.start <= p < f.end for f in self.fences)

    def _allowed(self, p: int) -> bool:
        """Whether a cut at `p` keeps every block that fits whole, and cuts others only inside their body."""
        if any(f.start < p < f.end for f in self.whole):
            return False
        return not any(f.start < p < f.end and not f.body_start < p < f.body_end for f in self.splittable)

    def _fence_inside(self, p: int) -> _Fence | None:
        """The block being split if `p` lies strictly inside its body (a part starting here reopens it)."""
        for f in self.splittable:
            if f.body_start < p < f.body_end:
                return f
        return None

    def _closing_fence(self, a: int) -> _Fence | None:
        """The block a part ending at `a` must close: one being split, or an unclosed one at the end."""
        inside = self._fence_inside(a)
        if inside:
            return inside
        last = self.fences[-1] if self.fences else None
        if last and not last.closed and a == len(self.text) and last.start < a:
            return last
        return None


def _find_fences(text: str) -> list[_Fence]:
    """Fenced code blocks (``` lines, any indentation, as Discord is lenient), in order."""
    fences: list[_Fence] = []
    opening: tuple[int, str, str, str] | None = None  # (start, line, indent, ticks)
    pos = 0
    for line in text.split("\n"):
        line_end = pos + len(line)
        if opening is None:
            m = _FENCE_OPEN.fullmatch(line)
            if m:
                opening = (pos, line, m.group(1), m.group(2))
        else:
            m = _FENCE_CLOSE.fullmatch(line)
            if m and len(m.group(1)) >= len(opening[3]):
                fences.append(_make_fence(opening, body_end=pos - 1, end=line_end, closed=True))
                opening = None
        pos = line_end + 1
    if opening is not None:
        fences.append(_make_fence(opening, body_end=len(text), end=len(text), closed=False))
    return fences


def _make_fence(opening: tuple[int, str, str, str], *, body_end: int, end: int, closed: bool) -> _Fence:
    start, line, indent, ticks = opening
    reopen, closer = line.rstrip(), indent + ticks
    if len(reopen) > _MAX_REOPEN:
        info = line[len(indent) + len(ticks) :].split()
        reopen, closer = "```" + (info[0][:20] if info else ""), "```"
    body_start = min(start + len(line) + 1, end)
    return _Fence(start, body_start, max(body_end, body_start), end, reopen, closer, closed)


def _fence_length(text: str, fence: _Fence) -> int:
    return fence.end - fence.start + (0 if fence.closed else 1 + len(fence.closer))


def is_grapheme_break(text: str, p: int) -> bool:
    """Whether cutting before `text[p]` keeps user-perceived characters whole (the common cases of UAX #29)."""
    if p <= 0 or p >= len(text):
        return True
    prev, ch = text[p - 1], text[p]
    if prev == "\r" and ch == "\n":
        return False
    if "\ud800" <= prev <= "\udbff" and "\udc00" <= ch <= "\udfff":
        return False  # a surrogate pair, if one was decoded that way
    if unicodedata.category(ch) in ("Mn", "Me", "Mc"):
        return False  # combining marks, variation selectors, keycaps
    if ch == "\u200d" or prev == "\u200d":
        return False  # emoji ZWJ sequences
    if "\U0001f3fb" <= ch <= "\U0001f3ff" or "\U000e0020" <= ch <= "\U000e007f":
        return False  # skin-tone modifiers, tag sequences (subdivision flags)
    if _is_regional_indicator(ch) and _is_regional_indicator(prev):
        run = 0
        while p - run - 1 >= 0 and _is_regional_indicator(text[p - run - 1]):
            run += 1
        return run % 2 == 0  # flags are pairs: break only between pairs
    return True


def _is_regional_indicator(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
