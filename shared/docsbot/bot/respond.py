"""The respond function's core: answer one deferred interaction, exactly once.

Cloud Tasks delivers at least once and retries non-2xx answers, so every step is idempotent:

1. claim `interactions/{id}` in a transaction (a second delivery while the first is working gets 503 and
   comes back later; one that finds it done gets 200 and does nothing; an attempt that died half-way
   leaves a lease that expires, and the retry takes over);
2. load the thread's conversation, answer (search → "not in the docs" / model / extractive), render;
3. edit the deferred message (`@original`), post follow-ups for long answers;
4. store the question and the answer (with its sources apart), set the thread's controller message;
5. mark the interaction done.

Retryable failures (a `TransientError` from an adapter: Discord, the model or the index unavailable)
return 503 while attempts remain and the 15-minute interaction token has time left; the last attempt tells
the user instead of staying silent.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from docsbot.answer.model import Answer, AnswerKind, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.bot.tasks import RespondTask
from docsbot.discord.render import FLAG_EPHEMERAL, render_answer, render_error, render_search_results
from docsbot.discord.verify import HeaderItems, header
from docsbot.documents.model import Source
from docsbot.errors import TransientError
from docsbot.index.search import Searcher
from docsbot.store.model import ClaimResult, InteractionState, MessageRecord, NewThread, SourceRef
from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.respond")

TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 60  # stop retrying this long before the token dies, to still post the apology
HISTORY_MESSAGES = 20
APOLOGY = (
    "Sorry, I couldn't answer this time: something went wrong on my side. "
    "Please try again in a few minutes, or ask a human here."
)


class CollectionServices(Protocol):
    """What the responder needs per docs collection (built once per process by `docsbot.app.bot`)."""

    def searcher(self, collection: str) -> Searcher: ...

    def answerer(self, collection: str) -> Answerer: ...


class DiscordWebhooks(Protocol):
    def edit_original(self, token: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def create_followup(self, token: str, payload: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RespondResult:
    status: int  # the HTTP status for Cloud Tasks: 2xx done, 503 retry later
    outcome: str  # "answered", "duplicate", "busy", "expired", "failed", "retry", "bad_task"


def _source_ref(source: Source) -> SourceRef:
    return SourceRef(title=source.title, heading_path=source.heading_path, url=source.url, anchor=source.anchor)


def _source(ref: SourceRef) -> Source:
    return Source(title=ref.title, heading_path=ref.heading_path, url=ref.url, anchor=ref.anchor, snippet="", score=0)


def history_turns(messages: list[MessageRecord]) -> list[Turn]:
    """The stored conversation as turns; the sources the bot cited stay apart from the text."""
    return [
        Turn(
            role="assistant" if m.from_bot else "user",
            content=m.content,
            sources=tuple(_source(r) for r in m.sources),
        )
        for m in messages
        if m.content.strip()
    ]


class RespondHandler:
    """Answers deferred interactions. Adapters come in; nothing here reads the environment."""

    def __init__(
        self,
        store: StateStore,
        discord: DiscordWebhooks,
        collections: CollectionServices,
        *,
        default_collection: str | None = None,
        max_attempts: int = 5,
        lease: timedelta = timedelta(minutes=2),  # the queue's retries must outlast it (infra: tasks_min_backoff)
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.discord = discord
        self.collections = collections
        self.default_collection = default_collection
        self.max_attempts = max_attempts
        self.lease = lease
        self.clock = clock

    def handle(self, body: bytes, headers: HeaderItems | None = None) -> RespondResult:
        """Handle one task delivery (body: `RespondTask` JSON; headers: as Cloud Tasks sends them, whose
        retry count also tells the last delivery, even when earlier ones only found the work busy)."""
        try:
            task = RespondTask.from_json(body)
        except ValueError as error:
            log.error("dropping a malformed task", extra={"reason": str(error)})
            return RespondResult(200, "bad_task")  # retrying cannot fix it
        now = datetime.fromtimestamp(self.clock(), UTC)
        claim = self.store.claim_interaction(task.interaction_id, now=now, lease=self.lease)
        if claim.result is ClaimResult.MISSING:
            self.store.create_interaction(task.interaction_id, now=now, ttl=timedelta(days=2))
            claim = self.store.claim_interaction(task.interaction_id, now=now, lease=self.lease)
        if claim.result is ClaimResult.FINISHED:
            return RespondResult(200, "duplicate")
        if claim.result is not ClaimResult.CLAIMED or claim.record is None:
            return RespondResult(503, "busy")
        attempt = max(claim.record.attempts, _delivery_number(headers))
        seconds_left = task.created_at + TOKEN_LIFETIME_S - self.clock()
        if seconds_left <= 5:
            self.store.finish_interaction(task.interaction_id, InteractionState.FAILED, now=now)
            return RespondResult(200, "expired")
        last_chance = attempt >= self.max_attempts or seconds_left < TOKEN_MARGIN_S * 2
        progress = _Progress()
        try:
            self._respond(task, now, progress, last_chance=last_chance)
        except Exception as error:
            retry = is_transient(error)
            log.warning(
                "respond attempt failed",
                extra={"interaction": task.interaction_id, "attempt": attempt, "error": type(error).__name__},
            )
            if progress.posted:
                # The user has the answer; only its record is incomplete. Never overwrite it with an apology,
                # and never post it twice.
                self.store.finish_interaction(task.interaction_id, InteractionState.DONE, now=now)
                return RespondResult(200, "answered")
            if retry and not last_chance:
                # Hand the work back now, so the next delivery can take it whenever it comes.
                self.store.finish_interaction(task.interaction_id, InteractionState.QUEUED, now=now)
                return RespondResult(503, "retry")
            self._apologise(task)
            self.store.finish_interaction(task.interaction_id, InteractionState.FAILED, now=now)
            return RespondResult(200, "failed")
        self.store.finish_interaction(task.interaction_id, InteractionState.DONE, now=now)
        return RespondResult(200, "answered")

    def _collection(self, task: RespondTask, thread_collection: str | None) -> str:
        collection = task.collection or thread_collection or self.default_collection
        if not collection:
            raise ValueError("no collection for this channel")
        return collection

    def _respond(self, task: RespondTask, now: datetime, progress: _Progress, *, last_chance: bool) -> None:
        if task.kind == "search":
            searcher = self.collections.searcher(self._collection(task, None))
            result = searcher.search(task.question, limit=5)
            payload = render_search_results(result.sources, query=task.question)
            self.discord.edit_original(task.token, payload)
            return
        thread = self.store.ensure_thread(
            NewThread(
                thread_id=task.thread_id or task.channel_id,
                collection=self._collection(task, None),
                author_id=task.author_id or task.user_id,
                guild_id=task.guild_id,
                channel_id=task.channel_id,
                title=task.thread_title,
            ),
            now,
        )
        collection = task.collection or thread.collection
        history = history_turns(self.store.list_messages(thread.thread_id, limit=HISTORY_MESSAGES))
        answer = self.collections.answerer(collection).answer(task.question, history)
        if answer.kind is AnswerKind.FAILED:
            if not last_chance:
                raise TransientError("the chat model failed")
            # The last attempt: the failure text (with the closest sections) is the apology. No buttons, and
            # nothing stored: it is not an answer the conversation should build on.
            self._post(task, render_answer(answer, thread_key=thread.thread_id, buttons=False), progress)
            return
        self._post_and_store(task, thread.thread_id, answer, now, progress)

    def _post(self, task: RespondTask, messages: list[dict[str, Any]], progress: _Progress) -> dict[str, Any]:
        if task.private:
            messages = [messages[0], *({**m, "flags": FLAG_EPHEMERAL} for m in messages[1:])]
        posted = self.discord.edit_original(task.token, messages[0])
        progress.posted = True
        for extra in messages[1:]:
            posted = self.discord.create_followup(task.token, extra)
        return posted  # the last message: the one carrying the buttons

    def _post_and_store(
        self, task: RespondTask, thread_id: str, answer: Answer, now: datetime, progress: _Progress
    ) -> None:
        # A private answer has no buttons: it stays out of the thread's shared conversation, so nothing could
        # follow it up privately (issue 15, item 7).
        with_buttons = self._post(task, render_answer(answer, thread_key=thread_id, buttons=not task.private), progress)
        if task.private:
            return
        # The message with the buttons is the answer's id: the interactions side honours buttons on stored answers.
        bot_message_id = str(with_buttons.get("id") or f"{task.interaction_id}-answer")
        question_id = task.source_message_id or f"{task.interaction_id}-question"
        self.store.add_message(
            MessageRecord(
                message_id=question_id,
                thread_id=thread_id,
                author_id=task.user_id,
                content=task.question,
                from_bot=False,
                created_at=now,
                asked_bot=True,
            )
        )
        self.store.add_message(
            MessageRecord(
                message_id=bot_message_id,
                thread_id=thread_id,
                author_id=task.application_id,
                content=answer.text,
                from_bot=True,
                created_at=now + timedelta(microseconds=1),
                sources=tuple(_source_ref(c.source) for c in answer.citations),
            )
        )
        if answer.kind is not AnswerKind.NOT_FOUND:
            self.store.set_thread_controller(thread_id, bot_message_id, now)

    def _apologise(self, task: RespondTask) -> None:
        try:
            self.discord.edit_original(task.token, render_error(APOLOGY, ephemeral=False))
        except Exception:  # the token may be gone; there is nobody left to tell
            log.warning("could not post the apology", extra={"interaction": task.interaction_id})


class _Progress:
    """How far an attempt got: once the answer is posted, a later failure must not post anything else."""

    def __init__(self) -> None:
        self.posted = False


# Retryable faults of code that does not raise `TransientError` (yet), by their real classes: Firestore's
# (google.api_core's own classification of transient), the Firestore store's contention, and requests' from
# any client built on it. An exception of a module never imported cannot have been raised, so the classes
# are looked up in sys.modules: nothing here imports those libraries.
_TRANSIENT_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "google.api_core.exceptions": (
        *("ServiceUnavailable", "DeadlineExceeded", "Aborted", "InternalServerError", "TooManyRequests"),
    ),
    "docsbot.store.firestore": ("ContentionError",),
    "requests": ("ConnectionError", "Timeout"),
}


def is_transient(error: BaseException) -> bool:
    """Whether another attempt later may succeed: a timeout, rate limit, server error or lost connection."""
    if isinstance(error, TransientError | ConnectionError | TimeoutError):
        return True
    for module_name, class_names in _TRANSIENT_ELSEWHERE.items():
        module = sys.modules.get(module_name)
        if module is not None and isinstance(error, tuple(getattr(module, name) for name in class_names)):
            return True
    return False


def _delivery_number(headers: HeaderItems | None) -> int:
    """1 for Cloud Tasks' first delivery of a task, 2 for its first retry... (0 when unknown)."""
    if headers is None:
        return 0
    raw = header(headers, "X-CloudTasks-TaskRetryCount")
    return int(raw) + 1 if raw and raw.isdigit() else 0
