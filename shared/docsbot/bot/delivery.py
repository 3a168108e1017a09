"""Delivering a computed answer under a fenced claim: the plan kept in the interaction ledger, and the guard.

An attempt of the respond function first computes its answer into a `Plan` (the Discord messages to send, in
order, and what to store afterwards) and records it in the interaction's ledger; then it sends the messages
one by one, recording after each how many Discord accepted. A later attempt (after a 429, a Discord outage,
a crash) finds the plan and resumes at the first message not yet delivered: the model is never asked twice
for one interaction once an answer exists, and no part is posted twice.

`ClaimGuard` is the fence: before every write (to Discord or to the store) the attempt renews its claim,
which succeeds only while its claim number is still the interaction's (`docsbot.store.rules.holds_claim`).
Once another attempt has claimed the work, every write of the old one is refused (`Superseded`). Renewing
just before a write also extends the lease, so a takeover cannot happen while a bounded Discord call is in
flight. `Heartbeat` renews in the background while the attempt waits on the model, so a slow model call does
not lose the lease.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from docsbot.store.model import ANSWER_OUTCOMES, AnswerOutcome, DeliveryProgress, InteractionState, SourceRef
from docsbot.store.ports import InteractionLedger

log = logging.getLogger("docsbot.respond")

INCOMPLETE_NOTE = "\n\n*(This answer is incomplete: I could not post the rest of it. Please ask again.)*"
MAX_CONTENT = 2000


class Superseded(Exception):
    """Another attempt holds the claim now: this one must stop without writing anything anywhere."""


@dataclass(frozen=True)
class StoredAnswer:
    """What to store once the answer is delivered: the question and the answer, in the thread's conversation."""

    thread_id: str
    text: str
    sources: tuple[SourceRef, ...]
    set_controller: bool  # a real answer takes the thread's controls; "not in the docs" does not
    outcome: AnswerOutcome = "answered"  # how the answer ended, for the learning loop ("failed": the apology)


@dataclass(frozen=True)
class Plan:
    """A computed answer ready to deliver: `messages[0]` edits `@original`, the rest are follow-ups."""

    messages: list[dict[str, Any]]
    stored: StoredAnswer | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        stored = raw.get("stored")
        return cls(
            messages=list(raw["messages"]),
            stored=None
            if stored is None
            else StoredAnswer(
                thread_id=stored["thread_id"],
                text=stored["text"],
                sources=tuple(
                    SourceRef(s["title"], tuple(s["heading_path"]), s["url"], s["anchor"]) for s in stored["sources"]
                ),
                set_controller=bool(stored["set_controller"]),
                outcome=_outcome(stored.get("outcome"), bool(stored["set_controller"])),
            ),
        )


def _outcome(raw: object, set_controller: bool) -> AnswerOutcome:
    for outcome in ANSWER_OUTCOMES:
        if raw == outcome:
            return outcome
    # A ledger written before outcomes were kept in it: a real answer took the controls, "not found" did not.
    return "answered" if set_controller else "not_found"


def incomplete(message: dict[str, Any]) -> dict[str, Any]:
    """`message` (the first part) marked as an incomplete answer, without buttons: said, never implied."""
    content = str(message.get("content") or "")
    content = content[: MAX_CONTENT - len(INCOMPLETE_NOTE)] + INCOMPLETE_NOTE
    marked = {key: value for key, value in message.items() if key != "components"}
    marked["content"] = content
    return marked


class ClaimGuard:
    """Claim number `attempt` on one interaction: renews it, records progress, finishes it; all fenced."""

    def __init__(
        self,
        store: InteractionLedger,
        interaction_id: str,
        attempt: int,
        *,
        lease: timedelta,
        clock: Callable[[], float],
        progress: DeliveryProgress,
    ) -> None:
        self.store = store
        self.interaction_id = interaction_id
        self.attempt = attempt
        self.lease = lease
        self.clock = clock
        self.progress = progress
        self._lock = threading.Lock()  # the heartbeat and the attempt renew from two threads

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def check(self, progress: DeliveryProgress | None = None) -> None:
        """Renew the claim (recording `progress`), or raise `Superseded` when another attempt holds it."""
        with self._lock:
            held = self.store.renew_interaction(
                self.interaction_id, attempt=self.attempt, now=self._now(), lease=self.lease, progress=progress
            )
            if not held:
                raise Superseded(f"interaction {self.interaction_id}: attempt {self.attempt} lost its claim")
            if progress is not None:
                self.progress = progress

    def delivered(self, count: int, message_id: str | None) -> None:
        """Record that Discord accepted the first `count` messages."""
        self.check(replace(self.progress, delivered=count, message_id=message_id or self.progress.message_id))

    def finish(self, state: InteractionState) -> bool:
        """Finish the interaction as `state` if this attempt still holds it."""
        with self._lock:
            return self.store.finish_interaction(self.interaction_id, state, now=self._now(), attempt=self.attempt)


class Heartbeat:
    """Renews a claim every `every_s` seconds in a background thread while a long step (the model) runs.

    A lost claim is remembered (`lost`), and the attempt's next `check()` raises `Superseded` anyway."""

    def __init__(self, guard: ClaimGuard, every_s: float | None) -> None:
        self.guard = guard
        self.every_s = every_s
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.every_s is not None and self.every_s > 0:
            self._thread = threading.Thread(target=self._run, name="respond-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self.every_s is not None
        while not self._stop.wait(self.every_s):
            try:
                self.guard.check()
            except Superseded:
                self.lost = True
                return
            except Exception as error:  # a store hiccup: the next beat (or the attempt's own check) retries
                log.warning("lease renewal failed", extra={"error": type(error).__name__})
