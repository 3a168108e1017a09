"""The "not in the docs" policy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from docsbot.answer.abstain import AbstainPolicy
from docsbot.index.search import SearchResult
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


def test_by_default_a_question_about_something_else_entirely_is_refused_even_when_its_words_match() -> None:
    grounded = replace(result(3.0), known_share=1.0)  # common words: the keywords alone would answer it
    assert AbstainPolicy().covered(replace(grounded, rerank_similarity=0.45))
    assert not AbstainPolicy().covered(replace(grounded, rerank_similarity=0.2))  # no section is about it
    assert AbstainPolicy().covered(replace(grounded, rerank_similarity=None))  # no reranker: keywords decide


def test_a_question_naming_something_the_top_sections_never_mention_is_refused() -> None:
    from docsbot.answer.abstain import grounded_score, query_coverage
    from tests.harness.builders import src

    sections = [src(1, "Configure the store with configureStore and add your reducers.")]
    on_topic = SearchResult(query="configure the store reducers", sources=sections, best_dense_score=0.5,
                            best_sparse_score=14.0, keyword_scale=7.0)  # fmt: skip
    elsewhere = replace(on_topic, query="configure the store reducers in flutter dart")
    assert query_coverage(on_topic) == 1.0
    assert query_coverage(elsewhere) == pytest.approx(3 / 5)
    policy = AbstainPolicy()
    assert policy.covered(on_topic)  # keyword score 2.0, every term found
    assert grounded_score(elsewhere) == pytest.approx(1.2)
    assert not policy.covered(elsewhere)  # the same keyword score, but the docs never mention flutter or dart


def test_terms_the_whole_collection_never_mentions_count_against_the_question() -> None:
    from docsbot.answer.abstain import grounded_score
    from tests.harness.builders import src

    # The top section has 4 of the 6 terms (coverage 4/6); "pinia" and "vuex" occur nowhere in the docs (known
    # share 4/6), which the keyword score and coverage alone cannot tell from words only the top sections lack.
    found = SearchResult(query="global state ionic vue pinia vuex", sources=[src(1, "Global state in Ionic Vue.")],
                         best_dense_score=0.5, best_sparse_score=28.0, keyword_scale=7.0)  # fmt: skip
    assert grounded_score(found) == pytest.approx(4.0 * 4 / 6)
    policy = AbstainPolicy(min_grounded_score=2.0)
    assert policy.covered(found)  # not measured (a dense-only search, a hand-built result): no effect
    foreign = replace(found, known_share=4 / 6)
    assert grounded_score(foreign) == pytest.approx(4.0 * 4 / 6 * 4 / 6)
    assert not policy.covered(foreign)
    assert policy.covered(replace(found, known_share=1.0))  # every word is somewhere in the docs


def test_coverage_reads_the_heading_path_and_only_the_sources_the_answer_gets() -> None:
    from docsbot.answer.abstain import COVERAGE_SOURCES, query_coverage
    from tests.harness.builders import src

    base = SearchResult(query="middleware", sources=[src(1)], best_dense_score=0.5, best_sparse_score=14.0,
                        keyword_scale=7.0)  # fmt: skip
    assert query_coverage(base) == 0.0
    assert query_coverage(replace(base, sources=[replace(src(1), heading_path=("Writing middleware",))])) == 1.0
    late = [src(n) for n in range(1, COVERAGE_SOURCES + 1)] + [src(99, "custom middleware")]
    assert query_coverage(replace(base, sources=late)) == 0.0  # beyond what the answer would be built from
    assert query_coverage(replace(base, query="how do I")) is None  # only stop words: no coverage to judge


def test_the_policy_describes_every_gate_it_applies() -> None:
    assert AbstainPolicy().describe() == (
        "grounded score (keyword score × query coverage × known share) ≥ 1.3, reranker similarity ≥ 0.3"
    )
    assert AbstainPolicy(min_similarity=None).describe() == (
        "grounded score (keyword score × query coverage × known share) ≥ 1.3"
    )
    described = AbstainPolicy(min_keyword_score=1.0, min_similarity=0.4).describe()
    assert "keyword score ≥ 1" in described and "reranker similarity ≥ 0.4" in described
