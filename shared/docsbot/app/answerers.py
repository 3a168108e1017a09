"""Builds an `Answerer` from settings: the edge where configuration meets the answering core."""

from __future__ import annotations

import logging

from docsbot.answer.abstain import DEFAULT_MIN_GROUNDED_SCORE, DEFAULT_MIN_SIMILARITY, AbstainPolicy
from docsbot.answer.chat import ChatModel, OpenAIChat
from docsbot.answer.judge import ModelJudgeReranker
from docsbot.answer.language import language_codes
from docsbot.answer.pipeline import Answerer, AnswerOptions
from docsbot.answer.prompt import Product
from docsbot.index.rerank import Reranker
from docsbot.index.search import Searcher, SearchResult
from docsbot.settings.config import CollectionConfig, Settings

log = logging.getLogger(__name__)


def make_chat(settings: Settings) -> ChatModel | None:
    """The configured chat model, or None for extractive answers."""
    chat = settings.chat
    if chat.model is None or chat.api_key is None:
        return None
    return OpenAIChat(chat.model, api_key=chat.api_key, base_url=chat.base_url, timeout_s=chat.timeout_s)


def make_reranker(settings: Settings, chat: ChatModel | None = None) -> Reranker | None:
    """The second search stage: the verified local model unless DOCSBOT_RERANKER=none; None when absent.

    DOCSBOT_RERANKER=model adds the chat model's relevance grades over the top sections (`answer/judge.py`)."""
    if settings.reranker == "none":
        return None
    # Imported here: the model adapter is only needed by processes that answer questions.
    from docsbot.index.mpnet import load_local_reranker

    # Section vectors persist beside the index: a restarted process does not embed them again.
    local = load_local_reranker(cache_file=settings.data_dir / "rerank-vectors.sqlite")
    if settings.reranker != "model":
        return local
    chat = chat if chat is not None else make_chat(settings)
    if chat is None:  # load_settings refuses this; a hand-built Settings may not
        raise ValueError("DOCSBOT_RERANKER=model needs a chat model")
    return ModelJudgeReranker(chat, inner=local, judged=settings.judge_sections)


def product_for(collection: str, config: CollectionConfig | None) -> Product:
    """The product the prompt names: the collection's title and description, else its name."""
    if config is None:
        return Product(name=collection)
    return Product(name=config.title, description=config.description, language=config.language)


def abstain_policy(config: CollectionConfig | None) -> AbstainPolicy:
    """The collection's "not in the docs" policy: its own thresholds, else the measured defaults."""
    if config is None:
        return AbstainPolicy()
    grounded = config.min_grounded_score
    return AbstainPolicy(
        min_grounded_score=grounded if grounded is not None else DEFAULT_MIN_GROUNDED_SCORE,
        min_keyword_score=config.min_keyword_score,
        min_dense_score=config.min_dense_score,
        min_similarity=config.min_similarity if config.min_similarity is not None else DEFAULT_MIN_SIMILARITY,
    )


def make_answerer(
    settings: Settings,
    searcher: Searcher,
    collection: str,
    config: CollectionConfig | None = None,
    chat: ChatModel | None = None,
    reranker: Reranker | None = None,
) -> Answerer:
    """An answerer over `searcher` for one collection, with the configured (or given) chat model."""
    policy = abstain_policy(config)
    options = AnswerOptions(
        context_tokens=settings.chat.context_tokens,
        condense=settings.chat.condense_questions,
        policy=policy,
    )

    chat = chat if chat is not None else make_chat(settings)
    reranker = reranker if reranker is not None else make_reranker(settings, chat)
    product = product_for(collection, config)
    if chat is not None and options.condense == "auto" and language_codes(product.language) is None:
        log.warning(
            "DOCSBOT_CONDENSE_QUESTIONS=auto cannot tell which questions are in another language than %r "
            "(not a language name docsbot knows): questions are searched as asked; "
            "set DOCSBOT_CONDENSE_QUESTIONS=true to translate every question",
            product.language,
            extra={"collection": collection},
        )

    def search(query: str, limit: int) -> SearchResult:
        return searcher.search(query, limit=limit, reranker=reranker)

    return Answerer(
        search,
        chat,
        product,
        collection=collection,
        options=options,
    )
