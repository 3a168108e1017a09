"""Answering without a network: conversation windows, the prompt budget, citations, abstention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from docsbot.answer.abstain import AbstainPolicy
from docsbot.answer.citations import renumber_citations, strip_citations
from docsbot.answer.conversation import search_text
from docsbot.answer.extractive import EXTRACTIVE_LABEL, extractive_answer
from docsbot.answer.history import HistoryFileError, load_history
from docsbot.answer.model import AnswerKind, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.answer.prompt import Product, build_prompt, format_sources
from docsbot.documents.model import Source
from docsbot.documents.tokens import encoding_for_model
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.eval import load_questions
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource
from tests.harness.corpora import require_redux


def src(n: int, text: str = "", url: str = "") -> Source:
    return Source(
        title=f"Page {n}",
        heading_path=(f"Section {n}",),
        url=url or f"https://docs.example.com/p{n}",
        anchor=f"s{n}",
        snippet="",
        score=1.0,
        text=text or f"text {n}",
    )


# --- conversation window ---------------------------------------------------------------------------------


def test_first_question_is_searched_as_it_is() -> None:
    assert search_text([], "  how do I add middleware?  ") == "how do I add middleware?"


def test_follow_ups_search_the_user_turns_without_answers_or_sources() -> None:
    shown = src(1, text="SECRET SOURCE TEXT", url="https://docs.example.com/shown")
    history = [
        Turn("user", "first question"),
        Turn("assistant", "an answer quoting SECRET SOURCE TEXT [1]", (shown,)),
        Turn("user", "second question"),
        Turn("assistant", "another answer"),
    ]
    text = search_text(history, "third question", window=3)
    assert text.split("\n") == ["third question", "second question", "first question"]
    assert "SECRET" not in text and "answer" not in text and "docs.example.com" not in text
    assert search_text(history, "third question", window=2).split("\n") == ["third question", "second question"]


# --- prompt budget ---------------------------------------------------------------------------------------


def message_tokens(messages: list[dict[str, str]], model: str) -> int:
    encoding = encoding_for_model(model)
    return sum(len(encoding.encode(m["content"], disallowed_special=())) + 4 for m in messages) + 3


@pytest.mark.parametrize("budget", [3_000, 8_000, 30_000])
def test_a_long_conversation_and_many_long_sources_fit_the_budget(budget: int) -> None:
    history = [Turn("user" if i % 2 == 0 else "assistant", f"turn {i}: " + "words " * 300) for i in range(200)]
    sources = [src(n, text=f"source {n} " + "documentation text " * 2_000) for n in range(1, 51)]
    prompt = build_prompt(
        product=Product("Acme"),
        sources=sources,
        history=history,
        question="what now?",
        model="gpt-4o-mini",
        budget_tokens=budget,
    )
    messages = [m.as_dict() for m in prompt.messages]
    assert message_tokens(messages, "gpt-4o-mini") <= budget
    assert prompt.tokens <= budget
    # The newest turns are the ones kept, in order; the question is last.
    kept = messages[2:-1]
    assert [m["content"][:9] for m in kept] == [t.content[:9] for t in history[len(history) - len(kept) :]]
    assert messages[-1]["content"].startswith("what now?")
    # Sources are dropped only once no turn is left, and from the lowest-ranked end.
    assert prompt.sources == [s for s in prompt.sources if s in prompt.sources]
    assert [s.url for s in prompt.sources] == [s.url for s in sources[: len(prompt.sources)]]
    if len(prompt.sources) < len(sources):
        assert prompt.turns_kept == 0
    assert len(prompt.sources) >= 1


def test_a_generous_budget_keeps_everything_in_order() -> None:
    history = [Turn("user", "q1"), Turn("assistant", "a1"), Turn("user", "q2"), Turn("assistant", "a2")]
    prompt = build_prompt(
        product=Product("Acme"),
        sources=[src(1), src(2)],
        history=history,
        question="q3",
        model="llama-3-70b",
        budget_tokens=8_000,
    )
    assert [m.role for m in prompt.messages] == [
        "system",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert prompt.messages[1].content == format_sources([src(1), src(2)])
    assert prompt.turns_kept == 4


def test_an_enormous_question_is_cut_to_the_budget() -> None:
    prompt = build_prompt(
        product=Product("Acme"),
        sources=[src(1)],
        history=[],
        question="error " * 50_000,
        model="gpt-4o-mini",
        budget_tokens=2_000,
    )
    assert message_tokens([m.as_dict() for m in prompt.messages], "gpt-4o-mini") <= 2_000


# --- citations -------------------------------------------------------------------------------------------


def test_only_cited_sources_are_listed_numbered_as_cited_one_per_section() -> None:
    same_section = src(5, url="https://docs.example.com/p2")
    same_section = Source(**{**same_section.__dict__, "anchor": "s2"})
    sources = [src(1), src(2), src(3), src(4), same_section]
    text, citations = renumber_citations("B [2]. D [4, 5]. A [1][2]. Code `x[3]`.\n```\narr[3]\n```", sources)
    assert text == "B [1]. D [1][2]. A [1][3]. Code `x[3]`.\n```\narr[3]\n```"
    assert [(c.number, c.source.url) for c in citations] == [
        (1, "https://docs.example.com/p2"),
        (2, "https://docs.example.com/p4"),
        (3, "https://docs.example.com/p1"),
    ]


def test_markers_without_a_source_are_dropped_and_links_are_left_alone() -> None:
    text, citations = renumber_citations("See [the docs](https://x.y) [7].", [src(1)])
    assert text == "See [the docs](https://x.y)."
    assert citations == ()
    assert strip_citations("It is [1] so [2, 3].") == "It is so."


# --- extractive answers and abstention ---------------------------------------------------------------------


def test_the_extractive_answer_quotes_the_best_passages_with_citations() -> None:
    long_text = "First sentence. " * 100
    answer = extractive_answer([src(1, long_text), src(2), src(3), src(4)])
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.text.startswith(EXTRACTIVE_LABEL)
    assert [c.number for c in answer.citations] == [1, 2, 3]
    assert "**Page 1 › Section 1** [1]\n> First sentence." in answer.text
    assert len(answer.text) < 2_000


def result(keyword: float | None, sources: int = 3, dense: float | None = 0.5) -> SearchResult:
    return SearchResult(
        query="q",
        sources=[src(n) for n in range(1, sources + 1)],
        best_dense_score=dense,
        best_sparse_score=None if keyword is None else keyword * 7.0,
        keyword_scale=7.0,
    )


def test_the_abstain_policy() -> None:
    policy = AbstainPolicy(min_keyword_score=1.3)
    assert policy.covered(result(2.0))
    assert not policy.covered(result(1.0))
    assert not policy.covered(result(2.0, sources=0))
    assert policy.covered(result(None))  # only stop words: the dense match decides
    assert not AbstainPolicy(min_dense_score=0.6).covered(result(2.0, dense=0.5))


def test_weak_retrieval_gets_the_not_found_answer_with_the_closest_sections() -> None:
    answer = Answerer(lambda q, n: result(0.5, sources=5), None, Product("Acme")).answer("flutter?")
    assert answer.kind is AnswerKind.NOT_FOUND
    assert "couldn't find this in the Acme documentation" in answer.text
    assert len(answer.closest) == 3 and answer.citations == ()


def test_history_files(tmp_path: Path) -> None:
    good = tmp_path / "h.json"
    good.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]))
    assert load_history(good) == [Turn("user", "hi"), Turn("assistant", "hello")]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"role": "system", "content": "x"}]))
    with pytest.raises(HistoryFileError, match="item 0: role must be"):
        load_history(bad)
    with pytest.raises(HistoryFileError, match="no such file"):
        load_history(tmp_path / "missing.json")


# --- on the Redux development corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def redux_searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    corpus = require_redux()
    index = EdgeIndex(tmp_path_factory.mktemp("redux-index"), "redux")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")
    ingest_folder(index, embedder, sparse, source)
    yield Searcher(index, embedder, sparse)
    index.close()


def test_a_follow_up_retrieves_the_page_its_first_question_was_about(redux_searcher: Searcher) -> None:
    queries: list[str] = []

    def search(query: str, limit: int) -> SearchResult:
        queries.append(query)
        return redux_searcher.search(query, limit=limit, mode="sparse")

    answerer = Answerer(search, None, Product("Redux"))
    first = answerer.answer("how do I persist the store to localStorage and load it back on page load?")
    history = [Turn("user", queries[0]), Turn("assistant", first.text, tuple(c.source for c in first.citations))]
    follow_up = "is there a library that does it for me?"
    second = answerer.answer(follow_up, history)
    alone = redux_searcher.search(follow_up, limit=5, mode="sparse")

    def pages(sources: list[Source] | tuple[Source, ...]) -> list[str]:
        return [s.url for s in sources]

    # The question alone is about nothing in particular; with the window it finds the persistence docs.
    assert queries[1] == f"{follow_up}\n{queries[0]}"
    assert not any("persist" in s.label.lower() or "persist" in s.text.lower() for s in alone.sources[:3])
    found = [c.source for c in second.citations]
    assert any("persist" in s.text.lower() for s in found), pages(found)
    # What was shown before stays out of the search text.
    assert all(c.source.deep_link not in queries[1] for c in first.citations)
    assert first.text not in queries[1]


def test_unanswerable_development_questions_get_the_not_found_answer(redux_searcher: Searcher) -> None:
    questions = load_questions(require_redux() / "questions.jsonl")
    answerer = Answerer(lambda q, n: redux_searcher.search(q, limit=n), None, Product("Redux"))
    kinds = {q.id: (q.answerable, answerer.answer(q.question).kind) for q in questions}
    answerable_abstained = [qid for qid, (ok, kind) in kinds.items() if ok and kind is AnswerKind.NOT_FOUND]
    unanswerable_abstained = [qid for qid, (ok, kind) in kinds.items() if not ok and kind is AnswerKind.NOT_FOUND]
    assert answerable_abstained == []  # every question the docs answer gets an answer
    # The questions whose key terms the docs lack (Flutter/Dart, Jotai/Recoil, SvelteKit) are refused.
    assert {"redux-047", "redux-048", "redux-051"} <= set(unanswerable_abstained)
