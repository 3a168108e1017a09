"""Which of a question's words the collection mentions at all, read from the index's own keyword vectors.

A question the docs do not cover usually names something they never mention ("flutter", "stripe", "pinia"):
its terms are missing not only from the best sections but from every chunk of the collection. The *known
share* is the share of the question's terms that occur in at least one chunk (document frequency above
zero). It is normalised by construction (a share of the question's own terms), needs no embedder, and is
counted from the index itself when the question is asked (`VectorIndex.terms_present`: one batch call of
single-term probes on a Qdrant server, no payloads read), so the figure follows every ingest, page change and
deletion with no statistics to keep in step, on every `VectorIndex` backend.

Terms are the BM25 tokeniser's (stemmed, stop-word free), except that an identifier with parts counts by its
parts only: "set_user" or "swipe-back" is known when its words are, even if the docs never spell the whole
identifier that way. Bounded work: at most `MAX_QUESTION_TERMS` terms are looked up per question.
"""

from __future__ import annotations

from docsbot.index.bm25 import identifier_terms, iter_identifiers, token_id
from docsbot.index.ports import SearchFilter, VectorIndex

MAX_QUESTION_TERMS = 32  # a question longer than this is judged on its first terms (one index query each)


def question_terms(text: str) -> list[str]:
    """The distinct terms of `text` in order, an identifier with parts counted by its parts alone."""
    terms: dict[str, None] = {}
    for identifier in iter_identifiers(text):
        found = identifier_terms(identifier)
        for term in found[1:] if len(found) > 1 else found:
            terms.setdefault(term, None)
    return list(terms)


def known_share(index: VectorIndex, text: str, search_filter: SearchFilter | None = None) -> float | None:
    """Share of the question's terms found in at least one chunk of the collection; None without terms."""
    terms = question_terms(text)[:MAX_QUESTION_TERMS]
    if not terms:
        return None
    present = index.terms_present([token_id(term) for term in terms], search_filter)
    return sum(present) / len(terms)


def term_occurs(index: VectorIndex, term: str, search_filter: SearchFilter | None = None) -> bool:
    """Whether any chunk (within `search_filter`) has `term` among its keyword terms."""
    return index.terms_present([token_id(term)], search_filter)[0]
