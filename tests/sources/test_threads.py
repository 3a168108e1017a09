"""The solved-threads source through the one refresh pipeline, on the real SQLite store and the embedded index:
what a solved thread becomes (link, label, scrubbed text), incremental refreshes, unsolves removing pages
without tripping the drop guard, and an empty or failing store read never wiping the source."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from docsbot.documents.model import COMMUNITY_KIND, Source
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.refresh.pipeline import Refresh, RefreshOptions, Target, refresh_source
from docsbot.settings.config import ThreadsSource
from docsbot.store.model import MessageRecord, NewThread, Solution, SourceRef, ThreadUpdate
from docsbot.store.sqlite import SqliteStore

GUILD = "1180000000000000001"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SOURCE = ThreadsSource(kind="threads")


def thread_id(n: int) -> str:
    return f"11900000000000{n:05d}"


def solve(
    store: SqliteStore,
    n: int,
    *,
    question: str | None = None,
    answer: str | None = None,
    by_bot: bool = False,
    guild: str | None = GUILD,
    collection: str = "docs",
) -> str:
    """A thread of `collection` asked and solved (by a person's reply, or by the bot's answer)."""
    tid = thread_id(n)
    now = T0 + timedelta(minutes=n)
    store.ensure_thread(
        NewThread(tid, collection, author_id="1180000000000000002", guild_id=guild, title=f"Thread {n} title"), now
    )
    asked = question or f"How do I configure feature number {n} of the store?"
    store.add_message(MessageRecord(f"{tid}1", tid, "1180000000000000002", asked, False, now, first_message=True))
    text = answer or f"Set option {n} in the store settings and restart the server."
    refs = (SourceRef("Setup", (), "https://docs.example/setup", ""),) if by_bot else ()
    link = f"https://discord.com/channels/{GUILD}/{tid}/{tid}2"
    solution = Solution(f"{tid}2", "1180000000000000003", text, link, by_bot, "1180000000000000002", now, refs)
    assert store.mark_solution(tid, solution, now)
    return tid


def unsolve(store: SqliteStore, tid: str) -> None:
    now = T0 + timedelta(days=1)
    store.clear_solution(tid, now)
    store.update_thread(tid, ThreadUpdate(solved=False), now)


@dataclass
class Setup:
    store: SqliteStore
    index: EdgeIndex
    target: Target

    def refresh(self, source: ThreadsSource = SOURCE, **options: Any) -> Refresh:
        return refresh_source(self.target, "docs", source, options=RefreshOptions(**options))

    def pages(self) -> dict[str, Source]:
        """The indexed threads: every section of the small index, found by a dense search for anything."""
        found = Searcher(self.index, HashingEmbedder(), Bm25Encoder()).search("store", limit=50, mode="dense")
        return {s.url: s for s in found.sources if s.source_kind == COMMUNITY_KIND}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    store = SqliteStore(tmp_path / "state.sqlite3")
    index = EdgeIndex(tmp_path / "index", "docs")
    try:
        yield Setup(store, index, Target(index, HashingEmbedder(), Bm25Encoder(), store))
    finally:
        index.close()
        store.close()


def test_a_thread_solved_by_a_person_becomes_a_scrubbed_community_page_linking_the_thread(setup: Setup) -> None:
    tid = solve(
        setup.store,
        1,
        question="My reducer never runs, write to ada@example.com or call +1 650-253-0000",
        answer="# Fix\n\nReturn a new object. Key: sk-proj-abcdefghijklmnopqrstuvwx, <@1180000000000000009>",
    )
    solve(setup.store, 2, by_bot=True, answer="The docs say so [1].")  # the bot's own answer: not by default
    setup.store.ensure_thread(NewThread(thread_id(3), "docs", "1180000000000000002", guild_id=GUILD), T0)  # open
    solve(setup.store, 4, collection="other")  # another collection's thread

    refreshed = setup.refresh()

    assert refreshed.run.outcome == "ok", refreshed.run.reasons
    assert refreshed.run.pages_seen == 3  # every thread of the collection was read: the drop guard's count
    pages = setup.pages()
    url = f"https://discord.com/channels/{GUILD}/{tid}"
    assert list(pages) == [url]
    page = pages[url]
    assert page.title == "Thread 1 title" and page.label == "Community answer › Thread 1 title"
    assert page.anchor == "" and page.deep_link == url  # the typed "# Fix" stayed text: no anchor in the link
    text = page.text
    assert "Return a new object." in text and "My reducer never runs" in text
    for planted in ("ada@example.com", "650-253-0000", "sk-proj-abcdef", "1180000000000000009"):
        assert planted not in text
    assert "<email-" in text and "<secret>" in text and "<user-" in text


def test_bot_answers_are_indexed_when_asked_without_their_citation_markers(setup: Setup) -> None:
    tid = solve(setup.store, 1, by_bot=True, answer="Call configureStore with your reducers [1][2].")
    assert setup.refresh(ThreadsSource(kind="threads", bot_answers=True)).run.outcome == "ok"
    (page,) = setup.pages().values()
    assert page.url.endswith(tid) and "configureStore with your reducers." in page.text
    assert "[1]" not in page.text and "the bot's answer" in page.text


def test_the_guild_comes_from_the_solution_link_when_the_thread_lacks_it(setup: Setup) -> None:
    tid = solve(setup.store, 1, guild=None)
    assert setup.refresh().run.outcome == "ok"
    assert list(setup.pages()) == [f"https://discord.com/channels/{GUILD}/{tid}"]


def test_an_unchanged_thread_is_not_embedded_again_and_a_changed_one_is(setup: Setup) -> None:
    for n in range(1, 5):
        solve(setup.store, n)
    first = setup.refresh()
    assert (first.run.pages_new, first.run.embeddings) == (4, 4)
    again = setup.refresh()
    assert (again.run.pages_unchanged, again.run.embeddings, again.run.pages_deleted) == (4, 0, 0)
    # Another reply marked as the solution of thread 2: only that page is embedded again.
    tid = thread_id(2)
    better = Solution(f"{tid}9", "1180000000000000004", "Use the new API instead.", "", False, "x", T0, ())
    assert setup.store.mark_solution(tid, better, T0 + timedelta(hours=1))
    changed = setup.refresh()
    assert (changed.run.pages_changed, changed.run.pages_unchanged, changed.run.embeddings) == (1, 3, 1)
    assert "Use the new API instead." in setup.pages()[f"https://discord.com/channels/{GUILD}/{tid}"].text


def test_unsolved_threads_leave_the_index_even_half_of_them(setup: Setup) -> None:
    tids = [solve(setup.store, n) for n in range(1, 5)]
    assert setup.refresh().run.pages_new == 4
    unsolve(setup.store, tids[0])
    unsolve(setup.store, tids[1])  # half the pages go: far above the 20% drop limit, and still not refused

    refreshed = setup.refresh()

    assert refreshed.run.outcome == "ok", refreshed.run.reasons
    assert refreshed.run.pages_deleted == 2
    assert sorted(setup.pages()) == sorted(f"https://discord.com/channels/{GUILD}/{t}" for t in tids[2:])


def test_an_empty_store_read_deletes_nothing(setup: Setup, tmp_path: Path) -> None:
    for n in range(1, 4):
        solve(setup.store, n)
    assert setup.refresh().run.pages_new == 3
    wrong = SqliteStore(tmp_path / "a-fresh-store.sqlite3")  # a misconfigured DOCSBOT_STATE: no threads at all
    try:
        target = Target(setup.index, HashingEmbedder(), Bm25Encoder(), wrong)
        refreshed = refresh_source(target, "docs", SOURCE)
    finally:
        wrong.close()
    assert refreshed.run.outcome == "degraded" and refreshed.run.pages_deleted == 0
    assert any("100% fewer than the 3" in reason for reason in refreshed.run.reasons), refreshed.run.reasons
    assert len(setup.pages()) == 3


def test_a_failing_store_fails_the_refresh_and_touches_nothing(setup: Setup) -> None:
    solve(setup.store, 1)
    assert setup.refresh().run.pages_new == 1

    class Broken(SqliteStore):
        def list_threads(self, collection: str, *, since: datetime | None = None) -> list[Any]:
            raise ConnectionError("the store did not answer")

    broken = Broken(setup.store.path)
    try:
        refreshed = refresh_source(Target(setup.index, HashingEmbedder(), Bm25Encoder(), broken), "docs", SOURCE)
    finally:
        broken.close()
    assert refreshed.run.outcome == "failed" and "the store did not answer" in " ".join(refreshed.run.reasons)
    assert len(setup.pages()) == 1


def test_without_a_store_the_threads_source_fails_with_the_reason(setup: Setup) -> None:
    refreshed = refresh_source(Target(setup.index, HashingEmbedder(), Bm25Encoder()), "docs", SOURCE)
    assert refreshed.run.outcome == "failed"
    assert "reads the state store" in " ".join(refreshed.run.reasons)


def test_the_scheduled_job_refreshes_the_threads_source_with_the_sites() -> None:
    from docsbot.refresh.job import JobOptions, plan
    from docsbot.settings.config import parse_collections

    collections = parse_collections(
        {
            "collection": [
                {
                    "name": "docs",
                    "title": "Docs",
                    "source": [
                        {"kind": "markdown_folder", "path": "docs", "docs_base_url": "https://d.example/"},
                        {"kind": "sitemap", "url": "https://d.example/"},
                        {"kind": "threads"},
                    ],
                }
            ]
        }
    )
    planned = [(collection, source.kind) for collection, source in plan(collections, JobOptions())]
    assert planned == [("docs", "sitemap"), ("docs", "threads")]  # folders are pushed or ingested
