"""What a chunk is embedded and keyword-indexed from: link text, never link destinations; code untouched."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.indexed_text import indexed_text
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.index.sync import sync_pages


def test_links_and_images_count_by_their_text() -> None:
    text = 'See [the store](https://redux.js.org/api/store#x "Store") and ![the logo](/img/logo.png).'
    assert indexed_text(text) == "See the store and the logo."


def test_bracketed_link_text_and_parenthesised_urls() -> None:
    assert indexed_text("[a [b] c](https://x.example/(z)) next") == "a [b] c next"


def test_code_fences_and_bare_urls_stay_as_written() -> None:
    text = "```js\nhandlers[0](event)\n```\nVisit https://bare.example/page now."
    assert indexed_text(text) == text


class Recording(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return super().embed_documents(texts)


def test_sync_embeds_the_text_without_destinations_and_keeps_the_stored_text(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "index", "docs")
    embedder = Recording()
    markdown = "# Store\n\nThe [store](https://docs.example.com/api/store) holds the state tree of the app."
    page = Page(url="https://docs.example.com/store", title="Store", markdown=markdown, source_kind="ingest")
    sync_pages(index, embedder, Bm25Encoder(), [page], source="docs", complete=True)
    assert embedder.seen and all("https://docs.example.com/api" not in text for text in embedder.seen)
    assert any("The store holds the state tree" in text for text in embedder.seen)
    # What the bot quotes and cites keeps the link.
    (found,) = Searcher(index, embedder, Bm25Encoder()).search("state tree", limit=1).sources
    assert "[store](https://docs.example.com/api/store)" in found.text
    index.close()
