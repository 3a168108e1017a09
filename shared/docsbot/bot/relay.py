"""The gateway relay's core: should a message be answered, and as what respond task; then admit it once.

`decide` is pure: from a message the Gateway delivered (as plain data, no discord.py types), the bot's user
id and the collections catalog, it returns `Ignore(reason)` or `Ask`. Rules:

- edits, direct messages, the bot's own messages and other bots' are ignored, and so are servers outside
  `DOCSBOT_ALLOWED_GUILDS`;
- only threads are read, and only threads whose parent channel (a forum, usually) is mapped to an enabled
  collection with `auto_answer` other than "off": a channel that is not mapped is never read, even where
  `/ask` was used;
- a forum post's starter message (its id is the thread's id) is a question when the channel's mode is
  "new_threads" (or when it mentions the bot);
- any later message in such a thread that mentions the bot, or replies to one of its messages, is a
  follow-up: the responder continues the thread's conversation (the same thread record `/ask` and the
  buttons use), or starts it.

`Relay.admit` queues one "relay" `RespondTask` named after the message id: the queue refuses a second task of
that name (a duplicate event, a resumed or reconnected session replaying it), and the responder's ledger
answers a task once. The relay holds no state and touches no database — in the cloud its service account may
only enqueue tasks — so `/ask`'s quotas are taken by the responder before it answers a relay task
(`RespondHandler`, same keys and limits). The queue call blocks; the gateway adapter runs `admit` off its
event loop. Imports nothing heavy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from docsbot.bot.tasks import RespondTask, TaskQueue
from docsbot.discord.commands import MAX_QUESTION
from docsbot.settings.catalog import Catalog

log = logging.getLogger("docsbot.relay")


@dataclass(frozen=True)
class ThreadInfo:
    """The thread a message was posted in, as the Gateway described it."""

    thread_id: str
    parent_id: str | None  # the forum or text channel the thread belongs to
    name: str = ""
    owner_id: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A message the Gateway delivered (MESSAGE_CREATE, or MESSAGE_UPDATE with `edited`)."""

    message_id: str
    channel_id: str
    guild_id: str | None
    author_id: str
    author_is_bot: bool
    content: str
    mentions: frozenset[str] = frozenset()  # user ids mentioned
    replied_to_author_id: str | None = None  # the author of the message this one replies to
    thread: ThreadInfo | None = None  # None: not a thread (or one the gateway cache does not know)
    member_roles: tuple[str, ...] = ()
    edited: bool = False


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class Ask:
    """Answer this message: `question` from `collection`, in the conversation `thread_id`."""

    why: Literal["new_thread", "mention"]
    question: str
    collection: str
    thread_id: str
    author_id: str  # who owns the conversation
    title: str


Decision = Ignore | Ask


def decide(
    message: IncomingMessage,
    *,
    bot_user_id: str,
    catalog: Catalog,
    allowed_guilds: frozenset[str] | None,
) -> Decision:
    """Whether the relay answers `message`, and how (see the module docstring for the rules)."""
    if message.edited:
        return Ignore("edit")
    if message.author_id == bot_user_id:
        return Ignore("own message")
    if message.author_is_bot:
        return Ignore("bot")
    if message.guild_id is None:
        return Ignore("direct message")
    if allowed_guilds is not None and message.guild_id not in allowed_guilds:
        return Ignore("guild not allowed")
    thread = message.thread
    if thread is None or thread.parent_id is None or message.channel_id != thread.thread_id:
        return Ignore("not in a known thread")
    mode = catalog.auto_answer(thread.parent_id)
    mapped = catalog.channel_collection(thread.parent_id)
    enabled = {c.name for c in catalog.enabled()}
    if mode == "off" or mapped is None:
        return Ignore("channel not mapped or auto-answer off")
    addressed = bot_user_id in message.mentions or message.replied_to_author_id == bot_user_id
    question = question_text(message.content, bot_user_id)
    starter = message.message_id == thread.thread_id  # a forum post: its first message has the thread's id
    if starter and (mode == "new_threads" or addressed):
        if thread.name and thread.name.strip().lower() not in question.lower():
            question = f"{thread.name.strip()}\n\n{question}".strip()  # a forum post's title often is the question
        why: Literal["new_thread", "mention"] = "new_thread"
        author = message.author_id
    elif addressed and not starter:
        why = "mention"
        author = thread.owner_id or message.author_id  # the responder keeps the owner it already knows
    else:
        return Ignore("not addressed to the bot")
    if mapped not in enabled:
        return Ignore("collection disabled")
    if not question:
        return Ignore("no question")
    return Ask(why, question[:MAX_QUESTION], mapped, thread.thread_id, author, thread.name)


def question_text(content: str, bot_user_id: str) -> str:
    """The message's text without the mentions of the bot (`<@id>` and the older `<@!id>`)."""
    return re.sub(rf"<@!?{re.escape(bot_user_id)}>", " ", content).strip()


def relay_task(message: IncomingMessage, ask: Ask, *, application_id: str, now: float) -> RespondTask:
    """The respond task for `message`: answered in its thread, replying to it, in the thread's conversation."""
    return RespondTask(
        interaction_id=message.message_id,
        application_id=application_id,
        token="",  # no interaction: the responder posts with the bot token
        kind="relay",
        question=ask.question,
        user_id=message.author_id,
        channel_id=message.channel_id,
        created_at=now,
        guild_id=message.guild_id,
        collection=ask.collection,
        member_roles=message.member_roles,
        thread_title=ask.title,
        source_message_id=message.message_id,
        thread_id=ask.thread_id,
        author_id=ask.author_id,
    )


class Relay:
    """Admits relayed messages: the decision, then one queued task per message id."""

    def __init__(
        self,
        queue: TaskQueue,
        catalog: Catalog,
        *,
        application_id: str,
        allowed_guilds: frozenset[str] | None,
        clock: Callable[[], float],
    ) -> None:
        self.queue = queue
        self.catalog = catalog
        self.application_id = application_id
        self.allowed_guilds = allowed_guilds
        self.clock = clock

    def admit(self, message: IncomingMessage, *, bot_user_id: str) -> str:
        """Queue `message` when it is to be answered (once per message id); returns the outcome, for logs."""
        decision = decide(message, bot_user_id=bot_user_id, catalog=self.catalog, allowed_guilds=self.allowed_guilds)
        if isinstance(decision, Ignore):
            return f"ignored: {decision.reason}"
        task = relay_task(message, decision, application_id=self.application_id, now=self.clock())
        try:
            queued = self.queue.enqueue(task)
        except Exception as error:  # the queue is down: this message goes unanswered, and says so in the logs
            log.error(
                "relay enqueue failed", extra={"discord_message": message.message_id, "error": type(error).__name__}
            )
            return "failed"
        return "queued" if queued else "duplicate"
