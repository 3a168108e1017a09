"""Heading anchors as Docusaurus generates them, and the rewrite that makes them explicit in markdown.

Docusaurus gives every markdown heading an id: the explicit `{#custom-id}` written after the heading text
if there is one, else the github-slugger slug of the heading's rendered text, made unique within the page
(`slug`, `slug-1`, `slug-2`, ...). Explicit ids do not take part in that de-duplication.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

# A line that opens a fenced code block: three or more backticks or tildes, any indentation (fences inside
# list items and JSX blocks are indented). The info string of a backtick fence may not contain a backtick.
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}(?=[^`]*$)|~{3,})")
_QUOTE_PREFIX = re.compile(r"^(?:[ ]{0,3}>[ ]?)+")
_ATX_HEADING = re.compile(r"^[ ]{0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<text>.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
# Docusaurus' explicit heading id syntax (parseMarkdownHeadingId).
_EXPLICIT_ID = re.compile(r"^(?P<text>.*?)\s*\{#(?P<id>[\w-]+)\}$")
_SETEXT_UNDERLINE = re.compile(r"^[ ]{0,3}(?P<char>=+|-+)[ \t]*$")
# Lines that cannot be the text of a setext heading because they are something else already.
_NOT_PARAGRAPH = re.compile(r"^[ ]{0,3}(?:[-+*][ \t]|\d{1,9}[.)][ \t]|#|>|<|\||[-*_=]{3,}[ \t]*$)|^[ ]{4}")

_INLINE_CODE = re.compile(r"(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)")
_AUTOLINK = re.compile(r"<(?P<url>(?:https?|mailto|ftp):[^<>\s]*)>", re.IGNORECASE)
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[(?P<text>[^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_MDX_COMMENT = re.compile(r"\{/\*.*?\*/\}")
_HTML_COMMENT = re.compile(r"<!--.*?-->")
_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s+[^<>]*?)?/?>")
_EMPHASIS = (
    re.compile(r"\*\*(?P<t>.+?)\*\*"),
    re.compile(r"(?<!\w)__(?P<t>.+?)__(?!\w)"),
    re.compile(r"\*(?P<t>[^*\s](?:.*?[^*\s])?)\*"),
    re.compile(r"(?<!\w)_(?P<t>[^_\s](?:.*?[^_\s])?)_(?!\w)"),
    re.compile(r"~~(?P<t>.+?)~~"),
)
_ESCAPE = re.compile(r"\\(?P<c>[!-/:-@\[-`{-~])")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def fence_mask(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it is part of a fenced code block (its fence lines included).

    Fences may be indented or inside blockquotes; an unclosed fence runs to the end, as in CommonMark.
    """
    mask: list[bool] = []
    fence: str | None = None
    for line in lines:
        content = _QUOTE_PREFIX.sub("", line)
        if fence is not None:
            mask.append(True)
            stripped = content.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
            continue
        opening = _FENCE_OPEN.match(content)
        if opening:
            fence = opening.group("fence")
        mask.append(opening is not None)
    return mask


def rendered_heading_text(markdown_text: str) -> str:
    """The text a reader sees for a heading's markdown: no link syntax, emphasis, tags or escapes.

    Inline code keeps its text. Self-closing JSX components render nothing here.
    """
    kept: list[str] = []  # inline code and escaped characters, out of the way of the markup rules

    def keep_code(match: re.Match[str]) -> str:
        code = match.group("code")
        if len(code) > 2 and code.startswith(" ") and code.endswith(" ") and code.strip():
            code = code[1:-1]
        kept.append(code)
        return f"\x00{len(kept) - 1}\x00"

    def keep_escaped(match: re.Match[str]) -> str:
        kept.append(match.group("c"))
        return f"\x00{len(kept) - 1}\x00"

    text = _INLINE_CODE.sub(keep_code, markdown_text)
    text = _ESCAPE.sub(keep_escaped, text)  # an escaped `*` or `<` is a character, not markup
    text = _MDX_COMMENT.sub("", text)
    text = _HTML_COMMENT.sub("", text)
    text = _AUTOLINK.sub(lambda m: m.group("url"), text)
    text = _IMAGE.sub(lambda m: m.group("alt"), text)
    text = _LINK.sub(lambda m: m.group("text"), text)
    text = _TAG.sub("", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group("t"), text)
    text = html.unescape(text)
    # Spaces are kept as they are (`<Icon /> Title` slugs to `-title`), as Docusaurus does not trim either.
    return _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], text)


def _kept(char: str) -> bool:
    # github-slugger keeps letters (Unicode Alphabetic), marks, decimal digits, connector punctuation
    # (`_`), hyphens and spaces, and drops everything else, emoji included.
    if char in " -":
        return True
    category = unicodedata.category(char)
    return category[0] in "LM" or category in ("Nd", "Nl", "Pc")


def github_slug(text: str) -> str:
    """github-slugger's slug of a text, without de-duplication."""
    return "".join(c for c in text.lower() if _kept(c)).replace(" ", "-")


class Slugger:
    """github-slugger's de-duplicating slugger: one per page, because repeats are counted per page."""

    def __init__(self) -> None:
        self._occurrences: dict[str, int] = {}

    def slug(self, text: str) -> str:
        """The slug of `text`, suffixed `-1`, `-2`, ... when this slugger has produced it before."""
        original = github_slug(text)
        slug = original
        while slug in self._occurrences:
            self._occurrences[original] += 1
            slug = f"{original}-{self._occurrences[original]}"
        self._occurrences[slug] = 0
        return slug


def split_explicit_id(heading_text: str) -> tuple[str, str | None]:
    """(text, explicit id) of a heading's text; the id is None when there is no trailing `{#id}`."""
    match = _EXPLICIT_ID.match(heading_text.strip())
    if match is None:
        return heading_text.strip(), None
    return match.group("text"), match.group("id")


def _heading_parts(content: str) -> tuple[int, str] | None:
    match = _ATX_HEADING.match(content)
    if match is None:
        return None
    text = _CLOSING_HASHES.sub("", match.group("text") or "")
    return len(match.group("hashes")), text.strip()


def normalise_heading_anchors(markdown: str) -> str:
    """Rewrite every heading outside code fences as `## text {#anchor}`, with Docusaurus' anchor.

    Setext headings (`Title` underlined with `===` or `---`) become ATX headings. Headings inside
    blockquotes get anchors too (Docusaurus counts them when de-duplicating) and keep their `>` prefix.
    """
    lines = markdown.split("\n")
    in_fence = fence_mask(lines)
    slugger = Slugger()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if in_fence[index]:
            out.append(line)
            index += 1
            continue
        prefix_match = _QUOTE_PREFIX.match(line)
        prefix = prefix_match.group(0) if prefix_match else ""
        content = line[len(prefix) :]
        parts = _heading_parts(content)
        consumed = 1
        if parts is None and not prefix:
            parts = _setext_heading(lines, in_fence, index)
            consumed = 2
        if parts is None:
            out.append(line)
            index += 1
            continue
        level, raw_text = parts
        text, explicit = split_explicit_id(raw_text)
        anchor = explicit if explicit is not None else slugger.slug(rendered_heading_text(text))
        if not anchor:  # nothing to slug (an empty or emoji-only heading): Docusaurus gives no usable id
            out.append(line)
            index += 1
            continue
        heading = f"{'#' * level} {text} {{#{anchor}}}" if text else f"{'#' * level} {{#{anchor}}}"
        out.append(f"{prefix.rstrip()} {heading}" if prefix else heading)
        index += consumed
    return "\n".join(out)


def _setext_heading(lines: Sequence[str], in_fence: Sequence[bool], index: int) -> tuple[int, str] | None:
    # Only the unambiguous form: a one-line paragraph (blank line or start before it) and its underline.
    if index + 1 >= len(lines) or in_fence[index + 1]:
        return None
    line = lines[index]
    if not line.strip() or _NOT_PARAGRAPH.match(line) or (index > 0 and lines[index - 1].strip()):
        return None
    underline = _SETEXT_UNDERLINE.match(lines[index + 1])
    if underline is None:
        return None
    return (1 if underline.group("char")[0] == "=" else 2), line.strip()
