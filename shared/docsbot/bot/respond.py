"""The respond function's core: answer one deferred interaction, exactly once.

Cloud Tasks delivers at least once and retries non-2xx answers, so every step is idempotent:

1. claim `interactions/{id}` in a transaction (a second delivery while the first is working gets 503 and
   comes back later; one that finds it done gets 200 and does nothing; an attempt that died half-way
   leaves a lease that expires, and the retry takes over). The claim's number fences every later write:
   once another attempt has claimed the work, this one writes nothing more, anywhere (`docsbot.bot.delivery`);
2. unless the ledger holds a computed answer already: load the thread's conversation, answer (search →
   "not in the docs" / model / extractive), render, and record the result in the ledger (the lease is
   renewed in the background meanwhile);
3. edit the deferred message (`@original`), post follow-ups for long answers, recording each part delivered,
   so a retry resumes at the first part not yet delivered instead of asking the model again;
4. store the question and the answer (with its sources apart), set the thread's controller message;
5. mark the interaction done.

Each attempt has a time limit (`attempt_s`: the function's timeout, within the queue's dispatch deadline): the
answer is computed under a deadline (`docsbot.answer.deadline`) that keeps `DELIVERY_RESERVE_S` of it for
delivering and releasing the claim, and the model's timeout and retries shrink to fit, so an attempt ends (and
hands the work back) before the queue gives up on it.

Retryable failures (a `TransientError` from an adapter: Discord, the model or the index unavailable; a reply
cut off) return 503 while the queue will deliver again and the 15-minute interaction token has time left for
another try: the retries spread over the token's life. Only the last one tells the user (the apology; or, if
part of the answer is out, a note that it is incomplete) instead of staying silent. See
docs/decisions/0008-delivery-and-leases.md.

A "relay" task (a message the gateway relay saw: `docsbot.bot.relay`) takes the same steps, but has no
interaction: a typing indicator stands for "thinking…", and each part is a new channel message in the thread
posted with the bot token, the first replying to the asker's message (`_deliver_to_channel`). Mentions never
ping, the replied-to author included. The relay holds no state, so `/ask`'s quotas for a relay task are taken
here, before the claim (same keys and limits; counted once per message id): over quota, nothing is posted.

Long because: the two deliveries (interaction edits, channel messages) share one claim, ledger and retry
policy, which must stay side by side to stay the same.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from docsbot.answer.deadline import Deadline, within
from docsbot.answer.model import AnswerKind, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.bot.delivery import ClaimGuard, Heartbeat, Plan, StoredAnswer, Superseded, incomplete
from docsbot.bot.tasks import RespondTask
from docsbot.discord.render import FLAG_EPHEMERAL, render_answer, render_error, render_search_results
from docsbot.discord.verify import HeaderItems, header
from docsbot.documents.model import Source
from docsbot.errors import TransientError
from docsbot.index.search import Searcher
from docsbot.store.model import (
    ClaimResult,
    DeliveryProgress,
    InteractionState,
    MessageRecord,
    NewThread,
    SourceRef,
    ThreadRecord,
)
from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.respond")

TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 60  # stop retrying this long before the token dies, to still post the apology
# The longest the queue waits between deliveries (Terraform: tasks.max_backoff): a retry is only worth asking
# for while the token will still be alive when it comes, with time for the attempt.
RETRY_GAP_S = 120
HISTORY_MESSAGES = 20
# Of an attempt's time limit, what the model may not use: for delivering (bounded Discord calls), storing, and
# releasing the claim or apologising before the function's timeout / the queue's dispatch deadline.
DELIVERY_RESERVE_S = 30.0
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


class DiscordChannels(Protocol):
    """The bot-token endpoints relay tasks are answered with (`docsbot.discord.rest.DiscordRest`)."""

    def create_message(self, channel_id: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def trigger_typing(self, channel_id: str) -> None: ...


@dataclass(frozen=True)
class RelayQuotas:
    """`/ask`'s hourly limits (docsbot.bot.questions), applied to relay tasks."""

    user_per_hour: int
    guild_per_hour: int


@dataclass(frozen=True)
class RespondResult:
    status: int  # the HTTP status for Cloud Tasks: 2xx done, 503 retry later
    outcome: str  # "answered", "duplicate", "busy", "expired", "failed", "retry", "superseded", "bad_task", "quota"


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
        if m.content.strip() and m.outcome != "failed"  # an apology is no answer to build on
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
        retry_gap_s: float = RETRY_GAP_S,
        heartbeat_s: float | None = 30.0,  # renew the lease this often while the model works (None: never)
        attempt_s: float = 300.0,  # an attempt's time limit: the function's timeout / the queue's dispatch deadline
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,  # the model's backoff between tries
        channels: DiscordChannels | None = None,  # for relay tasks (needs the bot token); None: refused
        relay_quotas: RelayQuotas | None = None,  # None: relay tasks are not limited
    ) -> None:
        self.store = store
        self.discord = discord
        self.collections = collections
        self.default_collection = default_collection
        self.max_attempts = max_attempts
        self.lease = lease
        self.retry_gap_s = retry_gap_s
        self.heartbeat_s = heartbeat_s
        self.attempt_s = attempt_s
        self.clock = clock
        self.sleep = sleep
        self.channels = channels
        self.relay_quotas = relay_quotas

    def handle(self, body: bytes, headers: HeaderItems | None = None) -> RespondResult:
        """Handle one task delivery (body: `RespondTask` JSON; headers: as Cloud Tasks sends them, whose
        retry count also tells the last delivery, even when earlier ones only found the work busy)."""
        try:
            task = RespondTask.from_json(body)
        except ValueError as error:
            log.error("dropping a malformed task", extra={"reason": str(error)})
            return RespondResult(200, "bad_task")  # retrying cannot fix it
        if task.kind == "relay" and self.channels is None:
            log.error(
                "a relay task, but no bot token to answer it with", extra={"discord_message": task.interaction_id}
            )
            return RespondResult(200, "bad_task")
        now = datetime.fromtimestamp(self.clock(), UTC)
        if task.kind == "relay" and not self._relay_quota(task, now):
            return RespondResult(200, "quota")
        claim = self.store.claim_interaction(task.interaction_id, now=now, lease=self.lease)
        if claim.result is ClaimResult.MISSING:
            self.store.create_interaction(task.interaction_id, now=now, ttl=timedelta(days=2))
            claim = self.store.claim_interaction(task.interaction_id, now=now, lease=self.lease)
        if claim.result is ClaimResult.FINISHED:
            return RespondResult(200, "duplicate")
        if claim.result is not ClaimResult.CLAIMED or claim.record is None:
            return RespondResult(503, "busy")
        record = claim.record
        guard = ClaimGuard(
            self.store,
            task.interaction_id,
            record.attempts,  # the claim's number: the fencing token of every write below
            lease=self.lease,
            clock=self.clock,
            progress=DeliveryProgress(record.answer, record.delivered, record.message_id),
        )
        delivery = max(record.attempts, _delivery_number(headers))
        seconds_left = task.created_at + TOKEN_LIFETIME_S - self.clock()
        if seconds_left <= 5:
            guard.finish(InteractionState.FAILED)
            return RespondResult(200, "expired")
        # The last chance: the queue will not deliver again, or the token would be dead (or nearly) by then.
        last_chance = delivery >= self.max_attempts or seconds_left < self.retry_gap_s + TOKEN_MARGIN_S
        try:
            return self._attempt(task, now, guard, last_chance=last_chance)
        except Superseded:
            log.warning("another attempt took over; stopping", extra={"interaction": task.interaction_id})
            return RespondResult(200, "superseded")

    def _attempt(self, task: RespondTask, now: datetime, guard: ClaimGuard, *, last_chance: bool) -> RespondResult:
        plan: Plan | None = None
        try:
            if guard.progress.answer is None:
                with Heartbeat(guard, self.heartbeat_s), within(self._model_deadline()):
                    plan = self._compute(task, now, last_chance=last_chance)
                guard.check(DeliveryProgress(plan.to_json()))
            else:
                plan = Plan.from_json(guard.progress.answer)  # computed by an earlier attempt: only deliver it
            self._deliver(task, plan, guard)
            if plan.stored is not None:
                guard.check()
                self._store(task, plan.stored, guard.progress.message_id, now)
        except Superseded:
            raise
        except Exception as error:
            log.warning(
                "respond attempt failed",
                extra={"interaction": task.interaction_id, "attempt": guard.attempt, "error": type(error).__name__},
            )
            if plan is not None and guard.progress.delivered >= len(plan.messages):
                # The user has the whole answer; only its record is incomplete. Never overwrite it.
                guard.finish(InteractionState.DONE)
                return RespondResult(200, "answered")
            if is_transient(error) and not last_chance:
                # Hand the work back now (keeping the ledger), so the next delivery can take it whenever it comes.
                if not guard.finish(InteractionState.QUEUED):
                    raise Superseded(
                        f"interaction {task.interaction_id}: taken over while this attempt failed"
                    ) from error
                return RespondResult(503, "retry")
            return self._give_up(task, plan, guard)
        if plan.stored is not None and plan.stored.outcome == "failed":
            guard.finish(InteractionState.FAILED)  # the last chance's apology (with the closest sections)
            return RespondResult(200, "failed")
        guard.finish(InteractionState.DONE)
        return RespondResult(200, "answered")

    def _model_deadline(self) -> Deadline:
        """Until when the answer may be computed: the attempt's limit (or its lease, when nothing renews it), less
        the time kept to deliver, release the claim or apologise. The model's timeout and tries shrink to fit."""
        limit = self.attempt_s if self.heartbeat_s else min(self.attempt_s, self.lease.total_seconds())
        return Deadline(self.clock() + max(0.0, limit - DELIVERY_RESERVE_S), self.clock, self.sleep)

    def _give_up(self, task: RespondTask, plan: Plan | None, guard: ClaimGuard) -> RespondResult:
        """No more tries: tell the user what happened, whatever got through."""
        if plan is not None and guard.progress.delivered > 0:
            # Part of it is out: say it is incomplete rather than leave it looking whole.
            self._tell(task, guard, incomplete(plan.messages[0]))
        else:
            self._tell(task, guard, render_error(APOLOGY, ephemeral=False))
        self._store_failure(task, plan, guard)
        guard.finish(InteractionState.FAILED)
        return RespondResult(200, "failed")

    def _store_failure(self, task: RespondTask, plan: Plan | None, guard: ClaimGuard) -> None:
        """Record the question and the failed answer ("failed") so the learning loop sees it; best effort (the
        store may be what failed). Private questions and searches stay out of the conversation, as always."""
        if task.private or task.kind == "search":
            return
        thread_id = plan.stored.thread_id if plan is not None and plan.stored is not None else None
        text = plan.stored.text if plan is not None and plan.stored is not None else APOLOGY
        try:
            guard.check()
            now = datetime.fromtimestamp(self.clock(), UTC)
            if thread_id is None:
                thread_id = self._thread(task, now).thread_id
            failed = StoredAnswer(thread_id, text, (), set_controller=False, outcome="failed")
            self._store(task, failed, guard.progress.message_id, now)
        except Superseded:
            raise
        except Exception as error:
            log.warning(
                "could not store the failed answer",
                extra={"interaction": task.interaction_id, "error": type(error).__name__},
            )

    def _collection(self, task: RespondTask, thread_collection: str | None) -> str:
        collection = task.collection or thread_collection or self.default_collection
        if not collection:
            raise ValueError("no collection for this channel")
        return collection

    def _compute(self, task: RespondTask, now: datetime, *, last_chance: bool) -> Plan:
        """The answer, rendered: what to send and what to store (no Discord write but the typing indicator)."""
        if task.kind == "relay":
            self._typing(task)
        if task.kind == "search":
            searcher = self.collections.searcher(self._collection(task, None))
            result = searcher.search(task.question, limit=5)
            return Plan([render_search_results(result.sources, query=task.question)])
        thread = self._thread(task, now)
        collection = task.collection or thread.collection
        history = history_turns(self.store.list_messages(thread.thread_id, limit=HISTORY_MESSAGES))
        answer = self.collections.answerer(collection).answer(task.question, history)
        if answer.kind is AnswerKind.FAILED:
            if not last_chance:
                raise TransientError("the chat model failed")
            # The last attempt: the failure text (with the closest sections) is the apology. No buttons; stored
            # as "failed" for the learning loop, and left out of the conversation the model sees next time.
            messages = self._private(task, render_answer(answer, thread_key=thread.thread_id, buttons=False))
            if task.private:
                return Plan(messages)
            return Plan(messages, StoredAnswer(thread.thread_id, answer.text, (), False, outcome="failed"))
        # A private answer has no buttons: it stays out of the thread's shared conversation, so nothing could
        # follow it up privately (issue 15, item 7).
        messages = self._private(task, render_answer(answer, thread_key=thread.thread_id, buttons=not task.private))
        if task.private:
            return Plan(messages)  # a private answer stays out of the thread's shared conversation
        stored = StoredAnswer(
            thread_id=thread.thread_id,
            text=answer.text,
            sources=tuple(_source_ref(c.source) for c in answer.citations),
            set_controller=answer.kind is not AnswerKind.NOT_FOUND,
            outcome=(
                "uncertain"
                if answer.kind is AnswerKind.UNCERTAIN
                else "not_found"
                if answer.kind is AnswerKind.NOT_FOUND
                else "answered"
            ),
        )
        return Plan(messages, stored)

    def _thread(self, task: RespondTask, now: datetime) -> ThreadRecord:
        return self.store.ensure_thread(
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

    @staticmethod
    def _private(task: RespondTask, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not task.private:
            return messages
        return [messages[0], *({**m, "flags": FLAG_EPHEMERAL} for m in messages[1:])]

    def _deliver(self, task: RespondTask, plan: Plan, guard: ClaimGuard) -> None:
        """Send the parts not delivered yet, in order; each is fenced before and recorded after."""
        if task.kind == "relay":
            self._deliver_to_channel(task, plan, guard)
            return
        for index in range(guard.progress.delivered, len(plan.messages)):
            guard.check()  # renews the lease too: the takeover cannot happen while this call is in flight
            if index == 0:
                sent = self.discord.edit_original(task.token, plan.messages[0])
                guard.delivered(1, str(sent.get("id") or "") or None)
            else:
                sent = self.discord.create_followup(task.token, plan.messages[index])
                # The last message carries the buttons: its id is the answer's (buttons are honoured on it).
                guard.delivered(index + 1, str(sent.get("id") or "") or None)

    def _store(self, task: RespondTask, stored: StoredAnswer, message_id: str | None, now: datetime) -> None:
        bot_message_id = message_id or f"{task.interaction_id}-answer"
        question_id = task.source_message_id or f"{task.interaction_id}-question"
        self.store.add_message(
            MessageRecord(
                message_id=question_id,
                thread_id=stored.thread_id,
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
                thread_id=stored.thread_id,
                author_id=task.application_id,
                content=stored.text,
                from_bot=True,
                created_at=now + timedelta(microseconds=1),
                sources=stored.sources,
                outcome=stored.outcome,  # the learning loop's record of how this answer ended
            )
        )
        if stored.set_controller:
            self.store.set_thread_controller(stored.thread_id, bot_message_id, now)

    def _tell(self, task: RespondTask, guard: ClaimGuard, message: dict[str, Any]) -> None:
        """Edit `@original` to say what happened: fenced, and best effort (the token may be gone)."""
        guard.check()
        if task.kind == "relay":
            self._tell_channel(task, message)
            return
        try:
            self.discord.edit_original(task.token, message)
        except Exception:  # the token may be gone; there is nobody left to tell
            log.warning("could not tell the user", extra={"interaction": task.interaction_id})

    # --- relay tasks: channel messages with the bot token ----------------------------------------------------

    def _relay_quota(self, task: RespondTask, now: datetime) -> bool:
        """Take `/ask`'s quotas for a relay task (the same keys: one budget however a person asks)."""
        if self.relay_quotas is None:
            return True
        hour, use = timedelta(hours=1), task.interaction_id
        limits = [(f"user:{task.user_id}", self.relay_quotas.user_per_hour)]
        if task.guild_id:
            limits.append((f"guild:{task.guild_id}", self.relay_quotas.guild_per_hour))
        for key, limit in limits:
            if not self.store.take_quota(key, limit=limit, window=hour, now=now, use_id=use).allowed:
                # Logged, not said: nobody typed a command, and a reply to every post over quota would be spam.
                log.info("relay question over quota", extra={"discord_message": use, "quota": key.split(":")[0]})
                return False
        return True

    def _typing(self, task: RespondTask) -> None:
        """The relay's "thinking…": best effort, an answer matters more than the indicator."""
        assert self.channels is not None  # checked in handle()
        try:
            self.channels.trigger_typing(task.channel_id)
        except Exception as error:
            log.info(
                "typing indicator failed", extra={"discord_message": task.interaction_id, "error": type(error).__name__}
            )

    def _deliver_to_channel(self, task: RespondTask, plan: Plan, guard: ClaimGuard) -> None:
        """Post the parts not delivered yet into the thread, the first replying to the asker's message."""
        assert self.channels is not None  # checked in handle()
        for index in range(guard.progress.delivered, len(plan.messages)):
            guard.check()
            payload = channel_message(plan.messages[index], reply_to=task.source_message_id if index == 0 else None)
            sent = self.channels.create_message(task.channel_id, payload)
            guard.delivered(index + 1, str(sent.get("id") or "") or None)

    def _tell_channel(self, task: RespondTask, message: dict[str, Any]) -> None:
        assert self.channels is not None  # checked in handle()
        try:
            self.channels.create_message(task.channel_id, channel_message(message, reply_to=task.source_message_id))
        except Exception:  # the thread may be gone or locked; there is nobody left to tell
            log.warning("could not tell the user", extra={"discord_message": task.interaction_id})


def channel_message(payload: dict[str, Any], *, reply_to: str | None) -> dict[str, Any]:
    """An interaction message payload as a channel message: no interaction-only flags, a reply to `reply_to`
    (still posted if that message was deleted), and no ping, not even of the author replied to."""
    message = {k: v for k, v in payload.items() if k != "flags"}
    message["allowed_mentions"] = {**payload.get("allowed_mentions", {"parse": []}), "replied_user": False}
    if reply_to:
        message["message_reference"] = {"message_id": reply_to, "fail_if_not_exists": False}
    return message


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
