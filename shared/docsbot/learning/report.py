"""The gaps report as a self-contained HTML page: no script, no stylesheet or font from elsewhere, no network.

Every text from the store or the index is HTML-escaped, and only `http(s)` URLs become links (a `javascript:`
URL in a stored solution stays inert text), so a report can be opened and shared safely. The texts are already
scrubbed of personal data by `docsbot.learning.gaps`.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from docsbot.learning.gaps import Cluster, GapsReport

_KIND_WORDS = {
    "not_found": "not found",
    "uncertain": "uncertain",
    "not_solved": "voted not solved",
    "solved_by_person": "solved by a person",
    "answered": "answered",
}
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;
color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}.meta{color:#59636e}
section.cluster{border:1px solid #d1d9e0;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
section.far{border-left:6px solid #cf222e}
.badge{display:inline-block;border-radius:1rem;padding:0 .6rem;font-size:.8rem;background:#eef1f4;margin-right:.3rem}
.far .badge.far{background:#ffebe9;color:#a40e26}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #eef1f4}
blockquote{margin:.3rem 0;padding:.2rem .8rem;border-left:3px solid #d1d9e0;color:#3d444d;white-space:pre-wrap}
"""


def link(url: str, text: str | None = None) -> str:
    """An anchor for an http(s) URL; any other scheme is shown as text, never made clickable."""
    shown = escape(text if text is not None else url)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return shown
    return f'<a href="{escape(url, quote=True)}" rel="noopener noreferrer">{shown}</a>'


def _cluster_html(number: int, cluster: Cluster) -> str:
    kinds = ", ".join(f"{n} {_KIND_WORDS.get(k, k)}" for k, n in cluster.kinds.most_common())
    far = '<span class="badge far">far from the docs</span>' if cluster.far_from_docs else ""
    questions = "".join(f"<li>{escape(q)}</li>" for q in cluster.representatives)
    docs = "".join(
        f"<tr><td>{link(d.url, d.title or d.url)}</td><td>{d.similarity:.3f}</td></tr>" for d in cluster.nearest_docs
    )
    solutions = "".join(
        f"<blockquote>{escape(s.solution)}</blockquote>"
        + (f"<p>cites: {', '.join(link(u) for u in s.solution_urls)}</p>" if s.solution_urls else "")
        for s in cluster.solutions
    )
    return (
        f'<section class="cluster{" far" if cluster.far_from_docs else ""}" data-size="{cluster.size}">'
        f"<h2>{number}. {escape(cluster.label)}</h2>"
        f'<p><span class="badge">{cluster.size} question{"" if cluster.size == 1 else "s"}</span>'
        f'<span class="badge">nearest-doc similarity {cluster.similarity:.3f}</span>{far}</p>'
        f'<p class="meta">{escape(kinds)} · keywords: {escape(", ".join(cluster.keywords))}</p>'
        f"<h3>Representative questions</h3><ul>{questions}</ul>"
        f"<h3>Nearest doc sections</h3><table><tr><th>section</th><th>similarity</th></tr>{docs}</table>"
        + (f"<h3>How people solved them</h3>{solutions}" if solutions else "")
        + (f"<h3>Proposed doc change</h3><p>{escape(cluster.proposal)}</p>" if cluster.proposal else "")
        + "</section>"
    )


def render_html(report: GapsReport) -> str:
    """The whole report as one HTML document."""
    since = report.since.isoformat(timespec="minutes") if report.since else "the beginning"
    baseline = (
        f"answered questions' clusters: median nearest-doc similarity {report.answered_similarity:.3f}"
        if report.answered_similarity is not None
        else "no answered questions to compare with"
    )
    body = "".join(_cluster_html(i, c) for i, c in enumerate(report.clusters, start=1))
    if not report.clusters:
        body = "<p>No gaps: every question in this period was answered from the docs (or is still open).</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Documentation gaps: {escape(report.collection)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Documentation gaps: {escape(report.collection)}</h1>"
        f'<p class="meta">{report.gaps} questions the docs failed, in {len(report.clusters)} clusters, out of '
        f"{report.threads} threads since {escape(since)} · generated "
        f"{escape(report.generated_at.isoformat(timespec='minutes'))} · {escape(baseline)}</p>"
        f"{body}</body></html>"
    )
