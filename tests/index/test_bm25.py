from __future__ import annotations

import subprocess
import sys

import pytest

from docsbot.index.bm25 import AVG_DOC_LEN, K1, B, Bm25Encoder, SparseVector, token_id, tokenize

encoder = Bm25Encoder()


def weight(vector: SparseVector, term: str) -> float:
    return vector.values[vector.indices.index(token_id(term))]


def filler(n: int) -> str:
    """`n` distinct words that are neither stop words nor any term a test looks at."""
    return " ".join(f"filler{i}" for i in range(n))


# --- tokenisation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("configureStore", ["configurestore", "configur", "store"]),
        ("redux-toolkit", ["redux-toolkit", "redux", "toolkit"]),
        ("create_slice", ["create_slice", "creat", "slice"]),
        ("useSelector()", ["useselector", "use", "selector"]),
        ("HTTP_429", ["http_429", "http", "429"]),
        ("HTTPServer", ["httpserver", "http", "server"]),
        ("store.dispatch(action).", ["store.dispatch", "store", "dispatch", "action"]),
    ],
)
def test_identifiers_yield_the_whole_and_its_parts(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_words_are_lowercased_stemmed_and_stop_words_dropped() -> None:
    assert tokenize("How do I configure the Stores?") == ["configur", "store"]
    assert tokenize("configuring stores") == tokenize("Configure store")


def test_lowercasing_is_unicode_aware() -> None:
    assert tokenize("ÜBER GRÖSSE ΣΊΣΥΦΟΣ") == ["über", "grösse", "σίσυφος"]


def test_numbers_are_kept() -> None:
    assert tokenize("Listen on port 8080, retry after 429 errors") == [
        "listen",
        "port",
        "8080",
        "retri",
        "429",
        "error",
    ]


def test_stop_words_inside_identifiers_drop_only_the_part() -> None:
    assert tokenize("isEmpty") == ["isempty", "empti"]


def test_text_without_terms_gives_empty_vectors() -> None:
    assert encoder.encode_document("the of and ... !!") == SparseVector(indices=[], values=[])
    assert encoder.encode_query("") == SparseVector(indices=[], values=[])


# --- ids ---------------------------------------------------------------------------------------------


def test_token_ids_are_stable_31_bit_values() -> None:
    # Indexes already built hold these ids: if this changes, Bm25Encoder.name must change too.
    assert token_id("store") == 1366160779
    assert all(0 <= token_id(t) < 2**31 for t in ("store", "configurestore", "429", "σίσυφος"))


def test_vectors_are_identical_across_processes() -> None:
    code = "from docsbot.index.bm25 import Bm25Encoder\nprint(Bm25Encoder().encode_document('configureStore(reducer)'))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"{encoder.encode_document('configureStore(reducer)')}\n"}


# --- weights -----------------------------------------------------------------------------------------


def test_indices_are_unique_and_sorted() -> None:
    vector = encoder.encode_document("The store: configureStore creates the store. " + filler(50))
    assert vector.indices == sorted(set(vector.indices))
    assert len(vector.values) == len(vector.indices)


def test_document_weight_follows_the_bm25_formula() -> None:
    vector = encoder.encode_document("store " + filler(9))  # 10 terms, "store" once
    expected = 1 * (K1 + 1) / (1 + K1 * (1 - B + B * 10 / AVG_DOC_LEN))
    assert weight(vector, "store") == pytest.approx(expected)


def test_term_frequency_saturates() -> None:
    once = encoder.encode_document("store " + filler(9))
    five_times = encoder.encode_document("store " * 5 + filler(5))  # same length: 10 terms
    fifty_times = encoder.encode_document("store " * 50 + filler(5))

    assert weight(once, "store") < weight(five_times, "store") < weight(fifty_times, "store") < K1 + 1


def test_longer_documents_weigh_a_term_less() -> None:
    short = encoder.encode_document("store " + filler(10))
    long = encoder.encode_document("store " + filler(500))

    assert weight(long, "store") < weight(short, "store")


def test_query_values_are_one_per_distinct_term() -> None:
    query = encoder.encode_query("store Store stores the STORE reducer")

    assert query.indices == sorted({token_id("store"), token_id("reduc")})  # "reducer" stems to "reduc"
    assert query.values == [1.0, 1.0]


def test_split_query_matches_camel_case_document() -> None:
    document = encoder.encode_document("Call configureStore() with your root reducer.")

    for query_text in ("configure store", "configureStore", "How do I configure the store?"):
        shared = set(encoder.encode_query(query_text).indices) & set(document.indices)
        assert {token_id("configur"), token_id("store")} <= shared, query_text
    assert token_id("configurestore") in set(encoder.encode_query("configureStore").indices)
    assert not set(encoder.encode_query("bake bread").indices) & set(document.indices)


def test_encode_documents_matches_encode_document() -> None:
    texts = ["createSlice generates action creators", "", "redux-toolkit 2.0"]
    assert encoder.encode_documents(texts) == [encoder.encode_document(t) for t in texts]
    assert encoder.name == "bm25-v1"


def test_a_weighted_heading_line_counts_its_terms_again_and_names_the_index() -> None:
    text = "Store › Subscribing\n\nCall subscribe to hear about every dispatch."
    plain, weighted = Bm25Encoder(), Bm25Encoder(heading_weight=2)
    assert plain.name == "bm25-v1" and weighted.name == "bm25-v1-heading2"
    heading_term, body_term = token_id("store"), token_id("dispatch")
    a, b = plain.encode_document(text), weighted.encode_document(text)
    weight_a, weight_b = dict(zip(a.indices, a.values, strict=True)), dict(zip(b.indices, b.values, strict=True))
    assert set(weight_a) == set(weight_b)  # the same terms, only counted differently
    assert weight_b[heading_term] > weight_a[heading_term]
    assert weight_b[token_id("subscrib")] > weight_b[body_term]  # in the heading and the body: counted three times
    assert plain.encode_document("no heading line here") == weighted.encode_document("no heading line here")
    assert weighted.encode_query(text) == plain.encode_query(text)
    with pytest.raises(ValueError):
        Bm25Encoder(heading_weight=0)
