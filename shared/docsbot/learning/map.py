"""The map: doc sections and asked questions projected to 2-D in one self-contained interactive HTML page.

`map_points` gathers the points: every asked question with a verdict (classified as in the gaps report: answered,
not found, uncertain, voted not solved, solved by a person), embedded with the collection's own embedder, and the
doc sections around them (the nearest sections of each question in the index, embedded from their text the same
way), so a question far from every section shows up far from the docs. `project` fits scikit-learn's PCA on all of
them (deterministic) and `render_map` draws them with plotly, coloured by outcome; hovering shows the text and the
link, clicking a point opens its link (http(s) only). The page embeds plotly.js: it opens from the file alone,
with no network. Texts are scrubbed of personal data (`docsbot.learning.gaps.classify`) and escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from docsbot.index.ports import VectorIndex
from docsbot.learning.gaps import classify
from docsbot.learning.pii import Scrubber
from docsbot.learning.threads import ThreadView

if TYPE_CHECKING:
    from docsbot.index.embedders import Embedder

DOC = "doc section"
# Category → colour; the doc sections first, so the questions are drawn over them.
COLOURS = {
    DOC: "#9aa4ae",
    "answered": "#1a7f37",
    "solved_by_person": "#bf8700",
    "not_solved": "#cf222e",
    "not_found": "#8250df",
    "uncertain": "#0969da",
}
NAMES = {
    DOC: "doc sections",
    "answered": "answered",
    "solved_by_person": "solved by a person",
    "not_solved": "voted not solved",
    "not_found": "not found",
    "uncertain": "uncertain",
}
SECTIONS_PER_QUESTION = 5
HOVER_CHARS = 200


@dataclass(frozen=True)
class MapPoint:
    category: str  # DOC or a question's kind
    text: str
    link: str  # the section's deep link; "" for a question
    x: float = 0.0
    y: float = 0.0


def map_points(
    views: Sequence[ThreadView], *, embedder: Embedder, index: VectorIndex, scrubber: Scrubber | None = None
) -> tuple[list[MapPoint], list[list[float]]]:
    """The questions with a verdict and the doc sections nearest to them, with their vectors (same order)."""
    scrub = scrubber or Scrubber()
    asked = [a for a in (classify(v, scrub) for v in views) if a is not None]
    question_vectors = embedder.embed_documents([a.question for a in asked])
    sections: dict[str, tuple[str, str]] = {}  # deep link → (title, text)
    for vector in question_vectors:
        # Several chunks may share a section: ask for more hits than sections wanted.
        for hit in index.query(dense=vector, sparse=None, limit=SECTIONS_PER_QUESTION * 3).hits:
            url, anchor = str(hit.payload.get("url", "")), str(hit.payload.get("anchor", ""))
            link = f"{url}#{anchor}" if anchor else url
            if link not in sections:
                title = " › ".join(hit.payload.get("heading_path", []) or [str(hit.payload.get("title", ""))])
                sections[link] = (title, str(hit.payload.get("text", "")))
    section_links = list(sections)
    section_vectors = embedder.embed_documents([sections[link][1] for link in section_links])
    points = [MapPoint(DOC, sections[link][0] or link, link) for link in section_links]
    points += [MapPoint(a.kind, a.question, "") for a in asked]
    return points, [*section_vectors, *question_vectors]


def project(points: list[MapPoint], vectors: list[list[float]]) -> list[MapPoint]:
    """The points placed in 2-D by PCA over all their vectors (fewer than 2 points: at the origin)."""
    if len(points) < 2:
        return list(points)
    import numpy as np
    from sklearn.decomposition import PCA

    matrix = np.asarray(vectors, dtype=np.float64)
    components = min(2, matrix.shape[1], len(points))
    xy = PCA(n_components=components, svd_solver="full").fit_transform(matrix)
    if components < 2:
        xy = np.hstack([xy, np.zeros((len(points), 1))])
    return [
        MapPoint(p.category, p.text, p.link, float(x), float(y)) for p, (x, y) in zip(points, xy[:, :2], strict=True)
    ]


def _hover(point: MapPoint) -> str:
    text = " ".join(point.text.split())
    if len(text) > HOVER_CHARS:
        text = text[: HOVER_CHARS - 1] + "…"
    lines = [f"<b>{escape(NAMES.get(point.category, point.category))}</b>", escape(text)]
    if point.link:
        lines.append(escape(point.link))
    return "<br>".join(lines)


CLICK_SCRIPT = """
var plot = document.getElementById('{plot_id}');
plot.on('plotly_click', function (event) {
  var link = event.points[0].customdata;
  if (typeof link === 'string' && /^https?:\\/\\//i.test(link)) { window.open(link, '_blank', 'noopener'); }
});
"""


def render_map(points: list[MapPoint], *, title: str) -> str:
    """One self-contained HTML page (plotly.js inlined): a scatter per category, hover text, clickable links."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for category, colour in COLOURS.items():
        group = [p for p in points if p.category == category]
        if not group:
            continue
        figure.add_trace(
            go.Scatter(
                x=[p.x for p in group],
                y=[p.y for p in group],
                mode="markers",
                name=f"{NAMES[category]} ({len(group)})",
                marker={
                    "color": colour,
                    "size": 6 if category == DOC else 9,
                    "opacity": 0.55 if category == DOC else 0.9,
                },
                hovertext=[_hover(p) for p in group],
                hoverinfo="text",
                customdata=[p.link for p in group],
            )
        )
    figure.update_layout(
        title=escape(title),
        template="plotly_white",
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"orientation": "h"},
        height=760,
    )
    html: str = figure.to_html(full_html=True, include_plotlyjs=True, post_script=CLICK_SCRIPT, div_id="docsbot-map")
    return html
