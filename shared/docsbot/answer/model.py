"""The shapes of answering: conversation turns in, an `Answer` with numbered citations out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from docsbot.documents.model import Source

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One message of a thread's conversation. Sources the bot showed are kept apart, never in `content`."""

    role: Role
    content: str
    sources: tuple[Source, ...] = ()  # what the bot cited with this turn (assistant turns only)


class AnswerKind(StrEnum):
    GENERATED = "generated"  # written by the chat model from the sources
    UNCERTAIN = "uncertain"  # written by the chat model, which said the sources do not cover the question fully
    EXTRACTIVE = "extractive"  # no model configured: the best passages, quoted with their citations
    NOT_FOUND = "not_found"  # retrieval too weak: the bot says so and shows the closest sections
    FAILED = "failed"  # the model could not be reached; `text` says so in words a user can read


@dataclass(frozen=True)
class Citation:
    """A source as the answer cites it: `[number]` in the text refers to it."""

    number: int
    source: Source


@dataclass(frozen=True)
class Answer:
    """What the bot posts: markdown text whose `[n]` markers match `citations`."""

    kind: AnswerKind
    text: str
    citations: tuple[Citation, ...] = ()  # only the cited sections, deduplicated, numbered as cited
    closest: tuple[Source, ...] = ()  # NOT_FOUND: the nearest sections, shown as "closest matches"
    collection: str = ""
    search_query: str = ""
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)  # prompt/completion tokens when a model answered
