"""The "not in the docs" policy."""

from __future__ import annotations

from dataclasses import replace

from docsbot.answer.abstain import AbstainPolicy
from tests.harness.builders import result


def test_the_abstain_policy() -> None:
    policy = AbstainPolicy(min_keyword_score=1.3)
    assert policy.covered(result(2.0))
    assert not policy.covered(result(1.0))
    assert not policy.covered(result(2.0, sources=0))
    assert policy.covered(result(None))  # only stop words: the dense match decides
    assert not AbstainPolicy(min_dense_score=0.6).covered(result(2.0, dense=0.5))


def test_the_rerankers_similarity_must_also_clear_its_threshold_when_there_is_one() -> None:
    policy = AbstainPolicy(min_keyword_score=1.3, min_similarity=0.4)
    assert policy.covered(replace(result(2.0), rerank_similarity=0.5))
    assert not policy.covered(replace(result(2.0), rerank_similarity=0.3))  # keywords match, meaning does not
    assert not policy.covered(replace(result(1.0), rerank_similarity=0.9))  # the docs lack the key terms
    assert policy.covered(result(2.0))  # no reranker installed: the keyword score alone decides
    assert AbstainPolicy(min_similarity=None).covered(replace(result(2.0), rerank_similarity=0.1))
