"""Retrieval evaluation on a question set (the JSONL format of DESIGN.md §6).

Each line: `{"id", "question", "relevant": [url or url#anchor, ...], "answerable": bool, "notes"}`.

Metrics, averaged over answerable questions that list relevant URLs:
- page level: the ranked list of distinct pages of the returned sections; a relevant entry `url#anchor`
  counts as its page. recall@k = share of the question's relevant pages found in the top k (standard IR
  recall); hit@k = share of questions with at least one relevant page in the top k; MRR@10; nDCG@10
  (binary gains).
- section level: the ranked list of returned sections; a relevant `url#anchor` is found by a section of
  that page whose text covers that anchor (the section itself or a small sub-section merged into it); a
  relevant entry without anchor is found by any section of its page.
For abstention it reports the top retrieval score of answerable vs unanswerable questions and their
separation (ROC AUC: the chance an answerable question scores above an unanswerable one). When the search
function also returns the product's `Decision` (the signal its "not in the docs" policy compares and whether it
answered), the report says how many answerable and unanswerable questions the product refused, and the ROC AUC
is that signal's, not the dense cosine's.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from docsbot.documents.model import Source
from docsbot.index.search import SearchResult

K_VALUES = (1, 5, 10)


class QuestionFileError(ValueError):
    """The question file is not in the expected format; the message names the line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    relevant: tuple[str, ...]
    answerable: bool
    notes: str = ""


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question file, validating every line."""
    questions: list[Question] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionFileError(f"cannot read {path}: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuestionFileError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise QuestionFileError(f"{where}: expected a JSON object")
        text = row.get("question")
        relevant = row.get("relevant", [])
        if not isinstance(text, str) or not text.strip():
            raise QuestionFileError(f"{where}: 'question' must be a non-empty string")
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            raise QuestionFileError(f"{where}: 'relevant' must be a list of URL strings")
        answerable = row.get("answerable", bool(relevant))
        if not isinstance(answerable, bool):
            raise QuestionFileError(f"{where}: 'answerable' must be true or false")
        questions.append(
            Question(
                id=str(row.get("id") or f"line-{number}"),
                question=text,
                relevant=tuple(relevant),
                answerable=answerable,
                notes=str(row.get("notes") or ""),
            )
        )
    return questions


def normalise_url(url: str) -> tuple[str, str]:
    """(page key, anchor): scheme and host lower-cased, trailing slash ignored."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    page = f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"
    if parts.query:
        page += f"?{parts.query}"
    return page, parts.fragment


@dataclass(frozen=True)
class Decision:
    """What the product decided for one question: its abstention signal and whether it answered."""

    signal: float | None
    answered: bool


@dataclass(frozen=True)
class Retrieved:
    """One question's search: ranked sections, a top score, and (optionally) the product's decision."""

    sections: list[Source]
    top_score: float | None
    decision: Decision | None = None


@dataclass
class QuestionResult:
    question: Question
    pages: list[str]  # ranked distinct page keys
    sections: list[Source]
    top_score: float | None
    page_ranks: list[int]  # 1-based ranks at which relevant pages were found
    section_ranks: list[int]
    decision: Decision | None = None


def _page_ranks(relevant_pages: list[str], pages: list[str]) -> list[int]:
    return [pages.index(p) + 1 for p in relevant_pages if p in pages]


def _section_ranks(relevant: Sequence[str], sections: Sequence[Source]) -> list[int]:
    ranks: list[int] = []
    for entry in dict.fromkeys(relevant):
        page, anchor = normalise_url(entry)
        for rank, source in enumerate(sections, start=1):
            if normalise_url(source.url)[0] != page:
                continue
            if not anchor or anchor == source.anchor or anchor in source.anchors:
                ranks.append(rank)
                break
    return ranks


def _metrics(ranks_per_question: list[tuple[list[int], int]]) -> dict[str, float]:
    """recall@k, hit@k, mrr@10, ndcg@10 from (found ranks, number relevant) per question."""
    out: dict[str, float] = {}
    n = len(ranks_per_question)
    if n == 0:
        return out
    for k in K_VALUES:
        out[f"recall@{k}"] = sum(sum(1 for r in rs if r <= k) / total for rs, total in ranks_per_question) / n
    for k in K_VALUES:
        out[f"hit@{k}"] = sum(1 for rs, _ in ranks_per_question if any(r <= k for r in rs)) / n
    out["mrr@10"] = sum(1 / min(rs) if rs and min(rs) <= 10 else 0.0 for rs, _ in ranks_per_question) / n
    ndcg = 0.0
    for rs, total in ranks_per_question:
        dcg = sum(1 / math.log2(r + 1) for r in set(rs) if r <= 10)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(total, 10)))
        ndcg += dcg / ideal if ideal else 0.0
    out["ndcg@10"] = ndcg / n
    return {key: round(value, 4) for key, value in out.items()}


def _distribution(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "n": len(ordered),
        "min": round(ordered[0], 4),
        "p25": round(quartiles[0], 4),
        "median": round(quartiles[1], 4),
        "p75": round(quartiles[2], 4),
        "max": round(ordered[-1], 4),
    }


def _auc(positives: list[float], negatives: list[float]) -> float | None:
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


@dataclass
class EvalReport:
    results: list[QuestionResult] = field(default_factory=list)

    def as_dict(self, miss_k: int = 5) -> dict[str, Any]:
        scored = [r for r in self.results if r.question.answerable and r.question.relevant]
        page_input = [(r.page_ranks, len({normalise_url(u)[0] for u in r.question.relevant})) for r in scored]
        section_input = [(r.section_ranks, len(dict.fromkeys(r.question.relevant))) for r in scored]
        answerable = [r.top_score for r in self.results if r.question.answerable and r.top_score is not None]
        unanswerable = [r.top_score for r in self.results if not r.question.answerable and r.top_score is not None]
        misses = [
            {
                "id": r.question.id,
                "question": r.question.question,
                "relevant": list(r.question.relevant),
                "got": [s.deep_link for s in r.sections[:3]],
            }
            for r in scored
            if not any(rank <= miss_k for rank in r.page_ranks)
        ]
        abstention: dict[str, Any] = {
            "score": "best dense cosine similarity (fused RRF score when there is no dense vector)",
            "answerable": _distribution(answerable),
            "unanswerable": _distribution(unanswerable),
            "auc": _auc(answerable, unanswerable),
        }
        decided = [r for r in self.results if r.decision is not None]
        if decided:
            abstention = _decisions(decided)
        return {
            "questions": len(self.results),
            "evaluated": len(scored),
            **_metrics(page_input),
            "section": _metrics(section_input),
            "abstention": abstention,
            "misses": misses,
        }


def _decisions(results: list[QuestionResult]) -> dict[str, Any]:
    """The product's refusals per group and the ROC AUC of the signal it decided on."""
    out: dict[str, Any] = {"score": "the product's abstention signal"}
    signals: dict[bool, list[float]] = {True: [], False: []}
    for group, answerable in (("answerable", True), ("unanswerable", False)):
        members = [r.decision for r in results if r.question.answerable is answerable and r.decision is not None]
        refused = sum(1 for d in members if not d.answered)
        signals[answerable] = [d.signal for d in members if d.signal is not None]
        out[group] = _distribution(signals[answerable])
        out[f"{group}_refused"] = refused
        out[f"{group}_total"] = len(members)
        out[f"{group}_refused_share"] = round(refused / len(members), 4) if members else None
    out["auc"] = _auc(signals[True], signals[False])
    return out


SearchFn = Callable[[str], "tuple[list[Source], float | None] | Retrieved"]


def product_search(
    search: Callable[[str, int], SearchResult],
    decide: Callable[[SearchResult], Decision],
    *,
    limit: int = 20,
    answer_sources: int = 6,
) -> Callable[[str], Retrieved]:
    """A `SearchFn` ranking `limit` sections and deciding on the `answer_sources` the product answers from.

    Two searches when the sizes differ, because the first stage's candidate pool depends on the limit and the
    product's decision must be measured on exactly what the product would retrieve.
    """

    def run(question: str) -> Retrieved:
        ranked = search(question, limit)
        answered = ranked if answer_sources == limit else search(question, answer_sources)
        top = ranked.best_dense_score
        if top is None and ranked.sources:
            top = ranked.sources[0].score
        return Retrieved(ranked.sources, top, decide(answered))

    return run


def evaluate(
    questions: Sequence[Question], search: SearchFn, *, on_question: Callable[[], None] | None = None
) -> EvalReport:
    """Run every question through `search` (returning ranked sections and a top score) and score it."""
    report = EvalReport()
    for question in questions:
        found = search(question.question)
        retrieved = found if isinstance(found, Retrieved) else Retrieved(list(found[0]), found[1])
        sections, top_score = retrieved.sections, retrieved.top_score
        pages = list(dict.fromkeys(normalise_url(s.url)[0] for s in sections))
        relevant_pages = list(dict.fromkeys(normalise_url(u)[0] for u in question.relevant))
        report.results.append(
            QuestionResult(
                question=question,
                pages=pages,
                sections=list(sections),
                top_score=top_score,
                page_ranks=_page_ranks(relevant_pages, pages),
                section_ranks=_section_ranks(question.relevant, sections[:10]),
                decision=retrieved.decision,
            )
        )
        if on_question:
            on_question()
    return report
