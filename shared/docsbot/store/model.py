"""The records the store keeps, as plain shapes without I/O (DESIGN.md §3).

The bot's records mirror the original tables: threads, messages, votes,
interactions, quotas. The freshness machinery's: page states and leases here; source summaries and run records
in `docsbot.store.model_runs`, kept apart because they are pydantic models and this module is on the
interactions function's cold path (standard library only). Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

VoteKind = Literal["solved", "failed"]


@dataclass(frozen=True)
class SourceRef:
    """A source the bot cited, as stored with its message (kept apart from the message text)."""

    title: str
    heading_path: tuple[str, ...]
    url: str
    anchor: str


@dataclass(frozen=True)
class ThreadRecord:
    """`threads/{thread_id}`: a Discord thread (or a plain channel) where the bot answers."""

    thread_id: str
    collection: str
    author_id: str  # who started the conversation with the bot; only they may mark it solved
    created_at: datetime
    updated_at: datetime
    guild_id: str | None = None
    channel_id: str | None = None  # the parent channel / forum
    title: str = ""
    open: bool = True
    solved: bool = False
    thread_controller_id: str | None = None  # the bot's first answer: its buttons carry the votes
    solved_votes: int = 0
    failed_votes: int = 0


@dataclass(frozen=True)
class MessageRecord:
    """`threads/{thread_id}/messages/{message_id}`: a user question or a bot answer."""

    message_id: str
    thread_id: str
    author_id: str
    content: str
    from_bot: bool
    created_at: datetime
    first_message: bool = False
    asked_bot: bool = False
    sources: tuple[SourceRef, ...] = ()
    # A bot answer's outcome when it was given (`AnswerOutcome`); "" for people's messages and older answers.
    outcome: str = ""


@dataclass(frozen=True)
class VoteResult:
    solved_votes: int
    failed_votes: int
    changed: bool  # False when the user repeated the vote they already had
    thread_solved: bool


class InteractionState(StrEnum):
    QUEUED = "queued"
    ANSWERING = "answering"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class InteractionRecord:
    """`interactions/{interaction_id}`: makes the respond task idempotent (Cloud Tasks delivers at least once)."""

    interaction_id: str
    state: InteractionState
    attempts: int
    created_at: datetime
    expires_at: datetime  # Firestore's TTL policy deletes the record after this
    lease_until: datetime | None = None  # while ANSWERING: another attempt may take over after this
    thread_id: str | None = None
    # The delivery ledger: what a retry needs to resume instead of asking the model again.
    answer: str | None = None  # the computed answer, ready to deliver (JSON owned by the respond side)
    delivered: int = 0  # how many of its messages Discord has accepted, in order
    message_id: str | None = None  # the id of the edited `@original` message, once delivered


@dataclass(frozen=True)
class DeliveryProgress:
    """What an attempt records as it goes, under its claim: the answer once computed, then each part sent."""

    answer: str | None
    delivered: int = 0
    message_id: str | None = None


class ClaimResult(StrEnum):
    CLAIMED = "claimed"  # this attempt owns the work now
    BUSY = "busy"  # another attempt holds a live lease: try again later
    FINISHED = "finished"  # done or failed already: nothing to do
    MISSING = "missing"  # no such interaction record


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    record: InteractionRecord | None = None


@dataclass(frozen=True)
class ThreadUpdate:
    """Fields to change on a thread; None leaves a field as it is."""

    open: bool | None = None
    solved: bool | None = None
    collection: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class QuotaResult:
    allowed: bool
    used: int  # in the current window, this request included when allowed
    limit: int
    reset_at: datetime


@dataclass(frozen=True)
class NewThread:
    """What `ensure_thread` creates when the thread is new."""

    thread_id: str
    collection: str
    author_id: str
    guild_id: str | None = None
    channel_id: str | None = None
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# --- the learning loop: accepted solutions, "not solved" reasons, answer outcomes -----------------------

# How a bot answer ended when it was given. Votes and solutions are kept apart and joined on export.
AnswerOutcome = Literal["answered", "not_found", "uncertain", "failed"]
ANSWER_OUTCOMES: tuple[AnswerOutcome, ...] = ("answered", "not_found", "uncertain", "failed")
# Why an answer did not solve the question ("Not solved" → the optional reason form).
FeedbackReason = Literal["wrong", "outdated", "incomplete", "not_what_i_asked", "other"]
FEEDBACK_REASONS: tuple[FeedbackReason, ...] = ("wrong", "outdated", "incomplete", "not_what_i_asked", "other")


@dataclass(frozen=True)
class Solution:
    """A thread's accepted solution: the message someone marked with "Mark as solution" (a person's or the bot's)."""

    message_id: str
    author_id: str
    content: str  # as Discord sent it with the interaction (the resolved message), bounded by Discord
    link: str  # https://discord.com/channels/{guild}/{channel}/{message}
    from_bot: bool
    marked_by: str
    marked_at: datetime
    sources: tuple[SourceRef, ...] = ()  # the bot answer's sources when the solution is the bot's


@dataclass(frozen=True)
class Feedback:
    """One user's reason for "Not solved" in a thread (one per user: a new one replaces theirs)."""

    thread_id: str
    user_id: str
    reason: FeedbackReason
    text: str
    created_at: datetime


# A thread's whole conversation, fetched from Discord with the bot token once the thread is solved, closed or
# marked (`docsbot.learning.conversations`), scrubbed of personal data before it is stored.
ConversationRole = Literal["question", "bot_answer", "human_reply"]
# "complete": every message read; "truncated": the page/message/byte bounds stopped the read (the latest
# messages are kept); "forbidden" / "not_found": Discord refused (403) or lost (404) the thread: recorded, no messages.
ConversationStatus = Literal["complete", "truncated", "forbidden", "not_found"]
CONVERSATION_STATUSES: tuple[ConversationStatus, ...] = ("complete", "truncated", "forbidden", "not_found")


@dataclass(frozen=True)
class ConversationMessage:
    """One message of a captured conversation (texts and people already pseudonymised)."""

    message_id: str
    author: str  # a pseudonym such as <user-1a2b3c4d>, or "docsbot" for the bot
    role: ConversationRole
    content: str
    created_at: datetime
    sources: tuple[SourceRef, ...] = ()  # a bot answer's cited sources, as stored when it was given
    outcome: str = ""  # a bot answer's `AnswerOutcome` ("" when unknown)
    solution: bool = False  # the thread's accepted solution


@dataclass(frozen=True)
class Conversation:
    """`conversations/{thread_id}`: the thread's messages as Discord had them at `fetched_at`, with the verdicts."""

    thread_id: str
    collection: str
    fetched_at: datetime
    status: ConversationStatus
    outcome: str  # how the thread ended (`docsbot.learning.threads.ThreadOutcome`)
    messages: tuple[ConversationMessage, ...] = ()
    solved_votes: int = 0
    failed_votes: int = 0


# --- the freshness machinery: page states, sources, runs, leases ----------------------------------------

# How one source fared in one run. "skipped": another run held the source's lease.
SourceOutcome = Literal["ok", "degraded", "failed", "skipped"]
# A run is "running" until its record is finished; then the worst outcome of its sources (skipped counts as ok).
RunOutcome = Literal["running", "ok", "degraded", "failed"]
_SEVERITY = {"ok": 0, "skipped": 0, "degraded": 1, "failed": 2}


def utc_now() -> datetime:
    return datetime.now(UTC)


def worst_outcome(outcomes: list[SourceOutcome]) -> Literal["ok", "degraded", "failed"]:
    worst = max((_SEVERITY[o] for o in outcomes), default=0)
    names: tuple[Literal["ok", "degraded", "failed"], ...] = ("ok", "degraded", "failed")
    return names[worst]


@dataclass(frozen=True)
class PageRecord:
    """What the job remembers about one crawled URL: its HTTP validators and the content it gave."""

    url: str  # the URL crawled (normalised), the key
    checked_at: datetime  # when a crawl last confirmed the page (200, 304 or same content)
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # `Page.content_hash` of the page the URL gave
    page_url: str | None = None  # `Page.url` of that page (canonical URL; may differ from `url`)


@dataclass(frozen=True)
class Lease:
    """A time-limited claim on `key` by `holder`; an expired lease may be taken by anyone."""

    key: str
    holder: str
    expires_at: datetime
