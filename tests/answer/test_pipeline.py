"""The answering pipeline: "not in the docs", follow-ups, and the Redux development questions."""

from __future__ import annotations

import pytest

from docsbot.answer.model import AnswerKind, Turn
from docsbot.answer.pipeline import Answerer
from docsbot.answer.prompt import Product
from docsbot.documents.model import Source
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.eval import load_questions
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource
from tests.harness.builders import result
from tests.harness.corpora import require_redux


def test_weak_retrieval_gets_the_not_found_answer_with_the_closest_sections() -> None:
    answer = Answerer(lambda q, n: result(0.5, sources=5), None, Product("Acme")).answer("flutter?")
    assert answer.kind is AnswerKind.NOT_FOUND
    assert "couldn't find this in the Acme documentation" in answer.text
    assert len(answer.closest) == 3 and answer.citations == ()


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
    # The target: at most 5 % of the questions the docs answer refused (decision 0012: the grounded score
    # refuses 2 of 46 here, both phrased with words the docs do not use).
    assert len(answerable_abstained) <= 0.05 * sum(1 for ok, _ in kinds.values() if ok), answerable_abstained
    # The questions whose key terms the docs lack (Flutter/Dart, Jotai/Recoil, SvelteKit) are refused.
    assert {"redux-047", "redux-048", "redux-051"} <= set(unanswerable_abstained)


def test_one_not_in_the_docs_setting_holds_on_a_second_corpus(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The default setting holds on Ionic too: at most 5 % of its answerable questions refused, and now some of its
    # unanswerable ones (the keyword score alone refused none: docs/decisions/0009 and 0012).
    corpus = require_redux().parent / "ionic-docs"
    if not (corpus / "questions.jsonl").is_file():
        pytest.skip(f"the Ionic development corpus is not at {corpus}")
    index = EdgeIndex(tmp_path_factory.mktemp("ionic-index"), "ionic")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")
    ingest_folder(index, embedder, sparse, source)
    searcher = Searcher(index, embedder, sparse)
    answerer = Answerer(lambda q, n: searcher.search(q, limit=n), None, Product("Ionic"))
    questions = load_questions(corpus / "questions.jsonl")
    refused = {q.id for q in questions if answerer.answer(q.question).kind is AnswerKind.NOT_FOUND}
    index.close()
    answerable = {q.id for q in questions if q.answerable}
    assert len(refused & answerable) <= 0.05 * len(answerable), refused & answerable
    assert len(refused - answerable) >= 4  # of 8 (the grounded score; the keyword score alone: 0)
