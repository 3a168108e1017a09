"""Admitting a question: check it, find its conversation and collection, take the quota, queue one task.

`Questions.admit` either queues exactly one `RespondTask`, named after the interaction id (a repeated delivery
of the same interaction queues nothing more), or returns the refusal to show the user and queues nothing.
Collection choice: the user's option, else the conversation's, else the channel's or its parent's mapping,
else the default, else the only enabled one, else the user is asked to choose. The default collection counts as
enabled even when no collections file declares it (`Catalog.with_default`). Imports nothing heavy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from docsbot.bot.tasks import RespondTask, TaskKind, TaskQueue
from docsbot.discord.commands import MAX_QUESTION
from docsbot.discord.interaction import Interaction
from docsbot.settings.catalog import Catalog, CollectionRecord
from docsbot.store.model import InteractionState
from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.interactions")

MAX_QUESTION_CHARS = MAX_QUESTION
INTERACTION_TTL = timedelta(days=2)


@dataclass(frozen=True)
class Question:
    """One question to answer later, and where it belongs."""

    kind: TaskKind
    text: str
    collection: object  # the user's choice (an option value), or None
    private: bool
    source_message_id: str | None = None  # context menu: the message asked about
    thread_id: str | None = None  # the conversation, when the caller knows it (the follow-up modal)
    author_id: str | None = None  # who owns the conversation, when the caller knows it


class Questions:
    """Admits questions into the queue: the state, the queue, the quotas and the collections they need."""

    def __init__(
        self,
        store: StateStore,
        queue: TaskQueue,
        catalog: Catalog,
        *,
        default_collection: str | None,
        user_per_hour: int,
        guild_per_hour: int,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.queue = queue
        self.default_collection = default_collection
        self.user_per_hour = user_per_hour
        self.guild_per_hour = guild_per_hour
        self.clock = clock
        # With no collections file the default collection is still offered (and answered from).
        self.catalog = catalog.with_default(default_collection)

    def admit(self, interaction: Interaction, asked: Question) -> str | None:
        """Queue `asked` (once per interaction id); or the refusal to show the user, with nothing queued."""
        kind, thread_id, author_id = asked.kind, asked.thread_id, asked.author_id
        question = asked.text.strip()
        if not question:
            return "Please ask a question (the message has no text I could read)."
        if len(question) > MAX_QUESTION_CHARS:
            if kind != "context_ask":
                return f"That question is too long: please keep it under {MAX_QUESTION_CHARS} characters."
            question = question[:MAX_QUESTION_CHARS]  # a long forum post (logs...): its start says what it is about
        in_thread = interaction.channel is not None and interaction.channel.is_thread
        # A thread is one conversation; in a plain channel each question starts its own.
        thread_id = thread_id or (interaction.channel_id if in_thread else interaction.id)
        if author_id is None:
            owner = interaction.channel.owner_id if in_thread and interaction.channel else None
            author_id = owner or interaction.user_id
        collection, problem = self.resolve_collection(interaction, asked.collection)
        if problem:
            return problem
        refusal = self._take_quota(interaction)
        if refusal:
            return refusal
        now = datetime.fromtimestamp(self.clock(), UTC)
        created = self.store.create_interaction(interaction.id, now=now, ttl=INTERACTION_TTL)
        if created:
            task = RespondTask(
                interaction_id=interaction.id,
                application_id=interaction.application_id,
                token=interaction.token,
                kind=kind,
                question=question,
                user_id=interaction.user_id,
                channel_id=interaction.channel_id or "",
                created_at=self.clock(),
                guild_id=interaction.guild_id,
                collection=collection,
                private=asked.private,
                member_roles=tuple(interaction.member_roles),
                thread_title=interaction.channel.name if interaction.channel and interaction.channel.name else "",
                source_message_id=asked.source_message_id,
                thread_id=thread_id,
                author_id=author_id,
            )
            try:
                self.queue.enqueue(task)
            except Exception as error:  # the queue is down: say so now rather than leave "thinking…" forever
                log.error("enqueue failed", extra={"interaction": interaction.id, "error": type(error).__name__})
                self.store.finish_interaction(interaction.id, InteractionState.FAILED, now=now)
                return "Sorry, I can't take questions right now. Please try again in a minute."
        return None

    def collections(self) -> list[CollectionRecord]:
        """The enabled collections of the collections file (the catalog changes with a deploy)."""
        return self.catalog.enabled()

    def resolve_collection(self, interaction: Interaction, chosen: object) -> tuple[str | None, str | None]:
        """(collection, problem): the option, else the channel's or its parent's mapping, else the default."""
        enabled = {c.name for c in self.collections()}
        if chosen:
            name = str(chosen)
            if name not in enabled:
                known = ", ".join(sorted(enabled)) or "none"
                return None, f"I don't know the collection `{name[:100]}`. Available here: {known}."
            return name, None
        thread = self.store.get_thread(interaction.channel_id) if interaction.channel_id else None
        if thread is not None and thread.collection in enabled:
            return thread.collection, None
        for channel_id in (interaction.channel_id, interaction.channel.parent_id if interaction.channel else None):
            if channel_id:
                mapped = self.catalog.channel_collection(channel_id)
                if mapped in enabled:
                    return mapped, None
        if self.default_collection and self.default_collection in enabled:
            return self.default_collection, None
        if len(enabled) == 1:
            return next(iter(enabled)), None
        known = ", ".join(sorted(enabled)) or "none is configured yet"
        return None, f"Which docs should I search? Pick one with the `collection` option ({known})."

    def _take_quota(self, interaction: Interaction) -> str | None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        hour = timedelta(hours=1)
        # Counted once per interaction id: a repeated delivery of the same interaction costs nothing more.
        user = self.store.take_quota(
            f"user:{interaction.user_id}", limit=self.user_per_hour, window=hour, now=now, use_id=interaction.id
        )
        if not user.allowed:
            minutes = max(1, int((user.reset_at - now).total_seconds() // 60))
            return (
                f"You've asked {user.limit} questions this hour, my limit per person. "
                f"Please try again in {minutes} min."
            )
        if interaction.guild_id:
            guild = self.store.take_quota(
                f"guild:{interaction.guild_id}", limit=self.guild_per_hour, window=hour, now=now, use_id=interaction.id
            )
            if not guild.allowed:
                return "This server has reached its question budget for this hour. Please try again a bit later."
        return None
