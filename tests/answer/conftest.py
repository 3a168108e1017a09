"""Fixtures of the answering tests: the Redux development corpus indexed once per module (hashing stand-in + BM25)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource
from tests.harness.corpora import require_redux


@pytest.fixture(scope="module")
def redux_searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    corpus = require_redux()
    index = EdgeIndex(tmp_path_factory.mktemp("redux-index"), "redux")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")
    ingest_folder(index, embedder, sparse, source)
    yield Searcher(index, embedder, sparse)
    index.close()
