"""The conversation window: what is searched for a question and its thread."""

from __future__ import annotations

from docsbot.answer.conversation import search_text
from docsbot.answer.model import Turn
from tests.harness.builders import src


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
