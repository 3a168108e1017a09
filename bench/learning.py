"""Learning-loop benchmarks: the gaps report and the export on 10,000 simulated threads.

`python -m bench gaps`: a SQLite store holding 10,000 simulated threads of the Redux corpus's collection (a
deterministic mix: 40% answered and voted solved, 20% not found, 20% voted not solved, 20% solved by a person;
questions drawn from the corpus's own headings, with off-topic ones among the failed), the corpus indexed in the
embedded Qdrant with the hashing stand-in embedder (so the embedder's speed, which is the model's business, does
not hide the report's own cost). A fresh child process then runs the gaps report as `docsbot gaps` does (read
the threads, classify, embed, nearest doc per question, cluster, label, HTML) and reports wall time per phase
and peak RSS (the child's resident memory after imports is shown too, to tell the libraries from the work).
`python -m bench export`: the same store; a child exports it as `chat` and as `eval` (read, scrub, validate,
write). Sizes: `LEARNING_THREADS=2000` for a shorter run.
`python -m bench gaps-devsets`: both development sets through ingest, `docsbot simulate` and the gaps report: where
the unanswerable questions land (docs/learning.md reports the numbers).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.knowledge_base import REDUX

console = Console(width=None if sys.stdout.isatty() else 200)
THREADS = int(os.environ.get("LEARNING_THREADS", "10000"))
COLLECTION = "redux"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
OFF_TOPIC = (
    "flutter widgets",
    "kubernetes ingress",
    "django orm migrations",
    "unity game physics",
    "excel pivot tables",
    "android gradle signing",
    "postgres vacuum tuning",
    "rust borrow checker",
)
TEMPLATES = (
    "how do I {topic}?",
    "question about {topic}: it does not work for me",
    "{topic} is confusing, any example?",
    "what is the recommended way for {topic} in my app",
    "I get an error with {topic} after upgrading",
)


def _headings(root: Path) -> list[str]:
    """Every `## ` heading of the corpus: realistic topics that the docs do cover."""
    topics: list[str] = []
    for path in sorted(root.rglob("*.md*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("## ") and 3 < len(line) < 80:
                topics.append(line[3:].strip().lower())
    return topics


def prepare(data_dir: Path, threads: int, seed: int = 0) -> None:
    """The corpus indexed (hashing embedder) and `threads` simulated threads in the SQLite store."""
    from docsbot.index.bm25 import Bm25Encoder
    from docsbot.index.embedders import HashingEmbedder
    from docsbot.index.qdrant_edge import EdgeIndex
    from docsbot.refresh.pipeline import ingest_folder
    from docsbot.settings.config import MarkdownFolderSource
    from docsbot.store.model import Feedback, MessageRecord, NewThread, Solution, SourceRef
    from docsbot.store.sqlite import open_sqlite

    index = EdgeIndex(data_dir / "index", COLLECTION)
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=REDUX, url_map=REDUX / "urls.tsv")
    ingest_folder(index, HashingEmbedder(), Bm25Encoder(), source)
    index.close()
    rng = random.Random(seed)
    topics = _headings(REDUX)
    ref = SourceRef("Reducers", ("Reducers",), "https://redux.js.org/faq/reducers", "")
    store = open_sqlite(data_dir)
    try:
        for n in range(threads):
            kind = ("answered", "answered", "not_found", "not_solved", "person")[n % 5]
            topic = rng.choice(OFF_TOPIC if kind != "answered" and rng.random() < 0.5 else topics)
            question = rng.choice(TEMPLATES).format(topic=topic) + f" (#{n})"
            thread_id = f"bench-{n}"
            at = NOW - timedelta(minutes=threads - n)
            store.ensure_thread(NewThread(thread_id, COLLECTION, f"user-{n % 997}", title=question[:100]), at)
            store.add_message(MessageRecord(f"{thread_id}-q", thread_id, "u", question, False, at, asked_bot=True))
            found = kind != "not_found"
            store.add_message(
                MessageRecord(
                    f"{thread_id}-a",
                    thread_id,
                    "bot",
                    "From the docs: reducers must be pure [1]." if found else "Not in the docs.",
                    True,
                    at + timedelta(seconds=1),
                    sources=(ref,) if found else (),
                    outcome="answered" if found else "not_found",
                )
            )
            later = at + timedelta(seconds=30)
            if kind == "answered":
                store.record_vote(thread_id, f"user-{n % 997}", "solved", is_author=True, now=later)
            elif kind == "not_solved":
                store.record_vote(thread_id, f"user-{n % 997}", "failed", is_author=True, now=later)
                store.record_feedback(Feedback(thread_id, f"user-{n % 997}", "incomplete", "", later))
            elif kind == "person":
                text = f"Mail me at someone{n}@example.com: pin the version, see https://redux.js.org/api/store"
                solution = Solution(f"{thread_id}-r", "helper", text, "https://discord.com/x", False, "u", later)
                store.mark_solution(thread_id, solution, later)
    finally:
        store.close()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(what: str, data_dir: str) -> None:
    """Runs in a fresh process: one measured operation, one JSON line of measurements."""
    import sklearn.cluster  # noqa: F401  (loaded before the baseline: the libraries are not the work)

    from docsbot.index.embedders import HashingEmbedder
    from docsbot.index.qdrant_edge import EdgeIndex
    from docsbot.learning.export import ExportStats, export_lines
    from docsbot.learning.gaps import build_report
    from docsbot.learning.pii import Scrubber
    from docsbot.learning.report import render_html
    from docsbot.learning.threads import load_threads
    from docsbot.store.sqlite import open_sqlite

    root = Path(data_dir)
    baseline = _rss_mib()
    phases: dict[str, float] = {}
    started = last = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases[name] = now - last
        last = now

    store = open_sqlite(root)
    views = load_threads(store, COLLECTION)
    store.close()
    phase("read threads")
    result: dict[str, object] = {"threads": len(views)}
    if what == "gaps":
        index = EdgeIndex(root / "index", COLLECTION)
        # Each progress step build_report announces closes the phase before it.
        steps = iter(("classify", "embed questions", "nearest doc per question"))
        report = build_report(
            views,
            collection=COLLECTION,
            embedder=HashingEmbedder(),
            index=index,
            now=NOW,
            on_progress=lambda _step: phase(next(steps, "other")),
        )
        phase("cluster + label")
        html = render_html(report)
        phase("render HTML")
        index.close()
        result |= {"gaps": report.gaps, "clusters": len(report.clusters), "html_kib": len(html) / 1024}
    else:
        for fmt in ("chat", "eval"):
            stats = ExportStats()
            size = sum(len(line) + 1 for line in export_lines(views, fmt, scrubber=Scrubber(), stats=stats))
            phase(f"export {fmt}")
            result[f"{fmt}_written"] = stats.written
            result[f"{fmt}_mib"] = size / 2**20
    result |= {"seconds": time.perf_counter() - started, "phases": phases, "baseline_mib": baseline}
    result["peak_mib"] = _rss_mib()
    print(json.dumps(result))


def _run(what: str, data_dir: Path) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-m", "bench.learning", "child", what, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    data: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return data


def _table(title: str, data: dict[str, object], extra: list[tuple[str, str]]) -> None:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("threads read", str(data["threads"]))
    for name, seconds in dict(data["phases"]).items():  # type: ignore[call-overload]
        table.add_row(f"  {name} (s)", f"{seconds:.2f}")
    table.add_row("total wall time (s)", f"{data['seconds']:.2f}")
    table.add_row("RSS after imports (MiB)", f"{data['baseline_mib']:.0f}")
    table.add_row("peak RSS (MiB)", f"{data['peak_mib']:.0f}")
    for name, value in extra:
        table.add_row(name, value)
    console.print(table)


def _prepared() -> tempfile.TemporaryDirectory[str]:
    folder = tempfile.TemporaryDirectory(prefix="bench-learning-")
    started = time.perf_counter()
    prepare(Path(folder.name), THREADS)
    console.print(f"prepared {THREADS} simulated threads and the index in {time.perf_counter() - started:.0f} s")
    return folder


def gaps() -> None:
    """Time and peak memory of the gaps report on THREADS simulated threads."""
    with _prepared() as folder:
        data = _run("gaps", Path(folder))
    extra = [
        ("questions the docs failed", str(data["gaps"])),
        ("clusters", str(data["clusters"])),
        ("HTML report (KiB)", f"{data['html_kib']:.0f}"),
    ]
    _table(f"docsbot gaps on {THREADS} simulated threads (hashing embedder, embedded Qdrant)", data, extra)


def export() -> None:
    """Time and peak memory of exporting THREADS simulated threads as chat and as eval JSONL."""
    with _prepared() as folder:
        data = _run("export", Path(folder))
    extra = [
        ("chat examples written", str(data["chat_written"])),
        ("chat JSONL (MiB)", f"{data['chat_mib']:.1f}"),
        ("eval items written", str(data["eval_written"])),
        ("eval JSONL (MiB)", f"{data['eval_mib']:.1f}"),
    ]
    _table(f"docsbot export on {THREADS} simulated threads (chat, then eval; scrubbed)", data, extra)


def far_share(data_dir: Path, collection: str, questions: Path, embedder: str = "local") -> dict[str, object]:
    """On a simulated collection: where the gaps report puts the question file's unanswerable questions."""
    from docsbot.app.bot import Collections
    from docsbot.index.eval import load_questions
    from docsbot.learning.gaps import build_report
    from docsbot.learning.simulate import thread_id_for
    from docsbot.learning.threads import load_threads
    from docsbot.settings.config import load_settings
    from docsbot.store.sqlite import open_sqlite

    env = {
        **os.environ,
        "DOCSBOT_DATA_DIR": str(data_dir),
        "DOCSBOT_COLLECTIONS_FILE": "",
        "DOCSBOT_EMBEDDER": embedder,
    }
    settings = load_settings(env)
    services = Collections(settings)
    searcher = services.searcher(collection)
    store = open_sqlite(data_dir)
    views = load_threads(store, collection)
    store.close()
    report = build_report(views, collection=collection, embedder=services.embedder, index=searcher.index, now=NOW)
    unanswerable = {thread_id_for(0, q.id) for q in load_questions(questions) if not q.answerable}
    lowest = min((c.similarity for c in report.answered), default=None)
    placed = [(q.thread_id in unanswerable, c) for c in report.clusters for q in c.questions]
    in_gaps = [c for is_unanswerable, c in placed if is_unanswerable]
    return {
        "unanswerable": len(unanswerable),
        "in gap clusters": len(in_gaps),
        "below the answered median": sum(c.far_from_docs for c in in_gaps),
        "below every answered cluster": sum(lowest is not None and c.similarity < lowest for c in in_gaps),
        "answerable in far clusters": sum(c.far_from_docs for u, c in placed if not u),
        "gap questions": report.gaps,
        "gap clusters": len(report.clusters),
        "far clusters": sum(c.far_from_docs for c in report.clusters),
        "answered clusters": len(report.answered),
        "answered median similarity": report.answered_similarity,
    }


def gaps_devsets() -> None:
    """`simulate` over both development sets (local embedder, extractive answers), then where the gaps report
    puts the unanswerable questions: the share in clusters further from the docs than the answered clusters."""
    corpora = REDUX.parent
    table = Table(title="docsbot gaps after docsbot simulate on the development sets (local embedder, no chat model)")
    rows: list[dict[str, object]] = []
    names = ("redux", "ionic")
    for name in names:
        folder = corpora / f"{name}-docs"
        with tempfile.TemporaryDirectory(prefix="bench-gaps-") as data_dir:
            env = {
                **os.environ,
                "DOCSBOT_DATA_DIR": data_dir,
                "DOCSBOT_EMBEDDER": "local",
                "DOCSBOT_COLLECTIONS_FILE": "",
                "DOCSBOT_STATE": "sqlite",
                "DOCSBOT_CHAT_MODEL": "off",  # extractive answers, even with an OpenAI key around
            }
            cli = [sys.executable, "-m", "docsbot.cli.main"]
            ingest = [
                "ingest",
                "--collection",
                name,
                "--source-dir",
                str(folder),
                "--url-map",
                str(folder / "urls.tsv"),
            ]
            subprocess.run([*cli, *ingest], env=env, check=True, capture_output=True)
            questions = folder / "questions.jsonl"
            simulate = ["simulate", "--collection", name, "--questions", str(questions)]
            subprocess.run([*cli, *simulate], env=env, check=True, capture_output=True)
            rows.append(far_share(Path(data_dir), name, questions))
    table.add_column("measure")
    for name in names:
        table.add_column(name, justify="right")
    for key in rows[0]:
        table.add_row(key, *(f"{r[key]:.3f}" if isinstance(r[key], float) else str(r[key]) for r in rows))
    share = [int(str(r["below the answered median"])) / max(1, int(str(r["unanswerable"]))) for r in rows]
    table.add_row("share of unanswerable below the answered median", *(f"{s:.0%}" for s in share))
    console.print(table)


PARTS = {"gaps": gaps, "export": export, "gaps-devsets": gaps_devsets}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: python -m bench.learning child gaps|export DATA_DIR (or: python -m bench gaps)")
