"""Whole-conversation capture: a finished thread's messages read from Discord with the bot token, stored scrubbed.

The bot runs on HTTP interactions, so it never sees the replies people post in a thread. Once a thread is
solved, closed, marked or voted "not solved", `capture_conversations` (run by the digest job, which holds the bot
token: the respond function deliberately does not) reads its messages with `GET /channels/{thread}/messages`,
newest first, paginated with `before`, and stores the conversation in the store's Learning role:

- every person's message (the thread author's are `question`s, anyone else's `human_reply`), and the bot's
  answers (`bot_answer`) with the sources and outcome the store recorded when each was given;
- which message is the accepted solution, the thread's votes and how it ended (`ThreadView.outcome`).

Bounds: at most `Bounds.pages` requests of 100 messages, `Bounds.messages` messages and `Bounds.bytes` bytes of text
per thread; past them the latest messages are kept and the capture says `truncated`. A 429 waits Discord's
`retry_after` up to the client's bound (`DiscordRest.max_retry_after`), past which the run stops and the next
one resumes. A 403 (the bot may not read the channel) or 404 (the thread is gone) is recorded as the capture's
status, never fatal. Every text is scrubbed (`docsbot.learning.pii`) and every person is a pseudonym before
anything is stored.

Idempotent: a thread is read again only when it changed after its last capture (`updated_at` past the stored
`fetched_at`), and storing an unchanged conversation writes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from docsbot.discord.rest import DiscordError
from docsbot.learning.pii import Scrubber
from docsbot.learning.threads import ThreadView, load_threads
from docsbot.store.model import Conversation, ConversationMessage, ConversationRole, ConversationStatus
from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.learning.conversations")

PAGE = 100  # Discord's maximum per request
BOT_AUTHOR = "docsbot"
# Message types that carry what someone wrote: default, reply, slash-command and context-menu responses, and a
# thread's starter message. Joins, pins, renames and the like are left out.
_CONTENT_TYPES = frozenset({0, 19, 20, 21, 23})


@dataclass(frozen=True)
class Bounds:
    pages: int = 10  # requests per thread
    messages: int = 1000
    bytes: int = 512_000  # of message text: a conversation stays far under Firestore's 1 MiB document


class MessageReader(Protocol):
    """What capture needs of `docsbot.discord.rest.DiscordRest`."""

    def get_messages(self, channel_id: str, *, before: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Fetched:
    messages: list[dict[str, Any]]  # oldest first
    status: ConversationStatus


@dataclass
class CaptureStats:
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        order = ("stored", "unchanged", "up_to_date", "truncated", "forbidden", "not_found", "not_discord", "no_text")
        return ", ".join(f"{self.counts[k]} {k.replace('_', ' ')}" for k in order if self.counts[k]) or "nothing to do"


def fetch_messages(reader: MessageReader, thread_id: str, bounds: Bounds = Bounds()) -> Fetched:
    """The thread's messages, oldest first, within `bounds`; a 403 / 404 gives an empty `forbidden` / `not_found`."""
    newest_first: list[dict[str, Any]] = []
    size = 0
    before: str | None = None
    for _ in range(bounds.pages):
        want = min(PAGE, bounds.messages - len(newest_first))
        try:
            batch = reader.get_messages(thread_id, before=before, limit=want)
        except DiscordError as error:
            if error.status == 403:
                return Fetched([], "forbidden")
            if error.status == 404:
                return Fetched([], "not_found")
            raise  # a 429 past the bound or a 5xx: the whole run stops; the next one resumes here
        for message in batch:
            size += len(_text(message).encode())
            if size > bounds.bytes:
                return Fetched(newest_first[::-1], "truncated")
            newest_first.append(message)
        if len(batch) < want:
            return Fetched(newest_first[::-1], "complete")
        if len(newest_first) >= bounds.messages:
            return Fetched(newest_first[::-1], "truncated")
        before = str(batch[-1]["id"])
    return Fetched(newest_first[::-1], "truncated")


def _text(message: dict[str, Any]) -> str:
    """What a message says: its content, then its embeds' titles and descriptions (the bot answers in embeds)."""
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        if isinstance(embed, dict):
            parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
    return "\n".join(p for p in parts if p)


def build_conversation(
    view: ThreadView, fetched: Fetched, *, bot_id: str, scrubber: Scrubber, now: datetime
) -> Conversation:
    """The conversation to store: Discord's messages joined with what the store knows about each one."""
    stored = {m.message_id: m for m in view.messages}
    solution_id = view.solution.message_id if view.solution else None
    kept = [m for m in fetched.messages if m.get("type", 0) in _CONTENT_TYPES and isinstance(m.get("author"), dict)]
    messages: list[ConversationMessage] = []
    for position, message in enumerate(kept):
        message_id = str(message["id"])
        author_id = str(message["author"].get("id", ""))
        record = stored.get(message_id)
        role: ConversationRole
        if author_id == bot_id:
            following = kept[position + 1] if position + 1 < len(kept) else None
            if (
                record is None
                and following is not None
                and str(following.get("id")) in stored
                and str(following["author"].get("id", "")) == bot_id
            ):
                continue  # an earlier part of a long answer: the stored record holds its whole text
            role = "bot_answer"
        else:
            role = "question" if author_id == view.thread.author_id else "human_reply"
        text = record.content if record is not None and role == "bot_answer" else _text(message)
        messages.append(
            ConversationMessage(
                message_id=message_id,
                author=BOT_AUTHOR if role == "bot_answer" else scrubber.pseudonym("user", author_id),
                role=role,
                content=scrubber.scrub(text),
                created_at=_timestamp(message, now),
                sources=record.sources if record is not None and role == "bot_answer" else (),
                outcome=record.outcome if record is not None and role == "bot_answer" else "",
                solution=message_id == solution_id,
            )
        )
    return Conversation(
        thread_id=view.thread.thread_id,
        collection=view.thread.collection,
        fetched_at=now,
        status=fetched.status,
        outcome=view.outcome,
        messages=tuple(messages),
        solved_votes=view.thread.solved_votes,
        failed_votes=view.thread.failed_votes,
    )


def _timestamp(message: dict[str, Any], fallback: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(message.get("timestamp")))
    except ValueError:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=fallback.tzinfo)


def finished(view: ThreadView) -> bool:
    """Solved, closed, with a marked solution, or voted / reasoned "not solved": worth capturing."""
    thread = view.thread
    return thread.solved or not thread.open or view.solution is not None or bool(thread.failed_votes or view.feedback)


def capture_conversations(
    store: StateStore,
    reader: MessageReader,
    collection: str,
    *,
    since: datetime | None,
    now: datetime,
    bot_id: str,
    scrubber: Scrubber,
    bounds: Bounds = Bounds(),
) -> CaptureStats:
    """Capture every finished thread of `collection` active since `since` that changed since its last capture."""
    stats = CaptureStats()
    for view in load_threads(store, collection, since=since):
        if not finished(view):
            continue
        thread_id = view.thread.thread_id
        if not thread_id.isdigit():
            stats.counts["not_discord"] += 1  # a simulated thread (`docsbot simulate`): nothing to read
            continue
        previous = store.get_conversation(thread_id)
        if previous is not None and previous.fetched_at >= view.thread.updated_at:
            stats.counts["up_to_date"] += 1
            continue
        fetched = fetch_messages(reader, thread_id, bounds)
        conversation = build_conversation(view, fetched, bot_id=bot_id, scrubber=scrubber, now=now)
        if fetched.status != "complete":
            stats.counts[fetched.status] += 1
            if fetched.status != "truncated":
                log.warning("thread not readable", extra={"thread_id": thread_id, "status": fetched.status})
        if _people_without_text(fetched.messages, bot_id):
            stats.counts["no_text"] += 1
        stats.counts["stored" if store.put_conversation(conversation) else "unchanged"] += 1
    if stats.counts["no_text"]:
        # Discord blanks other people's messages for a bot without the privileged intent, REST reads included.
        log.warning(
            "Discord returned people's messages without text: turn on the Message Content intent for the bot "
            "(Developer Portal → Bot → Privileged Gateway Intents)",
            extra={"threads": stats.counts["no_text"]},
        )
    return stats


def _people_without_text(messages: list[dict[str, Any]], bot_id: str) -> bool:
    """Whether every message people wrote came back empty: no text, embed, attachment or sticker."""
    written = [
        m
        for m in messages
        if m.get("type", 0) in _CONTENT_TYPES
        and isinstance(m.get("author"), dict)
        and str(m["author"].get("id", "")) != bot_id
    ]
    return bool(written) and not any(_text(m) or m.get("attachments") or m.get("sticker_items") for m in written)
