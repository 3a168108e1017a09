"""One behaviour suite for both index backends: `QdrantIndex` (qdrant-client's embedded mode) and `EdgeIndex`.

Every test taking the `store` fixture runs once per backend. The data is small and hand-made, so the
expected best hit of each query is known; the backends must also agree with each other.
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder, SparseVector
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.errors import EmbedderMismatchError, IndexStoreError
from docsbot.index.ports import Hit, IndexInfo, IndexPoint, QueryResult, SearchFilter, VectorIndex
from docsbot.index.qdrant_edge import INFO_FILE, SHARD_DIR, EdgeIndex
from docsbot.index.qdrant_server import QdrantIndex, open_client
from docsbot.index.search import Searcher
from docsbot.index.sync import sync_pages

EMBEDDER = HashingEmbedder(64)
SPARSE = Bm25Encoder()
INFO = IndexInfo(embedder=EMBEDDER.name, dimensions=EMBEDDER.dimensions, sparse=SPARSE.name)
COLLECTION = "docs"
BACKENDS = ("qdrant", "edge")

# A small docs-like vocabulary; each document draws from it, so queries rank many documents.
WORDS = (  # noqa: SIM905 - a word list reads better as text
    "store reducer action middleware selector thunk slice dispatch state immutable render hook context "
    "provider query cache mutation subscription listener entity adapter normalize serialize devtools "
    "enhancer compose batch effect saga observable router loader schema token session webhook cursor "
    "pagination retry timeout backoff metric tracing logger plugin config deploy cluster replica shard "
    "snapshot migration index vector payload filter tenant quota"
).split()


class Store:
    """Opens and closes indexes of one backend over one folder, like separate processes would."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self._open: list[VectorIndex] = []

    def open(self, collection: str = COLLECTION) -> VectorIndex:
        index: VectorIndex
        if self.kind == "qdrant":
            index = QdrantIndex(open_client(url=None, api_key=None, path=self.root / "qdrant"), collection)
        else:
            index = EdgeIndex(self.root / "edge", collection)
        self._open.append(index)
        return index

    def close(self, index: VectorIndex) -> None:
        if isinstance(index, QdrantIndex):
            index.client.close()
        elif isinstance(index, EdgeIndex):
            index.close()
        self._open.remove(index)

    def reopen(self, index: VectorIndex) -> VectorIndex:
        self.close(index)
        return self.open(index.collection)

    def close_all(self) -> None:
        for index in list(self._open):
            self.close(index)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = Store(str(request.param), tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def index(store: Store) -> VectorIndex:
    return store.open()


def point_id(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://docs.example.com/point/{i}"))


def doc_text(i: int) -> str:
    """Twelve seeded vocabulary words, a word every document has, and a marker unique to the document."""
    rng = random.Random(i)
    words = [rng.choice(WORDS) for _ in range(12)]
    return f"{' '.join(words)} documentation marker{i}"


def payload(i: int, text: str) -> dict[str, object]:
    return {
        "url": f"https://docs.example.com/page{i // 5}",
        "anchor": f"section-{i % 5}",
        "anchors": [f"section-{i % 5}"],
        "title": f"Page {i // 5}",
        "heading_path": [f"Page {i // 5}", f"Section {i % 5}"],
        "text": text,
        "source": "alpha" if i < 30 else "beta",
        "source_kind": "guide" if i % 2 == 0 else "api",
        "tags": ["v2"] if i % 3 == 0 else ["v1"],
        "content_hash": f"{i:064x}",
        "position": i % 5,
        "token_count": len(text.split()),
    }


def make_point(i: int, text: str | None = None) -> IndexPoint:
    text = text if text is not None else doc_text(i)
    return IndexPoint(
        id=point_id(i),
        dense=EMBEDDER.embed_query(text),
        sparse=SPARSE.encode_document(text),
        payload=payload(i, text),
    )


POINTS = [make_point(i) for i in range(50)]


def search(
    index: VectorIndex, text: str, mode: str, limit: int = 10, search_filter: SearchFilter | None = None
) -> QueryResult:
    return index.query(
        dense=EMBEDDER.embed_query(text) if mode != "sparse" else None,
        sparse=SPARSE.encode_query(text) if mode != "dense" else None,
        limit=limit,
        search_filter=search_filter,
    )


def filled(index: VectorIndex) -> VectorIndex:
    index.ensure(INFO)
    index.upsert(POINTS)
    return index


def test_ensure_creates_once_and_records_info(index: VectorIndex) -> None:
    assert index.info() is None
    assert index.count() == 0
    assert index.ensure(INFO) is True
    assert index.info() == INFO
    assert index.ensure(INFO) is False
    assert index.count() == 0


def test_reopening_sees_the_same_info_and_points(store: Store, index: VectorIndex) -> None:
    filled(index)
    again = store.reopen(index)
    assert again.info() == INFO
    assert again.count() == 50
    assert {p.id for p in again.stored_points()} == {p.id for p in POINTS}
    assert again.ensure(INFO) is False
    hits = search(again, doc_text(7), "hybrid").hits
    assert hits[0].id == point_id(7)


def test_another_embedder_is_refused(store: Store, index: VectorIndex) -> None:
    with pytest.raises(IndexStoreError, match="has not been indexed yet") as missing:
        index.check(INFO)
    assert not isinstance(missing.value, EmbedderMismatchError)
    index.ensure(INFO)
    other_dims = IndexInfo(embedder="hashing-32", dimensions=32, sparse=SPARSE.name)
    with pytest.raises(EmbedderMismatchError, match="hashing-64"):
        index.ensure(other_dims)
    with pytest.raises(EmbedderMismatchError, match="sparse encoder bm25-v1"):
        index.check(IndexInfo(embedder=INFO.embedder, dimensions=INFO.dimensions, sparse="bm25-v2"))
    # The refusal survives a reopen: it comes from what the collection recorded.
    again = store.reopen(index)
    with pytest.raises(EmbedderMismatchError):
        again.check(other_dims)
    with pytest.raises(EmbedderMismatchError):
        Searcher(again, HashingEmbedder(32), SPARSE)


def test_upsert_count_stored_points_and_delete(index: VectorIndex) -> None:
    filled(index)
    assert index.count() == 50
    stored = {p.id: p for p in index.stored_points(batch=7)}  # a small batch pages through the scroll
    assert set(stored) == {p.id for p in POINTS}
    for point in POINTS:
        assert stored[point.id].url == point.payload["url"]
        assert stored[point.id].source == point.payload["source"]

    index.upsert(POINTS[:10])  # the same ids again replace, never duplicate
    assert index.count() == 50
    index.upsert([make_point(3, "replaced text about zebracorn migrations")])
    assert index.count() == 50
    assert search(index, "zebracorn", "sparse").hits[0].id == point_id(3)

    gone = [p.id for p in POINTS[:10]]
    index.delete(gone)
    assert index.count() == 40
    assert {p.id for p in index.stored_points()} == {p.id for p in POINTS[10:]}
    index.delete([point_id(999)])  # an id that is not there is no error
    index.delete([])
    index.upsert([])
    assert index.count() == 40


def test_stored_points_filtered_by_source(index: VectorIndex) -> None:
    filled(index)
    alpha = list(index.stored_points(source="alpha"))
    beta = list(index.stored_points(source="beta"))
    assert {p.id for p in alpha} == {point_id(i) for i in range(30)}
    assert {p.id for p in beta} == {point_id(i) for i in range(30, 50)}
    assert {p.source for p in alpha} == {"alpha"}
    assert list(index.stored_points(source="nobody")) == []


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_a_document_finds_itself_in_every_mode(index: VectorIndex, mode: str) -> None:
    filled(index)
    for i in (0, 17, 31, 49):
        result = search(index, doc_text(i), mode)
        assert result.hits[0].id == point_id(i)
        assert result.hits[0].payload == POINTS[i].payload  # payload round-trips, lists and ints included
        assert len(result.hits) == 10
        assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
        if mode == "sparse":
            assert result.best_dense_score is None
        else:
            assert result.best_dense_score == pytest.approx(1.0, abs=1e-5)
        if mode == "dense":
            assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)
            assert result.best_sparse_score is None
        else:
            # The best keyword score is the top sparse hit's score, whatever the fused ranking says.
            sparse_only = search(index, doc_text(i), "sparse")
            assert result.best_sparse_score == pytest.approx(sparse_only.hits[0].score, rel=1e-5)


def test_hybrid_scores_are_rrf_with_the_given_k(index: VectorIndex) -> None:
    filled(index)
    text = doc_text(12)
    for k in (60, 2):
        result = index.query(
            dense=EMBEDDER.embed_query(text), sparse=SPARSE.encode_query(text), limit=5, prefetch_limit=20, rrf_k=k
        )
        # First in both the dense and the sparse ranking: 1/k twice (ranks count from 0).
        assert result.hits[0].id == point_id(12)
        assert result.hits[0].score == pytest.approx(2.0 / k, rel=1e-5)


def test_equal_fused_scores_come_in_point_id_order_every_time(index: VectorIndex) -> None:
    """Rank fusion ties often (rank r in one list alone scores 1/(k + r) for each list); the index's own order of
    tied points varied from call to call, which made the same question rank differently twice."""
    index.ensure(INFO)
    axis = {n: [1.0 if d == n else 0.0 for d in range(EMBEDDER.dimensions)] for n in (1, 2, 3)}
    # Each of points 1 and 2 is first in one list only: the dense query points at 1, only 2 has the keyword.
    texts = {1: "alpha notes", 2: "omega notes", 3: "other notes"}
    index.upsert(
        [
            IndexPoint(id=point_id(n), dense=axis[n], sparse=SPARSE.encode_document(t), payload=payload(n, t))
            for n, t in texts.items()
        ]
    )
    dense, sparse = axis[1], SPARSE.encode_query("omega")

    def ranked() -> list[tuple[str, float]]:
        return [(h.id, h.score) for h in index.query(dense=dense, sparse=sparse, limit=3, prefetch_limit=1).hits]

    runs = [ranked() for _ in range(12)]
    assert all(run == runs[0] for run in runs)
    (first, first_score), (second, second_score) = runs[0]
    assert first_score == second_score  # a tie: 1/k each
    assert [first, second] == sorted([point_id(1), point_id(2)])


def test_idf_lets_a_rare_term_outweigh_a_common_one(index: VectorIndex) -> None:
    index.ensure(INFO)
    index.upsert(POINTS)
    common = make_point(100, "documentation documentation documentation documentation setup")
    rare = make_point(101, "zanzibar setup notes for the whole thing")
    index.upsert([common, rare])
    query = SPARSE.encode_query("documentation zanzibar")
    # Without IDF the common-term document would win: its term-frequency weight is larger.
    assert _dot(query, common.sparse) > _dot(query, rare.sparse)

    hits = index.query(dense=None, sparse=query, limit=5).hits
    assert hits[0].id == rare.id
    by_id = {h.id: h.score for h in hits}
    # Qdrant's IDF: ln(1 + (N - n + 0.5) / (n + 0.5)); 52 points, "zanzibar" in 1, "documentation" in 51.
    zanzibar_idf = math.log(1 + (52 - 1 + 0.5) / (1 + 0.5))
    documentation_idf = math.log(1 + (52 - 51 + 0.5) / (51 + 0.5))
    assert by_id[rare.id] == pytest.approx(zanzibar_idf * _weight(rare.sparse, "zanzibar"), rel=1e-4)
    assert by_id[common.id] == pytest.approx(documentation_idf * _weight(common.sparse, "documentation"), rel=1e-4)


def test_deleted_points_stop_counting_in_idf_once_reopened(store: Store, index: VectorIndex) -> None:
    index.ensure(INFO)
    rare = make_point(101, "zanzibar setup notes for the whole thing")
    index.upsert([*POINTS, rare])
    index.delete([p.id for p in POINTS[:40]])
    # qdrant-client drops deleted points from its statistics at once; Qdrant Edge counts them until the
    # shard is loaded again (an unoptimized segment rebuilds its sparse index then) or vacuumed.
    index = store.reopen(index)
    assert index.count() == 11
    hits = index.query(dense=None, sparse=SPARSE.encode_query("zanzibar"), limit=1).hits
    live_idf = math.log(1 + (11 - 1 + 0.5) / (1 + 0.5))
    assert hits[0].score == pytest.approx(live_idf * _weight(rare.sparse, "zanzibar"), rel=1e-4)


def _dot(a: SparseVector, b: SparseVector) -> float:
    weights = dict(zip(b.indices, b.values, strict=True))
    return sum(v * weights.get(i, 0.0) for i, v in zip(a.indices, a.values, strict=True))


def _weight(vector: SparseVector, term: str) -> float:
    (term_id,) = SPARSE.encode_query(term).indices
    return dict(zip(vector.indices, vector.values, strict=True))[term_id]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_filters_restrict_results(index: VectorIndex, mode: str) -> None:
    filled(index)
    text = doc_text(12)  # point 12: a guide, tagged v2, on page2
    api = search(index, text, mode, search_filter=SearchFilter(source_kinds=("api",)))
    assert api.hits
    assert {h.payload["source_kind"] for h in api.hits} == {"api"}
    assert point_id(12) not in {h.id for h in api.hits}
    if mode != "sparse":
        # The best dense score is taken under the filter too.
        assert api.best_dense_score is not None and api.best_dense_score < 0.99

    v2_guides = search(index, text, mode, search_filter=SearchFilter(source_kinds=("guide",), tags=("v2",)))
    assert v2_guides.hits[0].id == point_id(12)
    assert all(h.payload["source_kind"] == "guide" and "v2" in h.payload["tags"] for h in v2_guides.hits)
    assert {h.id for h in v2_guides.hits} <= {point_id(i) for i in range(50) if i % 6 == 0}

    pages = ("https://docs.example.com/page1", "https://docs.example.com/page9")
    by_url = search(index, text, mode, search_filter=SearchFilter(urls=pages))
    assert by_url.hits
    assert {h.payload["url"] for h in by_url.hits} <= set(pages)

    nothing = search(index, text, mode, search_filter=SearchFilter(tags=("v3",)))
    assert nothing.hits == []
    assert nothing.best_dense_score is None


def test_drop_removes_the_collection(store: Store, index: VectorIndex) -> None:
    filled(index)
    index.drop()
    assert index.info() is None
    assert index.count() == 0
    index.drop()  # dropping what is not there is no error
    assert index.ensure(INFO) is True
    assert index.count() == 0
    assert store.reopen(index).info() == INFO


def test_collections_are_separate(store: Store, index: VectorIndex) -> None:
    filled(index)
    if isinstance(index, QdrantIndex):
        other: VectorIndex = QdrantIndex(index.client, "other")  # one embedded Qdrant holds every collection
    else:
        other = store.open("other")
    assert other.info() is None
    other.ensure(IndexInfo(embedder="hashing-32", dimensions=32, sparse=SPARSE.name))
    assert other.count() == 0
    assert index.count() == 50
    other.drop()
    assert index.count() == 50


def test_sync_and_search_work_unchanged(index: VectorIndex) -> None:
    as_qdrant = index  # sync_pages and Searcher take any VectorIndex
    text = "Configure the store with middleware and enhancers. " * 10
    pages = [
        Page(url="https://d.io/a", title="A", markdown=text, source_kind="markdown_folder"),
        Page(url="https://d.io/b", title="B", markdown=text + " Zebracorn.", source_kind="docusaurus", tags=("v2",)),
    ]
    first = sync_pages(as_qdrant, EMBEDDER, SPARSE, pages, source="one", complete=True)
    assert first.collection_created
    assert first.chunks_embedded == first.chunks > 0
    assert index.count() == first.chunks
    again = sync_pages(as_qdrant, EMBEDDER, SPARSE, pages, source="one", complete=True)
    assert again.chunks_embedded == 0
    assert again.pages_unchanged == 2
    gone = sync_pages(as_qdrant, EMBEDDER, SPARSE, pages[1:], source="one", complete=True)
    assert gone.pages_deleted == 1
    assert {p.url for p in index.stored_points()} == {"https://d.io/b"}

    searcher = Searcher(as_qdrant, EMBEDDER, SPARSE)
    result = searcher.search("zebracorn store middleware", limit=3)
    assert [s.url for s in result.sources] == ["https://d.io/b"]
    assert result.best_dense_score is not None
    assert searcher.search("zebracorn", mode="sparse").sources[0].url == "https://d.io/b"
    assert searcher.search("store", search_filter=SearchFilter(tags=("v1",))).sources == []


def test_a_second_opener_of_the_same_folder_is_refused(store: Store, index: VectorIndex) -> None:
    filled(index)
    with pytest.raises(IndexStoreError, match="open in another docsbot process"):
        store.open().count()
    # Closing the first releases the folder.
    assert store.reopen(index).count() == 50


def test_the_index_folder_is_locked_against_another_process(store: Store, index: VectorIndex) -> None:
    filled(index)
    if isinstance(index, QdrantIndex):
        opener = f"open_client(url=None, api_key=None, path=Path({str(store.root / 'qdrant')!r}))"
    else:
        opener = f"EdgeIndex(Path({str(store.root / 'edge')!r}), {COLLECTION!r}).count()"
    script = (
        "from pathlib import Path\n"
        "from docsbot.index.qdrant_edge import EdgeIndex\n"
        "from docsbot.index.errors import IndexStoreError\n"
        "from docsbot.index.qdrant_server import open_client\n"
        "try:\n"
        f"    {opener}\n"
        "except IndexStoreError as error:\n"
        "    print(error)\n"
        "else:\n"
        "    print('opened')\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert "open in another docsbot process" in child.stdout


def test_edge_ids_round_trip_as_the_strings_docsbot_derives(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path, COLLECTION)
    try:
        filled(index)
        ids = {p.id for p in POINTS}
        assert {p.id for p in index.stored_points()} == ids
        assert all(isinstance(h.id, str) and h.id in ids for h in search(index, doc_text(3), "hybrid").hits)
    finally:
        index.close()


def test_edge_recovers_from_a_creation_that_never_finished(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path, COLLECTION)
    filled(index)
    index.close()
    # A crash between creating the shard and recording info.json leaves a shard nobody can trust.
    (tmp_path / COLLECTION / INFO_FILE).unlink()
    fresh = EdgeIndex(tmp_path, COLLECTION)
    try:
        assert fresh.info() is None
        assert fresh.count() == 0
        assert fresh.ensure(INFO) is True
        assert fresh.count() == 0
    finally:
        fresh.close()


def test_edge_info_file_that_is_not_docsbots_is_refused(tmp_path: Path) -> None:
    (tmp_path / COLLECTION).mkdir()
    (tmp_path / COLLECTION / INFO_FILE).write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(IndexStoreError, match="not written by docsbot"):
        EdgeIndex(tmp_path, COLLECTION).info()
    (tmp_path / COLLECTION / INFO_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(IndexStoreError, match="not valid JSON"):
        EdgeIndex(tmp_path, COLLECTION).info()


@pytest.mark.parametrize("name", ["", "..", "a/b", "../x", ".hidden"])
def test_edge_refuses_a_collection_name_that_is_not_a_plain_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not usable as a folder name"):
        EdgeIndex(tmp_path, name)


def test_edge_drop_leaves_a_shard_in_use_alone(tmp_path: Path) -> None:
    holder = EdgeIndex(tmp_path, COLLECTION)
    filled(holder)
    try:
        with pytest.raises(IndexStoreError, match="open in another docsbot process"):
            EdgeIndex(tmp_path, COLLECTION).drop()
        assert (tmp_path / COLLECTION / SHARD_DIR).is_dir()
        assert holder.count() == 50
    finally:
        holder.close()


def tie_free_points(count: int) -> list[IndexPoint]:
    """Documents no two of which score the same: random dense vectors, and every text a different length."""
    rng = random.Random(99)
    points = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(5 + i))  # BM25's length norm differs for every document
        points.append(
            IndexPoint(
                id=point_id(1000 + i),
                dense=unit_vector(rng),
                sparse=SPARSE.encode_document(text),
                payload=payload(i, text),
            )
        )
    return points


def unit_vector(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0.0, 1.0) for _ in range(EMBEDDER.dimensions)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def assert_no_ties(hits: list[Hit]) -> None:
    scores = [h.score for h in hits]
    assert all(not math.isclose(a, b, rel_tol=1e-6) for a, b in pairwise(scores)), scores


def tie_groups(hits: list[Hit], ranks: int = 3) -> list[frozenset[str]]:
    """The ids of the first `ranks` ranks, grouped by equal score: tied hits may come in any order."""
    groups: list[tuple[float, set[str]]] = []
    for hit in hits:
        if groups and math.isclose(hit.score, groups[-1][0], rel_tol=1e-6):
            groups[-1][1].add(hit.id)
        elif sum(len(ids) for _, ids in groups) >= ranks:
            break
        else:
            groups.append((hit.score, {hit.id}))
    return [frozenset(ids) for _, ids in groups]


def test_the_backends_return_the_same_top_hits(tmp_path: Path) -> None:
    points = tie_free_points(100)
    qdrant = Store("qdrant", tmp_path / "q")
    edge = Store("edge", tmp_path / "e")
    try:
        indexes = [qdrant.open(), edge.open()]
        for index in indexes:
            index.ensure(INFO)
            index.upsert(points)
        rng = random.Random(2024)
        queries = [(unit_vector(rng), SPARSE.encode_query(" ".join(rng.sample(WORDS, 3)))) for _ in range(25)]
        queries += [(points[i].dense, SPARSE.encode_query(str(points[i].payload["text"]))) for i in (4, 50, 97)]
        for dense, sparse in queries:
            # Tied documents may come in either order, and a tie inside a prefetch list would shift RRF
            # scores: the data is built so that dense and sparse rankings have none, and this checks it.
            assert_no_ties(indexes[0].query(dense=dense, sparse=None, limit=40).hits)
            assert_no_ties(indexes[0].query(dense=None, sparse=sparse, limit=40).hits)
            for mode_dense, mode_sparse in ((dense, sparse), (dense, None), (None, sparse)):
                first, second = (
                    index.query(dense=mode_dense, sparse=mode_sparse, limit=10, prefetch_limit=40) for index in indexes
                )
                if mode_dense is None or mode_sparse is None:
                    assert [h.id for h in first.hits] == [h.id for h in second.hits]
                # RRF gives equal scores to mirrored ranks (dense 1st + sparse 4th = dense 4th + sparse 1st),
                # and the backends break such ties differently: the top-3 match as groups of equal score.
                assert tie_groups(first.hits) == tie_groups(second.hits)
                assert len(first.hits) == len(second.hits) == 10
                for a, b in zip(first.hits, second.hits, strict=True):
                    assert a.score == pytest.approx(b.score, rel=1e-5)
                if mode_dense is None:
                    assert first.best_dense_score is None and second.best_dense_score is None
                else:
                    assert first.best_dense_score == pytest.approx(second.best_dense_score, rel=1e-5)
    finally:
        qdrant.close_all()
        edge.close_all()


def test_the_backends_agree_on_the_redux_corpus(tmp_path: Path) -> None:
    from docsbot.refresh.pipeline import ingest_folder
    from docsbot.settings.config import MarkdownFolderSource
    from tests.harness.corpora import require_redux

    corpus = tmp_path / "redux-docs"
    shutil.copytree(require_redux(), corpus)
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")
    qdrant = Store("qdrant", tmp_path / "q")
    edge = Store("edge", tmp_path / "e")
    try:
        indexes = [qdrant.open("redux"), edge.open("redux")]
        summaries = [ingest_folder(i, EMBEDDER, SPARSE, source).summary for i in indexes]
        assert summaries[0].chunks == summaries[1].chunks > 500
        assert indexes[0].count() == indexes[1].count() == summaries[0].chunks
        searchers = [Searcher(i, EMBEDDER, SPARSE) for i in indexes]
        for question in (
            "How do I use middleware for async actions?",
            "configureStore devTools option",
            "Why should reducers not mutate state?",
            "createSlice extraReducers builder",
        ):
            for mode in ("dense", "sparse"):
                found = [s.search(question, limit=3, mode=mode).sources for s in searchers]
                assert [(x.url, x.anchor) for x in found[0]] == [(x.url, x.anchor) for x in found[1]], (question, mode)
    finally:
        qdrant.close_all()
        edge.close_all()
