"""The model-judged relevance pass: one bounded request through the real `openai` client to the loopback model,
its grades reorder the top sections, and any failure keeps the order it was given."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from docsbot.answer.judge import MAX_QUESTION_TOKENS, ModelJudgeReranker, parse_grades
from docsbot.app.answerers import make_reranker
from docsbot.documents.model import Source
from docsbot.documents.tokens import count_tokens
from docsbot.index.rerank import Ranked, rerank_safely
from docsbot.settings.config import ConfigError, load_settings
from tests.answer.test_chat import make_chat
from tests.harness.fakes.openai_server import FakeOpenAIServer

CHAT = "/v1/chat/completions"


def section(n: int, words: int = 30) -> Source:
    return Source(
        title=f"Page {n}",
        heading_path=(f"Page {n}", f"Section {n}"),
        url=f"https://docs.example.com/page{n}",
        anchor=f"s{n}",
        text=f"marker{n} " + " ".join(f"word{n}x{i}" for i in range(words)),
        snippet="",
        score=1.0 / n,
    )


def grading_model(grades: dict[str, int]) -> Any:
    """Grades each section of the request by the `markerN` word it carries (0 when not listed)."""

    def responder(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        numbered = re.findall(r"^\[(\d+)\] .*\n(marker\d+)", user, re.MULTILINE)
        return "\n".join(f"{n}: {grades.get(marker, 0)}" for n, marker in numbered)

    return responder


def urls(sources: Sequence[Source]) -> list[str]:
    return [s.url.rsplit("/", 1)[1] for s in sources]


def test_the_models_grades_reorder_the_judged_sections_and_leave_the_rest(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = grading_model({"marker5": 3, "marker3": 2, "marker9": 3})
    judge = ModelJudgeReranker(make_chat(fake_openai), judged=6)
    ranked = judge.rerank("how do I do five?", [section(n) for n in range(1, 11)])
    # Graded 3, then 2, then the zeros in the order they came; section 9 was not judged, so it stays put.
    assert urls(ranked.sources) == [f"page{n}" for n in (5, 3, 1, 2, 4, 6, 7, 8, 9, 10)]
    assert [s.score for s in ranked.sources[:3]] == [3.0, 2.0, 0.0]
    (request,) = fake_openai.requests_to(CHAT)
    assert request.body["messages"][-1]["content"].count("\n[") == 6  # one request, six sections
    assert judge.usage["requests"] == 1 and judge.usage["prompt_tokens"] > 0


def test_equal_grades_change_nothing(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = grading_model({})
    candidates = [section(n) for n in range(1, 6)]
    assert urls(ModelJudgeReranker(make_chat(fake_openai)).rerank("q", candidates).sources) == urls(candidates)


def test_the_request_is_bounded_whatever_the_candidates(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.chat_responder = grading_model({})
    judge = ModelJudgeReranker(make_chat(fake_openai), judged=8, snippet_tokens=100)
    judge.rerank("why? " * 2000, [section(n, words=3000) for n in range(1, 31)])
    (request,) = fake_openai.requests_to(CHAT)
    user = request.body["messages"][-1]["content"]
    assert user.count("\n[") == 8
    heading_and_numbering = 20
    assert count_tokens(user) <= MAX_QUESTION_TOKENS + 8 * (100 + heading_and_numbering) + 50
    assert request.body["max_tokens"] == 6 * 8 + 8


@pytest.mark.parametrize("reply", ["1: 3\n2: 1", "I think section 1 is best.", ""])
def test_a_reply_that_does_not_grade_every_section_keeps_the_order(fake_openai: FakeOpenAIServer, reply: str) -> None:
    fake_openai.chat_responder = lambda body: reply or "   "
    candidates = [section(n) for n in range(1, 5)]
    assert urls(ModelJudgeReranker(make_chat(fake_openai)).rerank("q", candidates).sources) == urls(candidates)


def test_an_unreachable_model_keeps_the_inner_order_and_its_similarity(fake_openai: FakeOpenAIServer) -> None:
    class Reverse:
        name = "reverse"

        def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
            return Ranked(list(reversed(candidates)), best_similarity=0.42)

    fake_openai.fail_next(500, times=10)
    candidates = [section(n) for n in range(1, 5)]
    ranked = rerank_safely(ModelJudgeReranker(make_chat(fake_openai, retries=0), inner=Reverse()), "q", candidates)
    assert urls(ranked.sources) == ["page4", "page3", "page2", "page1"] and ranked.best_similarity == 0.42


def test_the_judge_grades_the_inner_rerankers_order(fake_openai: FakeOpenAIServer) -> None:
    class Reverse:
        name = "reverse"

        def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
            return Ranked(list(reversed(candidates)), best_similarity=0.7)

    fake_openai.chat_responder = grading_model({"marker2": 3})
    judge = ModelJudgeReranker(make_chat(fake_openai), inner=Reverse(), judged=2)
    ranked = judge.rerank("q", [section(n) for n in range(1, 5)])
    # The inner order is 4, 3, 2, 1; only its top two (4, 3) are judged: section 2 is not among them.
    assert urls(ranked.sources) == ["page4", "page3", "page2", "page1"] and ranked.best_similarity == 0.7
    assert "marker2" not in fake_openai.requests_to(CHAT)[0].body["messages"][-1]["content"]


def test_grades_are_read_from_the_lines_models_write() -> None:
    assert parse_grades("1: 3\n[2] - 0\n3 = 2\n**4**: 1\n1: 0", 4) == [3, 0, 2, 1]


def test_the_setting_needs_a_chat_model_and_builds_the_judge(tmp_path: Any, fake_openai: FakeOpenAIServer) -> None:
    base = {"DOCSBOT_DATA_DIR": str(tmp_path), "DOCSBOT_EMBEDDER": "hashing"}
    with pytest.raises(ConfigError) as caught:
        load_settings({**base, "DOCSBOT_RERANKER": "model", "DOCSBOT_JUDGE_SECTIONS": "50"})
    assert "DOCSBOT_RERANKER=model needs a chat model" in str(caught.value)
    assert "DOCSBOT_JUDGE_SECTIONS" in str(caught.value)  # every problem at once
    settings = load_settings(
        {
            **base,
            "DOCSBOT_RERANKER": "model",
            "DOCSBOT_JUDGE_SECTIONS": "5",
            "DOCSBOT_CHAT_MODEL": "gpt-4o-mini",
            "DOCSBOT_CHAT_BASE_URL": fake_openai.base_url,
            "DOCSBOT_CHAT_API_KEY": fake_openai.api_key,
        }
    )
    judge = make_reranker(settings)
    assert isinstance(judge, ModelJudgeReranker) and judge.judged == 5 and judge.name.startswith("model:gpt-4o-mini")
