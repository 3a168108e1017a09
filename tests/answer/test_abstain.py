"""The "not in the docs" policy."""

from __future__ import annotations

from docsbot.answer.abstain import AbstainPolicy
from tests.harness.builders import result


def test_the_abstain_policy() -> None:
    policy = AbstainPolicy(min_keyword_score=1.3)
    assert policy.covered(result(2.0))
    assert not policy.covered(result(1.0))
    assert not policy.covered(result(2.0, sources=0))
    assert policy.covered(result(None))  # only stop words: the dense match decides
    assert not AbstainPolicy(min_dense_score=0.6).covered(result(2.0, dense=0.5))
