"""A solved thread is cited like a doc but labelled a community answer everywhere it is shown: the chat model's
prompt, the extractive answer, Discord's sources embed; and the collections file accepts the source kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from docsbot.answer.extractive import EXTRACTIVE_LABEL, extractive_answer
from docsbot.answer.prompt import format_sources
from docsbot.discord.render import render_answer
from docsbot.documents.model import COMMUNITY_KIND, Source
from docsbot.settings.config import ConfigError, ThreadsSource, load_collections

THREAD = Source(
    title="Store never updates",
    heading_path=(),
    url="https://discord.com/channels/1180000000000000001/1190000000000000001",
    anchor="",
    snippet="Return a new object from the reducer.",
    score=0.9,
    text="Question:\n\nMy store never updates\n\nAccepted answer: return a new object from the reducer.",
    source_kind=COMMUNITY_KIND,
)
DOC = Source("Reducers", ("Rules",), "https://redux.js.org/reducers", "rules", "Reducers must be pure.", 0.8,
             text="Reducers must be pure.", source_kind="markdown_folder")  # fmt: skip


def test_the_prompt_tells_the_model_which_source_is_a_community_answer() -> None:
    text = format_sources([DOC, THREAD])
    assert "[1] Reducers › Rules\n" in text
    assert f"[2] Community answer › Store never updates\nURL: {THREAD.url}\n" in text


def test_the_extractive_answer_and_discord_label_the_thread() -> None:
    answer = extractive_answer([THREAD, DOC], collection="docs")
    assert (
        "from solved community threads" in answer.text
        and "**Community answer › Store never updates** [1]" in answer.text
    )
    assert extractive_answer([DOC]).text.startswith(EXTRACTIVE_LABEL)  # docs only: the label says docs
    (message,) = render_answer(answer, thread_key="1190000000000000002")
    (sources,) = [e for e in message["embeds"] if e["title"] == "Sources"]
    assert sources["description"].splitlines()[0] == f"[1] [Community answer › Store never updates](<{THREAD.url}>)"
    assert message["allowed_mentions"] == {"parse": []}


COLLECTION = """
[[collection]]
name = "redux"
title = "Redux"

[[collection.source]]
kind = "markdown_folder"
path = "docs"
docs_base_url = "https://redux.js.org/"
{extra}
"""


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "collections.toml"
    path.write_text(COLLECTION.format(extra=extra), encoding="utf-8")
    return path


def test_a_collection_opts_into_its_solved_threads(tmp_path: Path) -> None:
    parsed = load_collections(write(tmp_path, '[[collection.source]]\nkind = "threads"\nbot_answers = true\n'))
    threads = parsed.get("redux").sources[1]
    assert threads == ThreadsSource(kind="threads", name="threads", bot_answers=True)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[collection.source]]\nkind = "thread"\n', "'markdown_folder', 'docusaurus', 'sitemap', 'threads'"),
        ('[[collection.source]]\nkind = "threads"\nmax_threads = 0\n', "max_threads: Input should be greater than"),
        ('[[collection.source]]\nkind = "threads"\nsolved = true\n', "solved: Extra inputs are not permitted"),
        ('[[collection.source]]\nkind = "threads"\nname = "docs"\n', "source names must be unique in a collection"),
    ],
)
def test_bad_threads_sources_are_refused_with_the_field_named(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_collections(write(tmp_path, extra))
    assert message in str(refused.value)
