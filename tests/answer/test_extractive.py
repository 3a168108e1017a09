"""The extractive answer (no chat model): the best passages, labelled, with citations."""

from __future__ import annotations

from docsbot.answer.extractive import EXTRACTIVE_LABEL, extractive_answer
from docsbot.answer.model import AnswerKind
from tests.harness.builders import src


def test_the_extractive_answer_quotes_the_best_passages_with_citations() -> None:
    long_text = "First sentence. " * 100
    answer = extractive_answer([src(1, long_text), src(2), src(3), src(4)])
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.text.startswith(EXTRACTIVE_LABEL)
    assert [c.number for c in answer.citations] == [1, 2, 3]
    assert "**Page 1 › Section 1** [1]\n> First sentence." in answer.text
    assert len(answer.text) < 2_000


def test_quoted_passages_show_no_raw_docs_markup() -> None:
    raw = (
        "import Tabs from '@theme/Tabs';\n\n"
        ":::note Before you start\n\nInstall <code>node</code> first.\n\n:::\n\n"
        '<Tabs>\n<TabItem value="npm">\n\n```bash title="terminal" {1} showLineNumbers\n'
        "# highlight-next-line\nnpm install redux\n```\n\n</TabItem>\n</Tabs>\n\n"
        "### Options {#options}\n\nSee <a href='https://redux.js.org/api/store'>the store</a>.<br/>\n"
    )
    answer = extractive_answer([src(1, raw)])
    quoted = answer.text.split("[1]\n", 1)[1]
    assert quoted == (
        "> **Note: Before you start**\n>\n> Install `node` first.\n>\n"  # one quote level: Discord has no nesting
        "> **npm**\n>\n> **terminal**\n>\n> ```bash\n> npm install redux\n> ```\n>\n"
        "> ### Options\n>\n> See the store."
    )
    for markup in (":::", "<", "import ", "{#", "title=", "{1}", "showLineNumbers", "highlight-"):
        assert markup not in quoted, markup


def test_clean_passages_are_unchanged() -> None:
    text = "Call `dispatch(action)` on the [store](https://redux.js.org/api/store).\n\n```js\nstore.dispatch(a)\n```"
    answer = extractive_answer([src(1, text)])
    assert answer.text.endswith("[1]\n" + "\n".join(f"> {line}" if line else ">" for line in text.split("\n")))
