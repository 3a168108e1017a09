"""Try the learning loop without Discord: a question file replayed as threads through the real respond path.

`simulate` turns each question of a dev-set file (`{"id", "question", "relevant", "answerable", "notes"}`) into
a thread answered by the real `RespondHandler` (claim, answer with the collection's real answerer, render,
deliver, store), with Discord replaced by `RecordingDiscord`, an in-process recorder of what would have been
posted. Then the thread gets the verdict a user would have given it:

- an answerable question whose answer cited one of its relevant pages: its asker votes it solved (the bot's
  answer solved it);
- any other answerable question: a synthetic helper replies with the relevant page (its title, a passage of it
  found in the index, and its link) and the asker marks that reply as the solution, citing the page;
- an unanswerable question: its asker votes "not solved" and gives a reason.

Guarantees: deterministic for a given question file, seed and start time (thread ids, times, reasons and
helpers come from a `random.Random(seed)`); idempotent (the same run again finds every interaction done and
every verdict already recorded: nothing changes). Thread times run up to `end`, one question every few
minutes, so `--since` filters see them as recent. Nothing here touches the network or reads the environment.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from docsbot.bot.respond import CollectionServices, RespondHandler
from docsbot.bot.tasks import RespondTask
from docsbot.index.eval import Question, normalise_url
from docsbot.index.ports import SearchFilter
from docsbot.store.model import Feedback, FeedbackReason, MessageRecord, Solution, SourceRef
from docsbot.store.ports import StateStore

APPLICATION_ID = "simulator"
SIM_GUILD = "simulated"
NOT_SOLVED_REASONS: tuple[FeedbackReason, ...] = ("wrong", "incomplete", "not_what_i_asked")
HELPERS = 7  # synthetic people who answer threads (stable pseudonyms: helper-0 … helper-6)
MAX_GAP_MINUTES = 9

Verdict = Literal["solved_by_bot", "solved_by_person", "not_solved", "failed"]


class RecordingDiscord:
    """Stands in for Discord's webhooks: records every message the respond path would have posted."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []

    def edit_original(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post(token, payload)

    def create_followup(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post(token, payload)

    def _post(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.posted.append((token, payload))
        return {"id": f"{token}-m{len(self.posted)}"}


@dataclass(frozen=True)
class SimulatedThread:
    question_id: str
    thread_id: str
    answerable: bool
    answer_outcome: str  # the bot answer's stored outcome ("answered", "not_found"), "" when none was stored
    verdict: Verdict


@dataclass
class SimulationReport:
    threads: list[SimulatedThread] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """How many threads ended each way, and how many answers the bot gave of each outcome."""
        counts: Counter[str] = Counter()
        for thread in self.threads:
            counts[thread.verdict] += 1
            counts[f"answer:{thread.answer_outcome or 'none'}"] += 1
        return counts


def thread_id_for(seed: int, question_id: str) -> str:
    return f"sim{seed}-{question_id}"


def _pages(urls: Iterable[str]) -> set[str]:
    return {normalise_url(url)[0] for url in urls}


def repeated_ids(questions: Sequence[Question]) -> list[str]:
    """The ids more than one question has (each would not get a thread of its own)."""
    counts = Counter(q.id for q in questions)
    return sorted(qid for qid, n in counts.items() if n > 1)


def simulate(
    questions: Sequence[Question],
    *,
    store: StateStore,
    services: CollectionServices,
    collection: str,
    end: datetime,
    seed: int = 0,
    on_thread: Callable[[SimulatedThread], None] | None = None,
) -> SimulationReport:
    """Replay `questions` as threads of `collection` in `store`, ending at `end` (see the module docstring).
    ValueError when two questions share an id (they would be one thread)."""
    twice = repeated_ids(questions)
    if twice:
        raise ValueError(f"question ids must be unique; repeated: {', '.join(twice[:10])}")
    rng = random.Random(seed)
    gaps = [timedelta(minutes=rng.randint(1, MAX_GAP_MINUTES)) for _ in questions]
    moment = end - sum(gaps, timedelta())
    clock_now = [moment]
    handler = RespondHandler(
        store,
        RecordingDiscord(),
        services,
        default_collection=collection,
        max_attempts=1,  # no queue to deliver again: the first attempt is the last
        heartbeat_s=None,
        clock=lambda: clock_now[0].timestamp(),
    )
    report = SimulationReport()
    for question, gap in zip(questions, gaps, strict=True):
        moment += gap
        clock_now[0] = moment
        asker = f"asker-{rng.randrange(10**6):06d}"
        helper = f"helper-{rng.randrange(HELPERS)}"
        reason = rng.choice(NOT_SOLVED_REASONS)
        thread_id = thread_id_for(seed, question.id)
        task = RespondTask(
            interaction_id=f"{thread_id}-ask",
            application_id=APPLICATION_ID,
            token=f"{thread_id}-token",
            kind="ask",
            question=question.question,
            user_id=asker,
            channel_id=thread_id,
            created_at=moment.timestamp(),
            guild_id=SIM_GUILD,
            collection=collection,
            thread_title=question.question[:100],
            thread_id=thread_id,
            author_id=asker,
        )
        handler.handle(task.to_json())
        record = store.get_thread(thread_id)
        answers = [m for m in store.list_messages(thread_id) if m.from_bot]
        author = record.author_id if record is not None else asker
        later = moment + timedelta(seconds=30)
        if not answers:
            verdict: Verdict = "failed"
        elif not question.answerable:
            store.record_vote(thread_id, author, "failed", is_author=True, now=later)
            store.record_feedback(Feedback(thread_id, author, reason, "the docs do not cover this", later))
            verdict = "not_solved"
        elif _pages(s.url for s in answers[-1].sources) & _pages(question.relevant):
            store.record_vote(thread_id, author, "solved", is_author=True, now=later)
            verdict = "solved_by_bot"
        else:
            _human_solution(store, services, collection, question, thread_id, author, helper, later)
            verdict = "solved_by_person"
        thread = SimulatedThread(
            question.id, thread_id, question.answerable, answers[-1].outcome if answers else "", verdict
        )
        report.threads.append(thread)
        if on_thread is not None:
            on_thread(thread)
    return report


def _human_solution(
    store: StateStore,
    services: CollectionServices,
    collection: str,
    question: Question,
    thread_id: str,
    author: str,
    helper: str,
    now: datetime,
) -> None:
    """A helper's reply pointing at the question's relevant page(s), marked as the solution by the asker."""
    refs: list[SourceRef] = []
    passage = ""
    searcher = services.searcher(collection)
    for url in question.relevant:
        page, anchor = normalise_url(url)
        found = searcher.search(question.question, limit=1, search_filter=SearchFilter(urls=(page,)))
        if not found.sources:
            # The exact page URL as the index spells it may differ (a trailing slash): try it as written.
            written = url.split("#", 1)[0]
            found = searcher.search(question.question, limit=1, search_filter=SearchFilter(urls=(written,)))
        title = found.sources[0].title if found.sources else page.rsplit("/", 1)[-1]
        if found.sources and not passage:
            passage = found.sources[0].snippet
        refs.append(SourceRef(title=title, heading_path=(title,), url=url.split("#", 1)[0], anchor=anchor))
    if refs:
        links = "\n".join(f"- {ref.title}: {ref.url}{'#' + ref.anchor if ref.anchor else ''}" for ref in refs)
        text = f"This is covered in the docs:\n{links}"
        if passage:
            text += f"\n\n> {passage}"
    else:
        text = "Worked it out together in the thread (no docs page covers it)."
    message_id = f"{thread_id}-reply"
    store.add_message(MessageRecord(message_id, thread_id, helper, text, from_bot=False, created_at=now))
    store.mark_solution(
        thread_id,
        Solution(
            message_id=message_id,
            author_id=helper,
            content=text,
            link=f"https://discord.com/channels/{SIM_GUILD}/{thread_id}/{message_id}",
            from_bot=False,
            marked_by=author,
            marked_at=now,
            sources=tuple(refs),
        ),
        now,
    )
