"""The prompt fits the model's token budget: oldest turns go first, then the lowest-ranked sources."""

from __future__ import annotations

import pytest

from docsbot.answer.model import Turn
from docsbot.answer.prompt import Product, build_prompt, format_sources
from docsbot.documents.tokens import encoding_for_model
from tests.harness.builders import src


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
