"""Rich renderings shared by the CLI commands (tables of summaries and search results).

Cells are `Text`, never markup: titles, URLs, snippets and problems are printed as written (brackets kept)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from docsbot.answer.model import Answer
from docsbot.documents.model import Source
from docsbot.refresh.pipeline import IngestReport, SourceReport
from docsbot.sources.site.crawl import CrawlSummary


def ingest_table(collection: str, report: IngestReport | SourceReport) -> Table:
    """The summary of one source's ingest."""
    s = report.summary
    table = Table(title=Text(f"ingest {collection}/{report.source}"), show_header=False, title_justify="left")
    rows = [
        ("pages", f"{s.pages} ({s.pages_new} new, {s.pages_changed} changed, {s.pages_unchanged} unchanged)"),
        ("pages without chunks", f"{s.pages_without_chunks} (empty or navigation only)"),
        ("pages deleted", str(s.pages_deleted)),
        ("files with problems", f"{len(report.problems)} (what was indexed for them is kept)"),
        (
            "chunks",
            f"{s.chunks} ({s.chunks_embedded} embedded, {s.chunks_unchanged} unchanged, {s.chunks_deleted} deleted)",
        ),
        ("embedding requests", str(s.embedding_requests)),
        ("embedding tokens", str(s.embedding_tokens)),
    ]
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table


def print_sources(console: Console, title: str, sources: Sequence[Source]) -> None:
    """Ranked sections: label and score, then the deep link on a line of its own, never cut nor folded (it must
    stay clickable and copyable at any width, piped or not), then the snippet."""
    console.print(Text(title, style="bold"))
    for rank, source in enumerate(sources, start=1):
        console.print()
        console.print(Text(f"{rank}. {source.label}  ({source.score:.3f})"))
        console.print(Text(f"   {source.deep_link}", style="cyan"), soft_wrap=True, overflow="ignore", crop=False)
        console.print(Text(" ".join(source.snippet.split())), style="dim")


def sources_json(sources: Sequence[Source]) -> list[dict[str, object]]:
    """Ranked sections as `docsbot search --json` prints them."""
    return [
        {
            "rank": rank,
            "score": round(source.score, 6),
            "title": source.title,
            "heading_path": list(source.heading_path),
            "url": source.deep_link,
            "page_url": source.url,
            "snippet": source.snippet,
        }
        for rank, source in enumerate(sources, start=1)
    ]


def answer_renderables(answer: Answer) -> list[RenderableType]:
    """An answer as the terminal shows it: the text as markdown, then its numbered sources."""
    parts: list[RenderableType] = [Markdown(answer.text)]
    if answer.citations:
        parts.append(Text("Sources", style="bold"))
        for citation in answer.citations:
            line = Text(f"[{citation.number}] ", style="bold")
            line.append(citation.source.label)
            line.append(f"\n    {citation.source.deep_link}", style="cyan")
            parts.append(line)
    if answer.closest:
        parts.append(Text("Closest sections", style="bold"))
        for source in answer.closest:
            line = Text("• ")
            line.append(source.label)
            line.append(f"\n    {source.deep_link}", style="cyan")
            parts.append(line)
    footer = f"{answer.kind.value}" + (f" · {answer.model}" if answer.model else "")
    if answer.usage:
        footer += (
            f" · {answer.usage.get('prompt_tokens', 0)} prompt + {answer.usage.get('completion_tokens', 0)} tokens"
        )
    parts.append(Text(footer, style="dim"))
    return parts


def crawl_table(collection: str, source: str, summary: CrawlSummary) -> Table:
    """The summary of one site crawl."""
    table = Table(title=Text(f"crawl {collection}/{source}"), show_header=False, title_justify="left")
    errors = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.errors.items())) or "none"
    rows = [
        ("discovery", f"{summary.discovery or '-'} ({', '.join(summary.sitemaps) or 'no sitemap'})"),
        ("fetched", str(summary.fetched)),
        (
            "unchanged",
            f"{summary.not_modified + summary.unchanged} ({summary.not_modified} by 304, "
            f"{summary.unchanged} by content hash)",
        ),
        (
            "skipped",
            f"robots.txt {summary.skipped_robots}, not HTML {summary.skipped_non_html}, "
            f"other docs version {summary.skipped_version}, excluded {summary.skipped_pattern}, "
            f"duplicate {summary.skipped_duplicate}",
        ),
        ("rendered with Chromium", str(summary.rendered)),
        ("errors", errors),
        ("HTTP requests", str(summary.requests)),
        (
            "complete",
            "yes" if summary.completed else "no (nothing deleted)" + (" - page limit" if summary.limit_reached else ""),
        ),
    ]
    for problem in summary.problems:
        rows.append(("problem", problem))
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table
