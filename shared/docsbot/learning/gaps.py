"""The gaps report: the questions the docs failed, clustered, each cluster with the docs nearest to it.

A thread's question is a **gap** when its docs did not solve it (`classify`):

- `not_found`: the bot found nothing close enough in the docs (and nobody solved it from a doc page the bot cited);
- `uncertain`: the bot answered but said it was unsure;
- `not_solved`: someone voted "Not solved" or gave a reason, and nothing solved it;
- `solved_by_person`: a person's reply solved it, citing no doc page or other pages than the bot's.

A question the bot's answer solved (voted or marked), or a person solved with a page the bot had cited, is
**answered**: the docs did their job. Open threads without a verdict are neither.

`build_report` embeds the gap questions with the collection's own embedder, clusters them with scikit-learn
(agglomerative, average linkage on cosine distance, cut at `distance`: deterministic, and the number of clusters
follows the data), and per cluster gives: its size, its most central questions, the doc sections nearest to its
centroid with their cosine similarity, the people's solutions, and a keyword label (the cluster's most
distinctive words, TF-IDF over clusters). The answered questions are clustered the same way: a gap cluster whose
questions sit further from the docs (mean nearest-section similarity) than the typical answered cluster (the
median of theirs) is flagged `far_from_docs`: content to write rather than content to fix.

With a chat model, `build_report` then has the largest gap clusters titled and given a proposed doc change
(`docsbot.learning.suggest`). It is the one way the report is made: `docsbot gaps` and the weekly digest
(`docsbot.app.digest`) both call it, so the terminal, the HTML file and the staff-channel message show the same
clusters. It names each step as it starts to an optional `on_progress` callback (the CLI shows them as spinners;
this package never imports Rich).

Every question and solution text is scrubbed of personal data (`docsbot.learning.pii`) before it enters the
report. scikit-learn is imported inside the functions that use it.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from docsbot.index.eval import normalise_url
from docsbot.index.ports import VectorIndex
from docsbot.index.search import collapse_sections
from docsbot.learning.pii import Scrubber
from docsbot.learning.suggest import suggest_changes
from docsbot.learning.threads import ThreadView

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from docsbot.answer.chat import ChatModel
    from docsbot.index.embedders import Embedder

GapKind = Literal["not_found", "uncertain", "not_solved", "solved_by_person"]
GAP_KINDS: tuple[GapKind, ...] = ("not_found", "uncertain", "not_solved", "solved_by_person")
DISTANCE = 0.5  # cosine distance: questions closer than this on average are about the same thing
FULL_LINKAGE_MAX = 3000  # rows clustered with every pairwise distance (3,000² floats: 72 MB)
MICRO_GROUP = 10  # above that, rows per fine k-means group clustered in their place
REPRESENTATIVES = 3
NEAREST_DOCS = 3
MAX_SOLUTIONS = 5
MAX_TEXT = 600  # characters of a question or solution shown in a report
_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+")


@dataclass(frozen=True)
class AskedQuestion:
    thread_id: str
    question: str
    kind: GapKind | Literal["answered"]
    asked_at: datetime
    solution: str = ""  # a person's accepted reply (scrubbed), "" when none
    solution_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class NearDoc:
    title: str
    url: str  # with the section's anchor
    similarity: float  # cosine similarity to the cluster's centroid


@dataclass
class Cluster:
    keywords: tuple[str, ...]
    questions: list[AskedQuestion]  # the most central first
    similarity: float  # the mean, over its questions, of the cosine similarity of each one's nearest doc section
    nearest_docs: list[NearDoc] = field(default_factory=list)
    far_from_docs: bool = False
    title: str = ""  # with a chat model: a one-line title (`docsbot.learning.suggest`)
    proposal: str = ""  # with a chat model: the doc change to make, citing the solutions as [S1]…

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def label(self) -> str:
        """The model's title when there is one, else the keywords."""
        return self.title or ", ".join(self.keywords) or "(no keywords)"

    @property
    def representatives(self) -> list[str]:
        return [q.question for q in self.questions[:REPRESENTATIVES]]

    @property
    def kinds(self) -> Counter[str]:
        return Counter(q.kind for q in self.questions)

    @property
    def solutions(self) -> list[AskedQuestion]:
        return [q for q in self.questions if q.solution][:MAX_SOLUTIONS]


@dataclass
class GapsReport:
    collection: str
    generated_at: datetime
    since: datetime | None
    threads: int  # threads read
    clusters: list[Cluster]  # gap clusters, largest first
    answered: list[Cluster]  # the answered questions' clusters (the baseline)
    answered_similarity: float | None  # the median of the answered clusters' similarity

    @property
    def gaps(self) -> int:
        return sum(c.size for c in self.clusters)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 1].rstrip() + "…"


def _pages(urls: Sequence[str]) -> set[str]:
    return {normalise_url(url)[0] for url in urls}


def classify(view: ThreadView, scrubber: Scrubber) -> AskedQuestion | None:
    """The thread's first question as a gap or as answered; None for an open thread (no verdict yet)."""
    questions = view.questions
    if not questions:
        return None
    text = _clip(scrubber.scrub(questions[0]))

    def asked(kind: GapKind | Literal["answered"], solution: str = "", urls: tuple[str, ...] = ()) -> AskedQuestion:
        return AskedQuestion(view.thread.thread_id, text, kind, view.thread.created_at, solution, urls)

    solution = view.solution
    if solution is not None and not solution.from_bot:
        urls = tuple(dict.fromkeys([*(s.url for s in solution.sources), *_URL.findall(solution.content)]))
        reply = _clip(scrubber.scrub(solution.content))
        if urls and _pages(urls) <= _pages(view.cited_urls):
            return asked("answered", reply, urls)  # the person pointed at what the bot had cited
        return asked("solved_by_person", reply, urls)
    if view.accepted_answer is not None:
        return asked("answered")
    outcomes = {m.outcome for m in view.bot_answers}
    if "not_found" in outcomes and "answered" not in outcomes:
        return asked("not_found")
    if "uncertain" in outcomes:
        return asked("uncertain")
    if view.thread.failed_votes or view.feedback:
        return asked("not_solved")
    return None


def choose_clusters(vectors: NDArray[np.float64], *, distance: float = DISTANCE) -> list[int]:
    """A cluster number per row: agglomerative clustering (average linkage on cosine distance), cut where the
    average distance between two groups passes `distance`. Deterministic; the number of clusters follows the
    data (a question unlike any other stays alone). Above `FULL_LINKAGE_MAX` rows, the rows are first grouped
    into fine k-means groups (about `MICRO_GROUP` rows each, seeded) whose centres are then clustered the same way,
    so memory grows with n, not n²."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans

    n = len(vectors)
    if n < 2:
        return [0] * n
    micro: NDArray[np.int64] | None = None
    points = vectors
    if n > FULL_LINKAGE_MAX:
        groups = min(FULL_LINKAGE_MAX, max(2, n // MICRO_GROUP))
        model = MiniBatchKMeans(n_clusters=groups, random_state=0, n_init=1, batch_size=4096).fit(vectors)
        micro = np.asarray(model.labels_, dtype=np.int64)
        points = np.asarray(model.cluster_centers_, dtype=np.float64)
    labels = (
        AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance)
        .fit(points)
        .labels_
    )
    if micro is not None:
        labels = labels[micro]
    return [int(label) for label in labels]


def keywords_per_cluster(texts: list[list[str]], *, top: int = 4) -> list[tuple[str, ...]]:
    """Each cluster's most distinctive words: TF-IDF with each cluster's questions as one document."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = [" ".join(group) for group in texts]
    words = r"(?u)\b[A-Za-z][A-Za-z0-9_.-]{2,}\b"  # words of 3+ characters starting with a letter
    try:
        vectorizer = TfidfVectorizer(stop_words="english", token_pattern=words)
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # nothing but stop words
        return [() for _ in documents]
    vocabulary = vectorizer.get_feature_names_out()
    labels: list[tuple[str, ...]] = []
    for row in range(matrix.shape[0]):
        weights = matrix.getrow(row).toarray()[0]
        order = weights.argsort()[::-1][:top]
        labels.append(tuple(str(vocabulary[i]) for i in order if weights[i] > 0))
    return labels


def _nearest(index: VectorIndex, vector: list[float], limit: int) -> tuple[float, list[NearDoc]]:
    result = index.query(dense=vector, sparse=None, limit=limit * 4)
    sources = collapse_sections(result.hits, limit)
    docs = [
        NearDoc(title=" › ".join(s.heading_path) or s.title, url=s.deep_link, similarity=float(s.score))
        for s in sources
    ]
    return float(result.best_dense_score or 0.0), docs


def _clusters(
    asked: list[AskedQuestion],
    vectors: NDArray[np.float64],
    nearest: list[float],
    index: VectorIndex,
    *,
    distance: float,
) -> list[Cluster]:
    import numpy as np

    if not asked:
        return []
    labels = choose_clusters(vectors, distance=distance)
    members: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        members.setdefault(label, []).append(row)
    # Largest first; among equals, the furthest from the docs first.
    groups = sorted(
        members.values(), key=lambda rows: (-len(rows), statistics.fmean(nearest[r] for r in rows), rows[0])
    )
    words = keywords_per_cluster([[asked[r].question for r in rows] for rows in groups])
    clusters: list[Cluster] = []
    for rows, keywords in zip(groups, words, strict=True):
        centroid = vectors[rows].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        unit = centroid / norm if norm else centroid
        central = sorted(rows, key=lambda r: (-float(vectors[r] @ unit), r))
        _, docs = _nearest(index, [float(x) for x in unit], NEAREST_DOCS)
        clusters.append(
            Cluster(
                keywords=keywords,
                questions=[asked[r] for r in central],
                similarity=statistics.fmean(nearest[r] for r in rows),
                nearest_docs=docs,
            )
        )
    return clusters


def build_report(
    views: Sequence[ThreadView],
    *,
    collection: str,
    embedder: Embedder,
    index: VectorIndex,
    now: datetime,
    since: datetime | None = None,
    distance: float = DISTANCE,
    scrubber: Scrubber | None = None,
    chat: ChatModel | None = None,
    suggestions: int = 10,
    on_progress: Callable[[str], None] | None = None,
) -> GapsReport:
    """The gaps of `views` (threads of `collection`), clustered, against the collection's index; with `chat`, the
    first `suggestions` clusters titled and given a proposed doc change (a failing model leaves the keywords)."""
    import numpy as np

    scrub = scrubber or Scrubber()
    classified = [c for c in (classify(v, scrub) for v in views) if c is not None]
    gaps = [c for c in classified if c.kind != "answered"]
    answered = [c for c in classified if c.kind == "answered"]
    if on_progress is not None:
        on_progress(f"embedding {len(classified)} questions")
    vectors = np.asarray(embedder.embed_documents([c.question for c in classified]), dtype=np.float64)
    if len(classified):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1.0, norms)
    if on_progress is not None:
        on_progress("finding the nearest docs")
    nearest = [_nearest(index, [float(x) for x in row], 1)[0] for row in vectors]
    gap_rows = [i for i, c in enumerate(classified) if c.kind != "answered"]
    answered_rows = [i for i, c in enumerate(classified) if c.kind == "answered"]
    if on_progress is not None:
        on_progress("clustering")
    clusters = _clusters(gaps, vectors[gap_rows], [nearest[i] for i in gap_rows], index, distance=distance)
    baseline = _clusters(
        answered,
        vectors[answered_rows],
        [nearest[i] for i in answered_rows],
        index,
        distance=distance,
    )
    answered_similarity = statistics.median(c.similarity for c in baseline) if baseline else None
    for cluster in clusters:
        cluster.far_from_docs = answered_similarity is not None and cluster.similarity < answered_similarity
    if chat is not None and clusters:
        if on_progress is not None:
            on_progress(f"asking {chat.model} for titles and proposed doc changes")
        suggest_changes(clusters, chat, collection=collection, limit=suggestions)
    return GapsReport(
        collection=collection,
        generated_at=now,
        since=since,
        threads=len(views),
        clusters=clusters,
        answered=baseline,
        answered_similarity=answered_similarity,
    )
