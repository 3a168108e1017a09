"""Threads read back from the store with everything the learning loop needs, and how each one ended.

`load_threads` gathers, per thread of a collection: its messages (bounded), its accepted solution, its "not
solved" reasons; `ThreadView` answers the questions export and the gaps report ask: what was asked, what solved
it (a person's message, the bot's answer, or nothing), and the outcome of the thread as a whole.
`solved_threads` reads only what the solved-threads source (`docsbot.sources.threads`) indexes: the solved
threads with their accepted answer, the latest first up to a bound, and how many threads it listed (solved or
not: the drop guard's count). Pure reads: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from docsbot.store.model import Feedback, MessageRecord, Solution, ThreadRecord
from docsbot.store.ports import StateStore

MAX_MESSAGES = 200  # per thread: a support thread longer than this is exported by its latest messages

# How a thread ended, from the learning loop's point of view.
ThreadOutcome = Literal[
    "solved_by_person",  # someone marked a person's message as the solution
    "solved_by_bot",  # the bot's answer was marked, or the author voted it solved
    "not_solved",  # voted "not solved" (or a reason given) and nothing solved it
    "not_found",  # the bot found nothing in the docs and nothing solved it
    "open",  # no verdict yet
]


@dataclass(frozen=True)
class ThreadView:
    thread: ThreadRecord
    messages: tuple[MessageRecord, ...]
    solution: Solution | None
    feedback: tuple[Feedback, ...]

    @property
    def questions(self) -> list[str]:
        """The people's questions to the bot, in order; the thread's title when none was stored."""
        asked = [m.content for m in self.messages if not m.from_bot and (m.asked_bot or m.first_message)]
        if not asked and self.thread.title:
            asked = [self.thread.title]
        return [q for q in asked if q.strip()]

    @property
    def bot_answers(self) -> list[MessageRecord]:
        return [m for m in self.messages if m.from_bot]

    @property
    def accepted_answer(self) -> tuple[str, tuple[str, ...], bool] | None:
        """(text, cited URLs, by the bot) of what solved the thread, or None when nothing did."""
        if self.solution is not None:
            return self.solution.content, tuple(s.url for s in self.solution.sources), self.solution.from_bot
        if self.thread.solved:
            answers = [m for m in self.bot_answers if m.outcome != "not_found"]
            if answers:  # voted solved by its author: the bot's latest real answer did it
                return answers[-1].content, tuple(s.url for s in answers[-1].sources), True
        return None

    @property
    def outcome(self) -> ThreadOutcome:
        accepted = self.accepted_answer
        if accepted is not None:
            return "solved_by_bot" if accepted[2] else "solved_by_person"
        if self.thread.failed_votes or self.feedback:
            return "not_solved"
        if self.bot_answers and all(m.outcome == "not_found" for m in self.bot_answers):
            return "not_found"
        return "open"

    @property
    def cited_urls(self) -> tuple[str, ...]:
        """Every URL the bot cited in this thread, first citation first."""
        seen: dict[str, None] = {}
        for message in self.bot_answers:
            for source in message.sources:
                seen.setdefault(source.url, None)
        return tuple(seen)


def load_threads(store: StateStore, collection: str, *, since: datetime | None = None) -> list[ThreadView]:
    """Every thread of `collection` updated since `since`, with its messages, solution and reasons."""
    return [
        ThreadView(
            thread=thread,
            messages=tuple(store.list_messages(thread.thread_id, limit=MAX_MESSAGES)),
            solution=store.get_solution(thread.thread_id),
            feedback=tuple(store.list_feedback(thread.thread_id)),
        )
        for thread in store.list_threads(collection, since=since)
    ]


@dataclass
class SolvedThreads:
    """The solved threads of a collection, oldest first, and how many threads (solved or not) were listed."""

    views: list[ThreadView] = field(default_factory=list)
    listed: int = 0


def solved_threads(store: StateStore, collection: str, *, bot_answers: bool, limit: int) -> SolvedThreads:
    """The `limit` most recently updated threads of `collection` with an accepted answer: a person's message
    marked as the solution, and with `bot_answers` also the bot's answer (marked, or voted solved by the author).
    Reads messages only for those threads; a store that fails raises (never an empty answer)."""
    threads = store.list_threads(collection)
    views: list[ThreadView] = []
    for thread in reversed(threads):  # latest first, so the bound keeps the recent ones
        if len(views) >= limit:
            break
        if not thread.solved:
            continue
        solution = store.get_solution(thread.thread_id)
        if not bot_answers and (solution is None or solution.from_bot):
            continue
        messages = tuple(store.list_messages(thread.thread_id, limit=MAX_MESSAGES))
        view = ThreadView(thread=thread, messages=messages, solution=solution, feedback=())
        if view.accepted_answer is not None:
            views.append(view)
    views.reverse()
    return SolvedThreads(views=views, listed=len(threads))
