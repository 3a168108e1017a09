"""Answer a question in a conversation: search, decide whether the docs cover it, generate, cite.

`Answerer` holds the adapters (a search function and an optional chat model) and turns
`(question, history)` into an `Answer`. It never raises for a model failure: the user gets a FAILED
answer saying so, with the most relevant sections.

With a chat model, the model's own verdict is kept: a reply ending with the not-covered marker
(`docsbot.answer.verdict`) becomes an UNCERTAIN answer, the marker removed from its text and from the stream.
With `condense=True`, every question is first rewritten by the model into one standalone search query in the
docs' language (`Product.language`): a follow-up gets its references resolved, a question in another
language is translated, so search sees the words the docs use; the answer is still written in the asker's
language (the system prompt says so). With `condense="auto"` only a question written in another language than
the docs' (`docsbot.answer.language.needs_translation`) is rewritten; any other is searched exactly as with
`condense=False`: the conversation window, no extra model request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from docsbot.answer.abstain import AbstainPolicy
from docsbot.answer.chat import ChatError, ChatMessage, ChatModel, context_window
from docsbot.answer.citations import renumber_citations, strip_citations
from docsbot.answer.conversation import DEFAULT_WINDOW, search_text
from docsbot.answer.extractive import extractive_answer
from docsbot.answer.language import needs_translation
from docsbot.answer.model import Answer, AnswerKind, Turn
from docsbot.answer.prompt import Product, build_prompt
from docsbot.answer.verdict import MarkerFilter, split_verdict
from docsbot.index.search import SearchResult

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
CLOSEST_SHOWN = 3
SearchFn = Callable[[str, int], SearchResult]  # (query, limit) → result
# True: every question; False: none; "auto": only questions written in another language than the docs'.
Condense = bool | Literal["auto"]


@dataclass(frozen=True)
class AnswerOptions:
    max_sources: int = 6
    window: int = DEFAULT_WINDOW
    max_answer_tokens: int = 800
    prompt_budget_tokens: int = 12_000  # a ceiling for cost; the model's context window bounds it too
    context_tokens: int | None = None  # overrides the known context window of the model
    condense: Condense = False  # rewrite questions into one standalone search query in the docs' language
    policy: AbstainPolicy = field(default_factory=AbstainPolicy)


def not_found_text(product: Product) -> str:
    return (
        f"I couldn't find this in the {product.name} documentation, so I'd rather not guess. "
        "Someone from the team or the community may know: please ask here in the thread. "
        "These are the closest sections I found:"
    )


def failed_text(error: ChatError) -> str:
    return (
        f"Sorry, I couldn't write an answer just now ({error}). "
        "These documentation sections look most relevant; you can also ask again in a minute:"
    )


class Answerer:
    """Answers questions about one collection."""

    def __init__(
        self,
        search: SearchFn,
        chat: ChatModel | None,
        product: Product,
        *,
        collection: str = "",
        options: AnswerOptions | None = None,
    ) -> None:
        self.search = search
        self.chat = chat
        self.product = product
        self.collection = collection
        self.options = options or AnswerOptions()

    def answer(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        on_delta: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer to `question`, the latest message of a conversation whose earlier turns are `history`."""
        question = question.strip()[:MAX_QUESTION_CHARS]
        if not question:
            raise ValueError("the question is empty")
        query = self.search_query(question, history)
        result = self.search(query, self.options.max_sources)
        if not self.options.policy.covered(result):
            log.info(
                "not covered",
                extra={"best_sparse": result.best_sparse_score, "best_dense": result.best_dense_score},
            )
            return Answer(
                kind=AnswerKind.NOT_FOUND,
                text=not_found_text(self.product),
                closest=tuple(result.sources[:CLOSEST_SHOWN]),
                collection=self.collection,
                search_query=query,
            )
        if self.chat is None:
            return extractive_answer(result.sources, collection=self.collection, search_query=query)
        prompt = build_prompt(
            product=self.product,
            sources=result.sources,
            history=[Turn(t.role, strip_citations(t.content) if t.role == "assistant" else t.content) for t in history],
            question=question,
            model=self.chat.model,
            budget_tokens=self.prompt_budget(),
        )
        stream = MarkerFilter(on_delta) if on_delta is not None else None
        try:
            reply = self.chat.complete(
                prompt.messages,
                max_tokens=self.options.max_answer_tokens,
                on_delta=stream.feed if stream is not None else None,
            )
        except ChatError as error:
            log.warning("chat model failed", extra={"kind": error.kind})
            return Answer(
                kind=AnswerKind.FAILED,
                text=failed_text(error),
                closest=tuple(result.sources[:CLOSEST_SHOWN]),
                collection=self.collection,
                search_query=query,
                model=self.chat.model,
            )
        if stream is not None:
            stream.flush()
        reply_text, not_covered = split_verdict(reply.text)
        if not_covered:
            log.info("the model said the sources do not cover the question")
        text, citations = renumber_citations(reply_text, prompt.sources)
        return Answer(
            kind=AnswerKind.UNCERTAIN if not_covered else AnswerKind.GENERATED,
            text=text,
            citations=citations,
            collection=self.collection,
            search_query=query,
            model=reply.model,
            usage=reply.usage,
        )

    def prompt_budget(self) -> int:
        """Prompt tokens allowed: the cost ceiling, within the context window minus the reply's room."""
        assert self.chat is not None
        window = self.options.context_tokens or context_window(self.chat.model)
        return max(256, min(self.options.prompt_budget_tokens, window - self.options.max_answer_tokens - 64))

    def search_query(self, question: str, history: Sequence[Turn]) -> str:
        """The conversation window; when condensing, one standalone query in the docs' language instead."""
        window_text = search_text(history, question, window=self.options.window)
        if not self.should_condense(question):
            return window_text
        assert self.chat is not None
        try:
            return condense_question(self.chat, history, question, language=self.product.language) or window_text
        except ChatError as error:
            log.warning("condensing the question failed; searching with the window", extra={"kind": error.kind})
            return window_text

    def should_condense(self, question: str) -> bool:
        """Whether `question` is rewritten by the chat model before search (see the module docstring)."""
        condense = self.options.condense
        if self.chat is None or condense is False:
            return False
        if condense == "auto":
            translate = needs_translation(question, self.product.language)
            if translate:
                log.info(
                    "question in another language than the docs: condensing it", extra={"docs": self.product.language}
                )
            return translate
        return True


def condense_system(language: str) -> str:
    return (
        "Rewrite the user's latest message as one standalone search query for the product documentation, "
        "resolving pronouns and references from the earlier messages. The documentation is written in "
        f"{language}: write the query in {language}, translating it if the user wrote in another language. "
        "Keep code identifiers, API names and error messages exactly as written. Output only the query."
    )


def condense_question(
    chat: ChatModel, history: Sequence[Turn], question: str, *, language: str = "English", turns: int = 6
) -> str:
    """One standalone search query in `language` for the latest question, written by the chat model."""
    recent = [t for t in history if t.content.strip()][-turns:]
    transcript = "\n".join(f"{t.role}: {strip_citations(t.content)[:800]}" for t in recent)
    context = f"Conversation so far:\n{transcript}\n\n" if transcript else ""
    messages = [
        ChatMessage("system", condense_system(language)),
        ChatMessage("user", f"{context}Latest message: {question}"),
    ]
    return chat.complete(messages, max_tokens=100).text.strip().strip('"')[:500]
