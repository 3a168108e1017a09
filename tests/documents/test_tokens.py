"""The offline encodings equal tiktoken's own, and building them touches neither the network nor the environment."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped]  # tiktoken ships no types for its plugins

from docsbot.documents.tokens import ENCODINGS, count_tokens, encoding_for_model, get_encoding

SHARED = Path(__file__).resolve().parents[2] / "shared"

SAMPLE = (
    "Redux's `configureStore` sets up the store: reducers, middleware, DevTools.\n\n"
    "```ts\nconst store = configureStore({ reducer: { todos: todosReducer } })\n```\n"
    "Ça marche aussi en français, 日本語でも, и по-русски. 12345 + 6789 = 19134 <|endoftext|> ☃️🚀"
)
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


@pytest.fixture
def official(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tiktoken.Encoding]:
    """tiktoken's own encodings, their BPE files put where tiktoken's cache looks (this test's env only)."""
    for name in ("cl100k_base", "o200k_base"):
        data = gzip.decompress((importlib.resources.files("bpe_openai.data") / f"{name}.tiktoken.gz").read_bytes())
        (tmp_path / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()).write_bytes(data)  # noqa: S324
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return {name: tiktoken.Encoding(**openai_public.ENCODING_CONSTRUCTORS[name]()) for name in ENCODINGS}


@pytest.mark.parametrize("name", ENCODINGS)
def test_bundled_encodings_equal_tiktokens(name: str, official: dict[str, tiktoken.Encoding]) -> None:
    ours, theirs = get_encoding(name), official[name]
    assert ours._pat_str == theirs._pat_str
    assert ours._special_tokens == theirs._special_tokens
    assert ours._mergeable_ranks == theirs._mergeable_ranks
    assert ours.encode(SAMPLE, disallowed_special=()) == theirs.encode(SAMPLE, disallowed_special=())


def test_models_get_their_encoding_and_unknown_ones_cl100k() -> None:
    assert encoding_for_model("gpt-4o").name == "o200k_base"
    assert encoding_for_model("gpt-4").name == "cl100k_base"
    assert encoding_for_model("text-embedding-3-large").name == "cl100k_base"
    assert encoding_for_model("gpt-oss-120b").name == "o200k_harmony"
    assert encoding_for_model("my-self-hosted-llama").name == "cl100k_base"
    with pytest.raises(ValueError, match="not bundled"):
        get_encoding("p50k_base")


def test_counts_are_stable() -> None:
    assert count_tokens("hello world") == 2
    assert count_tokens(SAMPLE) == len(get_encoding().encode(SAMPLE, disallowed_special=()))


def test_counting_writes_no_environment_and_no_cache() -> None:
    code = (
        "import os, sys, socket\n"
        "def no_network(*args, **kwargs):\n"
        "    raise AssertionError('network used')\n"
        "socket.socket.connect = no_network\n"
        "before = dict(os.environ)\n"
        "from docsbot.documents.tokens import count_tokens, encoding_for_model\n"
        "print(count_tokens('hello world'), encoding_for_model('gpt-4o').name)\n"
        "print(dict(os.environ) == before)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHARED), os.environ.get("PYTHONPATH")]))
    env["TIKTOKEN_CACHE_DIR"] = os.devnull + "-never-created"  # tiktoken would cache here if it were used
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "o200k_base", "True"]
    assert not Path(env["TIKTOKEN_CACHE_DIR"]).exists()
