"""`python -m bench.judge`: what the model-judged relevance pass (DOCSBOT_RERANKER=model) costs per question.

For both development sets (`redux-docs`, `ionic-docs` under ../shared/corpora) it indexes the corpus with BM25
(keyword search stands in for the first stage: the cost depends on which sections are judged, not on their
order), takes each question's top 30 sections, builds the one request `ModelJudgeReranker` would send for its
default 8 sections, and counts its tokens with docsbot's own tokenizer (`documents/tokens.py`, cl100k/o200k as
the model uses): prompt tokens as the chat API bills them (content + 4 per message + 3), the completion's
ceiling (`max_tokens`) and a full reply's actual size (`n: g` per section). Beside it, the answer prompt the
same question costs (6 sources, `answer/prompt.py`), so the judge's cost reads as a share of an answer.
No request leaves the machine; quality needs a real model and is not measured here.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from docsbot.answer.chat import ChatMessage, ChatResult
from docsbot.answer.judge import DEFAULT_JUDGED, ModelJudgeReranker
from docsbot.answer.prompt import Product, build_prompt
from docsbot.documents.tokens import encoding_for_model
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.eval import load_questions
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DEV_SETS = ("redux-docs", "ionic-docs")
MODEL = "gpt-4.1-mini"
console = Console(width=150)


class _Unused:
    """A chat model that is never called: only the request is built and counted."""

    model = MODEL

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, on_delta: object = None) -> ChatResult:
        raise AssertionError("the cost benchmark sends nothing")


def _billed(messages: Sequence[ChatMessage], count: object) -> int:
    assert callable(count)
    return sum(int(count(m.content)) + 4 for m in messages) + 3


def _percentile(samples: list[int], q: float) -> int:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def judge_cost() -> None:
    encoding = encoding_for_model(MODEL)

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    table = Table(title=f"Model-judged relevance pass: tokens per question ({DEFAULT_JUDGED} sections, {MODEL})")
    for column in (
        "dev set",
        "questions",
        "judge prompt mean",
        "judge prompt p95",
        "judge reply / cap",
        "answer prompt mean",
        "judge / answer",
    ):
        table.add_column(column, justify="right" if column != "dev set" else "left")
    judge = ModelJudgeReranker(_Unused())
    for name in DEV_SETS:
        root = CORPORA / name
        if not (root / "questions.jsonl").is_file():
            console.print(f"[yellow]{name}: not found under {CORPORA}, skipped[/yellow]")
            continue
        index = EdgeIndex(Path(tempfile.mkdtemp(prefix=f"bench-judge-{name}-")), "docs")
        sparse = Bm25Encoder()
        source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=root, url_map=root / "urls.tsv")
        embedder = HashingEmbedder()  # indexed for the search's shape only: the benchmark searches by keyword
        ingest_folder(index, embedder, sparse, source)
        searcher = Searcher(index, embedder, sparse)
        questions = load_questions(root / "questions.jsonl")
        prompts: list[int] = []
        replies: list[int] = []
        caps: list[int] = []
        answers: list[int] = []
        for question in questions:
            candidates = searcher.search(question.question, limit=30, mode="sparse").sources
            if not candidates:
                continue
            request = judge.request(question.question, candidates)
            prompts.append(_billed(request.messages, count))
            replies.append(count("\n".join(f"{n}: 2" for n in range(1, request.judged + 1))))
            caps.append(request.max_tokens)
            answer = build_prompt(
                product=Product(name),
                sources=candidates[:6],
                history=[],
                question=question.question,
                model=MODEL,
                budget_tokens=12_000,
            )
            answers.append(answer.tokens)
        index.close()
        table.add_row(
            name,
            str(len(prompts)),
            f"{statistics.mean(prompts):.0f}",
            str(_percentile(prompts, 0.95)),
            f"{statistics.mean(replies):.0f} / {max(caps)}",
            f"{statistics.mean(answers):.0f}",
            f"{statistics.mean(prompts) / statistics.mean(answers):.0%}",
        )
    console.print(table)


PARTS = {"judge-cost": judge_cost}

if __name__ == "__main__":
    judge_cost()
