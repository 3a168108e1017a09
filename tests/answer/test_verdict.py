"""The model's "not covered" verdict: a fixed marker, removed from the text and the stream, read as UNCERTAIN.

Driven through the real `openai` client against the loopback OpenAI server."""

from __future__ import annotations

from typing import Any

import pytest

from docsbot.answer.model import AnswerKind
from docsbot.answer.pipeline import Answerer
from docsbot.answer.prompt import Product
from docsbot.answer.verdict import NOT_COVERED_MARKER, MarkerFilter, split_verdict
from tests.answer.test_chat import covered_search, make_chat
from tests.harness.fakes.openai_server import FakeOpenAIServer

PARTIAL = "Redux Toolkit has `createSlice` [2], but nothing on Flutter.\n\n" + NOT_COVERED_MARKER


@pytest.mark.parametrize(
    "reply",
    [
        PARTIAL,
        "Partial answer [1].\n[[not covered]]",
        "Partial answer [1]. [[ NOT-COVERED ]]",
        "[[Not_Covered]]\nPartial answer [1].",
    ],
)
def test_the_marker_is_read_in_the_forms_models_write_it_and_always_removed(reply: str) -> None:
    text, not_covered = split_verdict(reply)
    assert not_covered
    assert "covered" not in text.lower() and "[[" not in text
    assert text == text.strip()


def test_a_reply_without_the_marker_is_covered_and_unchanged() -> None:
    reply = "Use `configureStore` [1].\n\n```js\nconst grid = [[1, 2], [3, 4]]\n```"
    assert split_verdict(reply) == (reply, False)


def test_the_stream_never_shows_the_marker_even_split_across_deltas() -> None:
    shown: list[str] = []
    stream = MarkerFilter(shown.append)
    for delta in ["Partial", " answer [1].", "\n\n[", "[NOT_", "COVE", "RED]", "]"]:
        stream.feed(delta)
    stream.flush()
    assert "".join(shown).strip() == "Partial answer [1]."


def test_the_stream_releases_brackets_that_are_not_the_marker() -> None:
    shown: list[str] = []
    stream = MarkerFilter(shown.append)
    for delta in ["grid = [", "[1, 2], [3, 4]]", " and [", "[x"]:
        stream.feed(delta)
    stream.flush()
    assert "".join(shown) == "grid = [[1, 2], [3, 4]] and [[x"


def test_the_model_saying_the_sources_fall_short_makes_an_uncertain_answer(fake_openai: FakeOpenAIServer) -> None:
    seen: list[dict[str, Any]] = []

    def responder(body: dict[str, Any]) -> str:
        seen.append(body)
        return PARTIAL

    fake_openai.chat_responder = responder
    pieces: list[str] = []
    answer = Answerer(covered_search, make_chat(fake_openai), Product("Redux")).answer(
        "how do I use createSlice from Flutter?", on_delta=pieces.append
    )
    assert answer.kind is AnswerKind.UNCERTAIN
    assert answer.text == "Redux Toolkit has `createSlice` [1], but nothing on Flutter."
    assert len(answer.citations) == 1
    assert NOT_COVERED_MARKER not in "".join(pieces) and "".join(pieces).strip().endswith("nothing on Flutter.")
    # The verdict is asked for explicitly, with the exact marker, not guessed from the prose.
    assert NOT_COVERED_MARKER in seen[0]["messages"][0]["content"]


def test_a_covered_answer_stays_generated(fake_openai: FakeOpenAIServer) -> None:
    answer = Answerer(covered_search, make_chat(fake_openai), Product("Redux")).answer("what is a slice?")
    assert answer.kind is AnswerKind.GENERATED and answer.text == "The documentation covers this [1]."
