from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from docsbot.documents.model import Source
from docsbot.index.eval import QuestionFileError, evaluate, load_questions


def source(url: str, anchor: str = "", anchors: tuple[str, ...] = ()) -> Source:
    return Source(title="t", heading_path=(), url=url, anchor=anchor, snippet="", score=1.0, anchors=anchors)


def write_questions(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_page_and_section_metrics(tmp_path: Path) -> None:
    questions = load_questions(
        write_questions(
            tmp_path,
            [
                {
                    "id": "a",
                    "question": "qa",
                    "relevant": ["https://d.io/x#one", "https://d.io/y/"],
                    "answerable": True,
                },
                {"id": "b", "question": "qb", "relevant": ["https://d.io/z"], "answerable": True},
                {"id": "c", "question": "qc", "relevant": [], "answerable": False},
            ],
        )
    )
    results = {
        # x found at rank 2 (section "one" merged into "intro"), y at rank 3 (page-level entry)
        "qa": (
            [
                source("https://d.io/w"),
                source("https://d.io/x", "intro", ("intro", "one")),
                source("https://d.io/y"),
            ],
            0.8,
        ),
        # z never found
        "qb": ([source("https://d.io/w")], 0.5),
        "qc": ([source("https://d.io/w")], 0.2),
    }
    report = evaluate(questions, lambda q: results[q]).as_dict()
    assert report["questions"] == 3
    assert report["evaluated"] == 2
    assert report["recall@1"] == 0.0
    assert report["recall@5"] == pytest.approx((1.0 + 0.0) / 2)
    assert report["hit@5"] == pytest.approx(0.5)
    assert report["mrr@10"] == pytest.approx((1 / 2) / 2)
    ideal = 1 + 1 / math.log2(3)
    assert report["ndcg@10"] == pytest.approx(round(((1 / math.log2(3) + 1 / math.log2(4)) / ideal) / 2, 4))
    assert report["section"]["recall@5"] == pytest.approx(0.5)
    assert [m["id"] for m in report["misses"]] == ["b"]
    assert report["abstention"]["auc"] == 1.0  # both answerable questions scored above the unanswerable one


def test_section_level_needs_the_right_anchor(tmp_path: Path) -> None:
    questions = load_questions(
        write_questions(
            tmp_path, [{"id": "a", "question": "q", "relevant": ["https://d.io/x#two"], "answerable": True}]
        )
    )
    report = evaluate(questions, lambda q: ([source("https://d.io/x", "one", ("one",))], None)).as_dict()
    assert report["recall@1"] == 1.0  # the page is right
    assert report["section"]["recall@10"] == 0.0  # the section is not


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('["a list"]', "JSON object"),
        ('{"id": "x", "relevant": []}', "'question'"),
        ('{"question": "q", "relevant": "https://x"}', "'relevant'"),
        ('{"question": "q", "relevant": [], "answerable": "yes"}', "'answerable'"),
    ],
)
def test_bad_question_files_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match=message):
        load_questions(path)


def test_the_report_gives_the_products_decisions_and_its_signals_auc(tmp_path: Path) -> None:
    from docsbot.index.eval import Decision, Retrieved

    questions = load_questions(
        write_questions(
            tmp_path,
            [
                {"id": "a", "question": "qa", "relevant": ["https://d.io/x"], "answerable": True},
                {"id": "b", "question": "qb", "relevant": ["https://d.io/x"], "answerable": True},
                {"id": "c", "question": "qc", "relevant": [], "answerable": False},
                {"id": "d", "question": "qd", "relevant": [], "answerable": False},
            ],
        )
    )
    decisions = {
        "qa": Decision(2.0, True),
        "qb": Decision(1.0, False),
        "qc": Decision(1.5, True),
        "qd": Decision(0.2, False),
    }
    # The dense cosine (0.9 for unanswerable, 0.1 for answerable) would say the opposite: it is not reported.
    dense = {"qa": 0.1, "qb": 0.1, "qc": 0.9, "qd": 0.9}
    report = evaluate(questions, lambda q: Retrieved([source("https://d.io/x")], dense[q], decisions[q])).as_dict()
    abstention = report["abstention"]
    assert abstention["score"] == "the product's abstention signal"
    assert (abstention["answerable_refused"], abstention["answerable_total"]) == (1, 2)
    assert (abstention["unanswerable_refused"], abstention["unanswerable_total"]) == (1, 2)
    assert abstention["unanswerable_refused_share"] == 0.5
    assert abstention["auc"] == 0.75  # 2.0 beats 1.5 and 0.2, 1.0 beats only 0.2: 3 of 4 pairs


def test_product_search_decides_on_what_the_product_would_retrieve() -> None:
    from docsbot.index.eval import Decision, product_search
    from docsbot.index.search import SearchResult

    limits: list[int] = []

    def search(question: str, limit: int) -> SearchResult:
        limits.append(limit)
        sources = [source(f"https://d.io/{n}") for n in range(limit)]
        return SearchResult(query=question, sources=sources, best_dense_score=0.7)

    run = product_search(search, lambda r: Decision(float(len(r.sources)), True), limit=20, answer_sources=6)
    retrieved = run("q")
    assert limits == [20, 6]
    assert len(retrieved.sections) == 20 and retrieved.top_score == 0.7
    assert retrieved.decision == Decision(6.0, True)  # decided on the answerer's 6 sources, not the 20 ranked
