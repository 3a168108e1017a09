"""The chat adapter and the answerer against an OpenAI-compatible server on 127.0.0.1 (real `openai` client)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from docsbot.answer.chat import ChatError, ChatMessage, OpenAIChat, context_window
from docsbot.answer.model import AnswerKind, Turn
from docsbot.answer.pipeline import Answerer, AnswerOptions
from docsbot.answer.prompt import Product
from docsbot.documents.model import Source
from docsbot.errors import TransientError
from docsbot.index.search import SearchResult
from tests.harness.fakes.openai_server import FakeOpenAIServer

CHAT = "/v1/chat/completions"
MESSAGES = [ChatMessage("system", "be brief"), ChatMessage("user", "hello [1]")]


def make_chat(server: FakeOpenAIServer, *, timeout: float = 10.0, retries: int = 2) -> OpenAIChat:
    client = openai.OpenAI(base_url=server.base_url, api_key="test-key", timeout=timeout, max_retries=retries)
    return OpenAIChat("gpt-4o-mini", api_key="test-key", base_url=server.base_url, client=client)


def source(n: int, url: str = "https://docs.example.com/page") -> Source:
    return Source(
        title=f"Page {n}",
        heading_path=(f"Section {n}",),
        url=f"{url}{n}",
        anchor=f"section-{n}",
        snippet=f"snippet {n}",
        score=1.0 / n,
        text=f"Section {n} explains how feature {n} works.",
    )


def covered_search(query: str, limit: int) -> SearchResult:
    """A search whose sections cover any question: the keyword score is high and every searched term is found."""
    return SearchResult(
        query="how feature works",  # terms every `source` has, so the query coverage is 1 whatever was asked
        sources=[source(n) for n in range(1, limit + 1)],
        best_dense_score=0.8,
        best_sparse_score=30.0,
        keyword_scale=7.0,
    )


def test_a_normal_answer(fake_openai: FakeOpenAIServer) -> None:
    result = make_chat(fake_openai).complete(MESSAGES, max_tokens=200)
    assert result.text == "The documentation covers this [1]."
    assert result.usage["completion_tokens"] > 0 and result.usage["prompt_tokens"] > 0
    (request,) = fake_openai.requests_to(CHAT)
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == [m.as_dict() for m in MESSAGES]
    assert "stream" not in request.body
    # A custom base URL is an OpenAI-compatible server: it gets the widely supported max_tokens.
    assert request.body["max_tokens"] == 200


def test_a_streamed_answer_arrives_in_pieces(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = lambda body: "Streaming works in several small pieces [1]."
    pieces: list[str] = []
    result = make_chat(fake_openai).complete(MESSAGES, max_tokens=200, on_delta=pieces.append)
    assert len(pieces) > 3
    assert "".join(pieces) == result.text == "Streaming works in several small pieces [1]."
    assert result.usage["completion_tokens"] > 0  # the final usage chunk was read
    (request,) = fake_openai.requests_to(CHAT)
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("streamed", [True, False])
def test_a_reply_cut_off_with_no_finish_reason_is_a_transient_failure_not_an_answer(
    fake_openai: FakeOpenAIServer, streamed: bool
) -> None:
    fake_openai.chat_responder = lambda body: "To configure the store you must NOT forget to call the reducer [1]."
    fake_openai.cut_off_next()
    pieces: list[str] = []
    with pytest.raises(ChatError) as caught:
        make_chat(fake_openai).complete(MESSAGES, max_tokens=200, on_delta=pieces.append if streamed else None)
    assert caught.value.kind == "cut_off"
    assert isinstance(caught.value, TransientError)  # the respond handler retries it later
    if streamed:
        assert "".join(pieces).startswith("To configure the store")  # it really was a half-delivered stream
    # The next reply is complete and comes through.
    assert make_chat(fake_openai).complete(MESSAGES, max_tokens=200).text.endswith("reducer [1].")


def test_the_answerer_never_returns_a_cut_off_reply_as_an_answer(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.cut_off_next()
    answer = Answerer(covered_search, make_chat(fake_openai), Product("Acme")).answer("how does feature 1 work?")
    assert answer.kind is AnswerKind.FAILED
    assert "cut off" in answer.text


def test_a_429_is_retried_then_succeeds(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.rate_limit_next(retry_after_ms=10, path=CHAT)
    result = make_chat(fake_openai).complete(MESSAGES, max_tokens=50)
    assert result.text
    assert len(fake_openai.requests_to(CHAT)) == 2


def test_a_500_on_every_try_is_a_clear_failure(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail_next(500, "boom", error_type="server_error", headers={"retry-after-ms": "1"}, times=3)
    with pytest.raises(ChatError) as caught:
        make_chat(fake_openai, retries=2).complete(MESSAGES, max_tokens=50)
    assert caught.value.kind == "unavailable"
    assert "HTTP 500" in str(caught.value)
    assert isinstance(caught.value, TransientError)  # the respond handler retries it later
    assert len(fake_openai.requests_to(CHAT)) == 3  # first try + 2 retries, then it gives up


def test_the_answerer_turns_a_model_failure_into_a_message_with_sources(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail_next(500, "boom", error_type="server_error", headers={"retry-after-ms": "1"}, times=3)
    answerer = Answerer(covered_search, make_chat(fake_openai), Product("Acme"))
    answer = answerer.answer("how does feature 1 work?")
    assert answer.kind is AnswerKind.FAILED
    assert "couldn't write an answer" in answer.text and "HTTP 500" in answer.text
    assert [s.url for s in answer.closest] == [source(n).url for n in (1, 2, 3)]
    assert "test-key" not in answer.text


def test_a_timeout_is_a_clear_failure(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_delay_s = 1.5
    with pytest.raises(ChatError) as caught:
        make_chat(fake_openai, timeout=0.3, retries=0).complete(MESSAGES, max_tokens=50)
    # A "timeout" (not the delayed answer) means the client gave up before the model replied, with no retry.
    assert caught.value.kind == "timeout"
    assert isinstance(caught.value, TransientError)
    assert len(fake_openai.requests_to(CHAT)) == 1


def test_a_wrong_key_is_rejected_not_retried(fake_openai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="wrong", max_retries=2)
    chat = OpenAIChat("gpt-4o-mini", api_key="wrong", base_url=fake_openai.base_url, client=client)
    with pytest.raises(ChatError) as caught:
        chat.complete(MESSAGES, max_tokens=50)
    assert caught.value.kind == "rejected"
    assert not isinstance(caught.value, TransientError)
    assert "wrong" not in str(caught.value)
    assert len(fake_openai.requests_to(CHAT)) == 1


def test_the_answerer_prompts_with_sources_and_cites_what_the_model_cited(fake_openai: FakeOpenAIServer) -> None:
    seen: dict[str, Any] = {}

    def responder(body: dict[str, Any]) -> str:
        seen.update(body)
        return "Feature 3 works like this [3]. See also [1] and again [3]; [9] does not exist."

    fake_openai.chat_responder = responder
    history = [Turn("user", "what is feature 1?"), Turn("assistant", "It is a feature [1].", (source(1),))]
    answer = Answerer(covered_search, make_chat(fake_openai), Product("Acme", "A widget API.")).answer(
        "and feature 3?", history
    )
    assert answer.kind is AnswerKind.GENERATED
    assert answer.text == "Feature 3 works like this [1]. See also [2] and again [1]; does not exist."
    assert [(c.number, c.source.url) for c in answer.citations] == [(1, source(3).url), (2, source(1).url)]
    roles = [m["role"] for m in seen["messages"]]
    assert roles == ["system", "assistant", "user", "assistant", "user"]
    system, sources_turn = seen["messages"][0]["content"], seen["messages"][1]["content"]
    assert "Acme" in system and "A widget API." in system and "[n]" in system
    assert "language of the user's latest message" in system
    assert "[1] Page 1 › Section 1" in sources_turn and "https://docs.example.com/page3#section-3" in sources_turn
    # Earlier answers reach the model without their old citation numbers.
    assert seen["messages"][3]["content"] == "It is a feature."
    assert seen["messages"][-1]["content"].startswith("and feature 3?")


def test_the_answer_streams_through_the_answerer(fake_openai: FakeOpenAIServer) -> None:
    pieces: list[str] = []
    answer = Answerer(covered_search, make_chat(fake_openai), Product("Acme")).answer(
        "how does feature 2 work?", on_delta=pieces.append
    )
    assert "".join(pieces) == "The documentation covers this [1]."
    assert answer.text == "The documentation covers this [1]." and len(answer.citations) == 1


def test_condensing_a_follow_up_searches_with_the_standalone_question(fake_openai: FakeOpenAIServer) -> None:
    def responder(body: dict[str, Any]) -> str:
        if "standalone search query" in body["messages"][0]["content"]:
            return '"How do I test feature 3 with Jest?"'
        return "Answer [1]."

    fake_openai.chat_responder = responder
    queries: list[str] = []

    def search(query: str, limit: int) -> SearchResult:
        queries.append(query)
        return covered_search(query, limit)

    answerer = Answerer(search, make_chat(fake_openai), Product("Acme"), options=AnswerOptions(condense=True))
    answerer.answer("how do I test it?", [Turn("user", "tell me about feature 3"), Turn("assistant", "Sure [1].")])
    assert queries == ["How do I test feature 3 with Jest?"]


def test_known_context_windows() -> None:
    assert context_window("gpt-4o-mini") == 128_000
    assert context_window("gpt-4.1-mini-2025-04-14") == 1_047_576
    assert context_window("llama-3.1-8b-instruct") == 8_192
