"""The extractive answer (no chat model): the best passages, labelled, with citations."""

from __future__ import annotations

from docsbot.answer.extractive import EXTRACTIVE_LABEL, extractive_answer
from docsbot.answer.model import AnswerKind
from tests.harness.builders import src


def test_the_extractive_answer_quotes_the_best_passages_with_citations() -> None:
    long_text = "First sentence. " * 100
    answer = extractive_answer([src(1, long_text), src(2), src(3), src(4)])
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.text.startswith(EXTRACTIVE_LABEL)
    assert [c.number for c in answer.citations] == [1, 2, 3]
    assert "**Page 1 › Section 1** [1]\n> First sentence." in answer.text
    assert len(answer.text) < 2_000
