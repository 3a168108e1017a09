"""Turn an `Answer` (and search results, errors) into Discord message payloads.

Payloads are plain JSON-able dicts in Discord's wire format for "Create Message", "Edit Original Interaction
Response" and "Create Followup Message", fitted to Discord's limits (`limits.py`). This module imports only
the standard library and docsbot's data shapes: the Discord Cloud Functions import it and must cold-start fast.

Link rule: the answer's text links only to the hosts of the sections it cites or shows, and to Discord; any
other URL (a masked `[label](url)` above all: a prompt-injected docs page can make a model write one) is shown
as plain text, the URL in code, so nothing clickable under the bot's name leads off the docs (`answer_hosts`).

Mention rule: every payload carries `allowed_mentions: {"parse": []}`, so nobody is pinged whatever the text
says; as belt and braces the text is also neutralised (`markdown.neutralize_mentions`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from docsbot.answer.model import Answer, AnswerKind, Citation
from docsbot.discord.components import validate_thread_key, vote_buttons
from docsbot.discord.limits import MAX_CONTENT, MAX_EMBED_DESCRIPTION, MAX_EMBEDS_TOTAL
from docsbot.discord.markdown import is_grapheme_break, neutralize_mentions, restrict_links, split_markdown
from docsbot.discord.responses import FLAG_EPHEMERAL as FLAG_EPHEMERAL  # re-exported: the respond side sets it
from docsbot.documents.model import Source

_MAX_LABEL = 200  # a citation label longer than this is cut, so one label cannot crowd out the others
_MAX_LINK_URL = 1000  # longer URLs are shown without a link rather than risk a rejected embed
_MAX_SNIPPET = 280
_MAX_QUERY_SHOWN = 200

# Discord's own hosts may be linked from any answer (a server invite, a support article).
DISCORD_HOSTS = frozenset({"discord.com", ".discord.com", "discord.gg", "discord.new"})

EXTRACTIVE_FOOTER = "Extractive answer: passages quoted from the docs, not written by an AI model."
# An UNCERTAIN answer (the model said the sources do not cover the question fully) says so before anything else,
# and its sources embed takes a warning colour, so nobody mistakes it for a confident answer.
UNCERTAIN_NOTICE = "⚠️ **The docs may not cover this fully.** Check the sources, or ask someone here."
UNCERTAIN_FOOTER = "The AI model said these sources may not fully answer the question."
UNCERTAIN_COLOUR = 0xE3A008  # amber


# --- public API ------------------------------------------------------------------------------------------


def render_answer(answer: Answer, *, thread_key: str, buttons: bool = True) -> list[dict[str, Any]]:
    """The messages that post `answer`, in order: text split to fit, sources embed and buttons on the last."""
    validate_thread_key(thread_key)  # even without buttons: a bad key is a caller bug worth surfacing early
    components = vote_buttons(thread_key) if buttons else None

    text = restrict_links(neutralize_mentions(answer.text), answer_hosts(answer))
    if answer.kind == AnswerKind.UNCERTAIN:
        text = f"{UNCERTAIN_NOTICE}\n\n{text}" if text.strip() else UNCERTAIN_NOTICE
    parts = split_markdown(text)
    embeds = _answer_embeds(answer)
    if not parts and not embeds:
        parts = [_fallback_text(answer.kind)]

    messages: list[dict[str, Any]] = [{"content": part, "allowed_mentions": _no_mentions()} for part in parts]
    if not messages:
        messages.append({"content": "", "allowed_mentions": _no_mentions()})  # the embed carries the message
    last = messages[-1]
    if embeds:
        last["embeds"] = embeds
    if components:
        last["components"] = components
    return messages


def answer_hosts(answer: Answer) -> frozenset[str]:
    """The hosts an answer's text may link to: those of the sections it cites or shows, and Discord's."""
    hosts = set(DISCORD_HOSTS)
    for source in (*(c.source for c in answer.citations), *answer.closest):
        host = urlsplit(source.url).hostname
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)


def render_search_results(sources: Sequence[Source], *, query: str) -> dict[str, Any]:
    """An ephemeral message listing matched sections (link and snippet) for /search."""
    shown_query = _escape_markdown(neutralize_mentions(_truncate(_one_line(query), _MAX_QUERY_SHOWN)))
    message: dict[str, Any] = {"allowed_mentions": _no_mentions(), "flags": FLAG_EPHEMERAL}
    if not sources:
        message["content"] = f"No documentation sections matched **{shown_query}**."
        return message
    entries = []
    for rank, source in enumerate(sources, start=1):
        entry = f"**{rank}.** {_link_line(source)}"
        snippet = _escape_markdown(neutralize_mentions(_truncate(_one_line(source.snippet), _MAX_SNIPPET)))
        if snippet:
            entry += "\n" + snippet
        entries.append(entry)
    title = "Search results"
    description = _fit_lines(entries, limit=min(MAX_EMBED_DESCRIPTION, MAX_EMBEDS_TOTAL - len(title)), sep="\n\n")
    message["content"] = f"Top {len(sources)} section{'s' if len(sources) != 1 else ''} for **{shown_query}**:"
    message["embeds"] = [{"title": title, "description": description}]
    return message


def render_error(text: str, *, ephemeral: bool = True) -> dict[str, Any]:
    """A short message telling the user something went wrong; ephemeral (only they see it) by default."""
    content = neutralize_mentions(text.strip()) or "Sorry, something went wrong. Please try again."
    message: dict[str, Any] = {"content": _truncate(content, MAX_CONTENT), "allowed_mentions": _no_mentions()}
    if ephemeral:
        message["flags"] = FLAG_EPHEMERAL
    return message


# --- embeds ---------------------------------------------------------------------------------------------


def _answer_embeds(answer: Answer) -> list[dict[str, Any]]:
    """Closest matches (NOT_FOUND, and FAILED, whose text promises them) and numbered sources, within the
    per-message embed budget."""
    embeds: list[dict[str, Any]] = []
    budget = MAX_EMBEDS_TOTAL
    if answer.kind in (AnswerKind.NOT_FOUND, AnswerKind.FAILED) and answer.closest:
        title = "Closest matches in the docs"
        lines = [f"• {_link_line(source)}" for source in answer.closest]
        description = _fit_lines(lines, limit=min(MAX_EMBED_DESCRIPTION, budget - len(title)))
        embeds.append({"title": title, "description": description})
        budget -= len(title) + len(description)
    if answer.citations:
        title = "Sources"
        footer = {AnswerKind.EXTRACTIVE: EXTRACTIVE_FOOTER, AnswerKind.UNCERTAIN: UNCERTAIN_FOOTER}.get(answer.kind, "")
        lines = [_citation_line(citation) for citation in answer.citations]
        description = _fit_lines(lines, limit=min(MAX_EMBED_DESCRIPTION, budget - len(title) - len(footer)))
        embed: dict[str, Any] = {"title": title, "description": description}
        if footer:
            embed["footer"] = {"text": footer}
        if answer.kind == AnswerKind.UNCERTAIN:
            embed["color"] = UNCERTAIN_COLOUR
        embeds.append(embed)
    return embeds


def _citation_line(citation: Citation) -> str:
    return f"[{citation.number}] {_link_line(citation.source)}"


def _link_line(source: Source) -> str:
    """`[Page › Section](<url#anchor>)`, the label escaped; plain label when the URL cannot be a link."""
    label = _escape_markdown(neutralize_mentions(_truncate(_one_line(source.label) or source.url, _MAX_LABEL)))
    target = _link_target(source.deep_link)
    return f"[{label}](<{target}>)" if target else label


def _link_target(url: str) -> str | None:
    url = url.strip()
    if not re.match(r"https?://", url, re.IGNORECASE) or len(url) > _MAX_LINK_URL:
        return None
    # Inside <...> only these would end the link early or break it.
    return url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E").replace("\n", "").replace("\t", "")


def _fit_lines(lines: Sequence[str], *, limit: int, sep: str = "\n") -> str:
    """As many leading lines as fit in `limit`, plus "… and N more" when some had to be dropped."""
    total = len(lines)
    sizes = [0]
    for line in lines:
        sizes.append(sizes[-1] + len(line))
    for keep in range(total, -1, -1):
        length = sizes[keep] + len(sep) * max(keep - 1, 0)
        more = f"… and {total - keep} more" if keep < total else ""
        if more:
            length += len(more) + (len(sep) if keep else 0)
        if length <= limit:
            return sep.join([*lines[:keep], *([more] if more else [])])
    return _truncate(f"… and {total} more", limit)


# --- small text helpers ---------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|\[\]])")
_LINE_START_MARKER = re.compile(r"^([#>+-])|^(\d+)\.")


def _escape_markdown(text: str) -> str:
    """Backslash-escape markdown so docs text shows as written (Discord honours `\\` before punctuation)."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LINE_START_MARKER.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\.", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and not is_grapheme_break(text, cut):
        cut -= 1
    space = text.rfind(" ", 0, cut)
    if space > limit * 3 // 4:
        cut = space
    return text[:cut].rstrip() + "…"


def _no_mentions() -> dict[str, list[str]]:
    return {"parse": []}


def _fallback_text(kind: AnswerKind) -> str:
    if kind == AnswerKind.NOT_FOUND:
        return "I couldn't find this in the docs."
    return "Sorry, I couldn't produce an answer this time."
