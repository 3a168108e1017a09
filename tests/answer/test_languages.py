"""Questions in other languages, with a chat model: the condense step searches in the docs' language, the answer
is asked for in the asker's. With `condense="auto"` (the product's default) only questions in another language
than the docs' are condensed: an English question about English docs costs no extra request.

The loopback model translates deterministically: it maps the French and Spanish development questions below to
their English originals in the Redux corpus's `questions.jsonl`, and answers each in its asker's
language. What is checked is docsbot's part: what search receives, what the prompts ask for, what the user
gets back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from docsbot.answer.conversation import DEFAULT_WINDOW, search_text
from docsbot.answer.model import AnswerKind, Turn
from docsbot.answer.pipeline import Answerer, AnswerOptions
from docsbot.answer.prompt import Product
from docsbot.app.answerers import make_answerer, product_for
from docsbot.index.eval import load_questions, normalise_url
from docsbot.index.search import Searcher, SearchResult
from docsbot.settings.config import ConfigError, load_settings, parse_collections
from tests.answer.test_chat import covered_search, make_chat
from tests.harness.corpora import require_redux
from tests.harness.fakes.openai_server import FakeOpenAIServer

# Development questions as a French or Spanish speaker would ask them, with the answer the fake model writes.
TRANSLATED = {
    "redux-001": (
        "mon reducer s'exécute et les devtools montrent le nouvel état, mais le composant ne se re-rend jamais. "
        "qu'est-ce que je fais de travers ?",
        "Vous modifiez probablement l'état directement [1].",
    ),
    "redux-011": (
        "comment tester un composant qui lit le store sans simuler useSelector ?",
        "Utilisez une fonction de rendu de test réutilisable avec un vrai store [1].",
    ),
    "redux-004": (
        "guardamos el estado como Maps de Immutable.js y configureStore se queja de valores no serializables. "
        "¿deberíamos dejar de usar Immutable.js?",
        "Sí: use objetos JavaScript simples e Immer [1].",
    ),
    "redux-006": (
        "VS Code muestra createStore tachado. ¿está roto, lo van a eliminar?",
        "No está roto: está marcado como obsoleto [1].",
    ),
    "redux-009": (
        "Next.js con app router: ¿dónde creo el store para que las peticiones de dos usuarios nunca compartan "
        "estado en el servidor?",
        "Cree un store por petición [1].",
    ),
}


def translating_model(english: dict[str, str], replies: dict[str, str]) -> Any:
    """A responder: the condense request gets the English question, the answer request the asker's reply."""

    def responder(body: dict[str, Any]) -> str:
        system, last = body["messages"][0]["content"], body["messages"][-1]["content"]
        if "standalone search query" in system:
            asked = last.rsplit("Latest message: ", 1)[1]
            return f'"{english[asked]}"'
        (question,) = [q for q in replies if last.startswith(q)]
        return replies[question]

    return responder


def test_questions_in_french_and_spanish_are_searched_in_english_and_answered_in_their_language(
    redux_searcher: Searcher, fake_openai: FakeOpenAIServer
) -> None:
    questions = {q.id: q for q in load_questions(require_redux() / "questions.jsonl")}
    english = {asked: questions[qid].question for qid, (asked, _) in TRANSLATED.items()}
    replies = dict(TRANSLATED.values())
    fake_openai.chat_responder = translating_model(english, replies)
    searched: list[str] = []

    # Keyword search only: the test embedder (hashing) has no semantics, so a dense ranking would be noise.
    def search(query: str, limit: int) -> SearchResult:
        searched.append(query)
        return redux_searcher.search(query, limit=limit, mode="sparse")

    def hit(query: str, relevant: set[str]) -> bool:
        return bool({normalise_url(s.url)[0] for s in search(query, 5).sources} & relevant)

    answerer = Answerer(search, make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense=True))
    hits_translated = hits_as_asked = 0
    for qid, (asked, reply) in TRANSLATED.items():
        fake_openai.clear_requests()
        answer = answerer.answer(asked)
        # Search saw the English question, and found a page the English question is about.
        assert searched[-1] == questions[qid].question and answer.kind is AnswerKind.GENERATED and answer.citations
        relevant = {normalise_url(u)[0] for u in questions[qid].relevant}
        hits_translated += hit(questions[qid].question, relevant)
        hits_as_asked += hit(asked, relevant)
        # The condense request asked for English; the answer request for the asker's language, with their words.
        condense, answer_request = [r.body for r in fake_openai.requests_to("/v1/chat/completions")]
        assert "write the query in English" in condense["messages"][0]["content"]
        system = answer_request["messages"][0]["content"]
        assert "Write in the language of the user's latest message" in system
        assert answer_request["messages"][-1]["content"].startswith(asked)
        assert answer.text == reply and answer.search_query == questions[qid].question
    # Every translated search finds a relevant page in its top 5; the questions as asked miss some.
    assert hits_translated == len(TRANSLATED) > hits_as_asked


def test_without_condensing_the_question_is_searched_as_asked(fake_openai: FakeOpenAIServer) -> None:
    searched: list[str] = []

    def search(query: str, limit: int) -> SearchResult:
        searched.append(query)
        return covered_search(query, limit)

    asked = TRANSLATED["redux-006"][0]
    Answerer(search, make_chat(fake_openai), Product("Redux")).answer(asked)
    assert searched == [asked]
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1  # no condense request


def test_a_failed_condense_falls_back_to_the_question_as_asked(fake_openai: FakeOpenAIServer) -> None:
    searched: list[str] = []

    def search(query: str, limit: int) -> SearchResult:
        searched.append(query)
        return covered_search(query, limit)

    fake_openai.fail_next(400, message="bad request")
    answer = Answerer(search, make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense=True)).answer(
        "¿qué es un slice?"
    )
    assert searched == ["¿qué es un slice?"] and answer.kind is AnswerKind.GENERATED


def test_the_docs_language_comes_from_the_collection(fake_openai: FakeOpenAIServer) -> None:
    parsed = parse_collections({"collection": [{"name": "handbuch", "title": "Handbuch", "language": "German"}]})
    product = product_for("handbuch", parsed.get("handbuch"))
    assert product.language == "German"
    fake_openai.chat_responder = lambda body: "Antwort [1]." if "[1]" in str(body["messages"]) else "Anfrage"
    Answerer(covered_search, make_chat(fake_openai), product, options=AnswerOptions(condense=True)).answer("how?")
    condense, answer = [r.body for r in fake_openai.requests_to("/v1/chat/completions")]
    assert "write the query in German" in condense["messages"][0]["content"]
    assert "The documentation is written in German." in answer["messages"][0]["content"]
    default = parse_collections({"collection": [{"name": "docs", "title": "Docs"}]}).get("docs")
    assert default.language == "English"
    with pytest.raises(ConfigError, match="language"):
        parse_collections({"collection": [{"name": "docs", "title": "Docs", "language": "x"}]})


# --- DOCSBOT_CONDENSE_QUESTIONS=auto: only questions in another language than the docs' are condensed ---------


def recording(searched: list[str]) -> Callable[[str, int], SearchResult]:
    def search(query: str, limit: int) -> SearchResult:
        searched.append(query)
        return covered_search(query, limit)

    return search


def test_auto_searches_an_english_question_as_asked_with_no_extra_request(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = lambda body: "Use `configureStore` [1]."
    searched: list[str] = []
    asked = "dispatch(fetchUsers()) throws 'Actions must be plain objects. Use custom middleware for async actions.'"
    answer = Answerer(
        recording(searched), make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense="auto")
    ).answer(asked)
    assert searched == [asked] and answer.search_query == asked
    (only,) = [r.body for r in fake_openai.requests_to("/v1/chat/completions")]
    assert "standalone search query" not in only["messages"][0]["content"]
    assert answer.kind is AnswerKind.GENERATED and answer.text == "Use `configureStore` [1]."


def test_auto_translates_a_french_question_and_answers_in_french(fake_openai: FakeOpenAIServer) -> None:
    asked, reply = TRANSLATED["redux-001"]
    english = "my reducer runs and the devtools show the new state, but the component never re-renders"
    fake_openai.chat_responder = translating_model({asked: english}, {asked: reply})
    searched: list[str] = []
    answer = Answerer(
        recording(searched), make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense="auto")
    ).answer(asked)
    # One condense request, asking for English; search saw the model's translation, not the French words.
    condense, answer_request = [r.body for r in fake_openai.requests_to("/v1/chat/completions")]
    assert "write the query in English" in condense["messages"][0]["content"]
    assert condense["messages"][-1]["content"] == f"Latest message: {asked}"
    assert searched == [english] and answer.search_query == english
    # The answer is asked for in the asker's language, with their own words.
    assert "Write in the language of the user's latest message" in answer_request["messages"][0]["content"]
    assert answer_request["messages"][-1]["content"].startswith(asked)
    assert answer.text == reply


def test_auto_keeps_the_conversation_window_for_an_english_follow_up(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = lambda body: "Yes [1]."
    history = [
        Turn("user", "how do I create a store with configureStore?"),
        Turn("assistant", "Call configureStore with your reducers [1]."),
    ]
    follow_up = "and does it add the thunk middleware by default?"
    searched: list[str] = []
    Answerer(
        recording(searched), make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense="auto")
    ).answer(follow_up, history)
    assert searched == [search_text(history, follow_up, window=DEFAULT_WINDOW)]
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1


def test_auto_condenses_a_spanish_follow_up_with_its_conversation(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = lambda body: (
        "does configureStore add the thunk middleware by default"
        if "standalone search query" in body["messages"][0]["content"]
        else "Sí [1]."
    )
    history = [
        Turn("user", "¿cómo creo un store con configureStore?"),
        Turn("assistant", "Llame a configureStore [1]."),
    ]
    searched: list[str] = []
    answer = Answerer(
        recording(searched), make_chat(fake_openai), Product("Redux"), options=AnswerOptions(condense="auto")
    ).answer("¿y añade el middleware de thunk por defecto?", history)
    condense = fake_openai.requests_to("/v1/chat/completions")[0].body
    assert "user: ¿cómo creo un store con configureStore?" in condense["messages"][-1]["content"]
    assert searched == ["does configureStore add the thunk middleware by default"]
    assert answer.text == "Sí [1]."


def test_auto_without_a_chat_model_searches_the_words_as_asked() -> None:
    asked = TRANSLATED["redux-011"][0]
    searched: list[str] = []
    answer = Answerer(recording(searched), None, Product("Redux"), options=AnswerOptions(condense="auto")).answer(asked)
    assert searched == [asked] and answer.kind is AnswerKind.EXTRACTIVE


def test_the_product_default_is_auto_and_an_unknown_docs_language_is_reported(
    fake_openai: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {"DOCSBOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test", "DOCSBOT_RERANKER": "none"}
    )
    parsed = parse_collections(
        {
            "collection": [
                {"name": "docs", "title": "Docs"},
                {"name": "elvish", "title": "Elvish docs", "language": "Sindarin"},
            ]
        }
    )
    searcher = cast(Searcher, object())  # never searched here
    with caplog.at_level(logging.WARNING, logger="docsbot.app.answerers"):
        answerer = make_answerer(settings, searcher, "docs", parsed.get("docs"), chat=make_chat(fake_openai))
        assert answerer.options.condense == "auto" and not caplog.records
        make_answerer(settings, searcher, "elvish", parsed.get("elvish"), chat=make_chat(fake_openai))
    (record,) = caplog.records
    assert "'Sindarin'" in record.getMessage() and "DOCSBOT_CONDENSE_QUESTIONS=true" in record.getMessage()
