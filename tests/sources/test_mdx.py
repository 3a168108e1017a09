"""MDX to markdown: every piece of text a reader sees survives, the JSX and MDX syntax does not."""

from __future__ import annotations

import re
from pathlib import Path

import frontmatter
import pytest

from docsbot.documents.anchors import fence_mask
from docsbot.sources.mdx import clean_mdx

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


def _corpus(name: str) -> Path:
    root = CORPORA / name
    if not (root / "urls.tsv").is_file():
        pytest.skip(f"the {name} corpus is not at {root}")
    return root


def test_import_and_export_lines_are_dropped() -> None:
    source = (
        "import Tabs from '@theme/Tabs';\n"
        "import {\n  DetailedExplanation,\n  Other,\n} from '../components';\n"
        "export const meta = {\n  title: 'x',\n};\n"
        "\n"
        "Text after the imports.\n"
    )
    assert clean_mdx(source) == "Text after the imports.\n"


def test_text_right_after_an_import_and_prose_about_imports_stay() -> None:
    source = "import X from 'x'\nSome text.\n\nimport the CSS file from the package first.\n"
    assert clean_mdx(source) == "Some text.\n\nimport the CSS file from the package first.\n"


def test_comments_are_dropped() -> None:
    source = "Before {/* an MDX comment */} after.\n\n<!--\nprettier-ignore\n-->\n{/*\n multi-line\n*/}\n"
    source += "End.\n"
    assert clean_mdx(source) == "Before  after.\n\nEnd.\n"


def test_code_fences_are_never_touched() -> None:
    fence = (
        "```jsx\n"
        "import React from 'react'\n"
        "<!-- not a comment here -->\n"
        "<Tabs><TabItem value='a'>x</TabItem></Tabs>\n"
        ":::tip\n"
        "```\n"
    )
    tilde = "~~~~md\n```\n<Provider store={store}>\n```\n~~~~\n"
    assert clean_mdx(f"Intro.\n\n{fence}\n{tilde}") == f"Intro.\n\n{fence}\n{tilde}"


def test_inline_code_is_never_touched() -> None:
    source = "Wrap it in `<Provider store={store}>` and keep `{/* this */}` and `<!-- that -->`.\n"
    assert clean_mdx(source) == source


def test_tabs_become_bold_labelled_parts_not_headings() -> None:
    source = (
        "<Tabs groupId='pm'>\n"
        '<TabItem value="npm" label="npm">\n\n```bash\nnpm install redux\n```\n\n</TabItem>\n'
        '<TabItem value="yarn">\n\nWith yarn:\n\n```bash\nyarn add redux\n```\n\n</TabItem>\n'
        "</Tabs>\n"
    )
    assert clean_mdx(source) == (
        "**npm**\n\n```bash\nnpm install redux\n```\n\n**yarn**\n\nWith yarn:\n\n```bash\nyarn add redux\n```\n"
    )


def test_tab_labels_come_from_the_tabs_values_prop() -> None:
    source = (
        "<Tabs\n  values={[\n    { label: 'JavaScript', value: 'js' },\n"
        "    { label: 'Python', value: 'py' },\n  ]}\n>\n"
        '<TabItem value="js">\n\nnpm init\n\n</TabItem>\n'
        '<TabItem value="py">\n\npip install\n\n</TabItem>\n</Tabs>\n'
    )
    assert clean_mdx(source) == "**JavaScript**\n\nnpm init\n\n**Python**\n\npip install\n"


@pytest.mark.parametrize(
    ("opening", "label"),
    [
        (":::tip", "**Tip**"),
        (":::tip Custom title", "**Tip: Custom title**"),
        (":::note[Title in brackets]", "**Note: Title in brackets**"),
        (":::info Wrap calls in `bulk_atomic`", "**Info: Wrap calls in `bulk_atomic`**"),
    ],
)
def test_admonitions_become_labelled_blockquotes(opening: str, label: str) -> None:
    source = f"{opening}\n\nFirst line.\nSecond line.\n\n:::\n\nAfter.\n"
    assert clean_mdx(source) == f"> {label}\n>\n> First line.\n> Second line.\n\nAfter.\n"


def test_nested_admonitions_and_fences_inside_them() -> None:
    source = "::::warning Outer\n\n:::note\n\nInner.\n\n:::\n\n```js\n// :::\nconst a = 1\n```\n\n::::\n"
    assert clean_mdx(source) == (
        "> **Warning: Outer**\n>\n> > **Note**\n> >\n> > Inner.\n>\n> ```js\n> // :::\n> const a = 1\n> ```\n"
    )


def test_admonition_closing_glued_to_text_keeps_the_text() -> None:
    source = ":::info Availability\nOnly on the paid plans. :::\n\nAfter.\n"
    assert clean_mdx(source) == "> **Info: Availability**\n> Only on the paid plans.\n\nAfter.\n"


def test_components_are_dropped_but_their_text_stays() -> None:
    source = (
        '<DetailedExplanation title="Why?">\n\nBecause **reasons**.\n\n</DetailedExplanation>\n\n'
        "<FundamentalsWarning />\n\n"
        "<Thumbnail\n  src='/img/a.png'\n  alt='A picture\nover two lines'\n/>\n\n"
        "Inline <ProductBadge free /> badge and <VersionedLink to='/x'>a link</VersionedLink>.\n"
    )
    assert clean_mdx(source) == "**Why?**\n\nBecause **reasons**.\n\nInline  badge and a link.\n"


def test_unbalanced_and_unknown_tags_do_not_lose_text() -> None:
    source = "<Callout>\n\nNever closed.\n\nStray </Wrapper> closer.\n\nMaths: a < b and c > d, x<=y.\n"
    assert clean_mdx(source) == "Never closed.\n\nStray  closer.\n\nMaths: a < b and c > d, x<=y.\n"


def test_details_summary_stays_readable() -> None:
    source = "<details>\n<summary>Click to see the <b>full</b> code</summary>\n\nThe body.\n\n</details>\n"
    assert clean_mdx(source) == "**Click to see the full code**\n\nThe body.\n"


def test_inline_html_is_reduced_to_markdown() -> None:
    source = "Use <code>dispatch</code> with <b>care</b> and <em>thought</em>.<br/>Next line.\n"
    assert clean_mdx(source) == "Use `dispatch` with **care** and _thought_.\nNext line.\n"


def test_html_headings_become_bold_lines_unless_they_have_an_id() -> None:
    assert clean_mdx("<h3>\n  Raw heading\n</h3>\n\nText.\n") == "**Raw heading**\n\nText.\n"
    assert clean_mdx('<h3 id="cloud-free">Cloud Free</h3>\n\nText.\n') == "### Cloud Free {#cloud-free}\n\nText.\n"


def test_html_tables_become_markdown_tables() -> None:
    source = (
        "<table>\n  <thead>\n    <tr><th>Name</th><th>Type</th></tr>\n  </thead>\n"
        "  <tbody>\n    <tr>\n      <td>id</td>\n      <td>a | b<br/>c</td>\n    </tr>\n"
        "  </tbody>\n</table>\n"
    )
    assert clean_mdx(source) == "| Name | Type |\n| --- | --- |\n| id | a \\| b c |\n"


def test_multiline_template_literal_props_become_code_blocks() -> None:
    source = (
        'Query it:\n\n<GraphiQLIDE\n  query={`query {\n  todos { id }\n}`}\n  response={`{\n  "data": {}\n}`}\n/>\n'
    )
    assert clean_mdx(source) == (
        'Query it:\n\n```graphql\nquery {\n  todos { id }\n}\n```\n\n```json\n{\n  "data": {}\n}\n```\n'
    )


def test_pre_blocks_become_code_blocks() -> None:
    source = (
        "<pre>\n  <code>\n    graphql-engine:\n    <br />\n    {'  '}image: hasura/graphql-engine\n  </code>\n</pre>\n"
    )
    assert clean_mdx(source) == "```\ngraphql-engine:\n  image: hasura/graphql-engine\n```\n"


def _blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a document, each line without blockquote markers and indentation."""
    lines = markdown.split("\n")
    blocks: list[str] = []
    current: list[str] = []
    for line, fenced in zip(lines, fence_mask(lines), strict=True):
        if fenced:
            current.append(re.sub(r"^(?:\s*>\s?)*", "", line).strip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


@pytest.mark.parametrize("corpus", ["redux-docs", "hasura-docs"])
def test_real_corpus_keeps_every_code_block_and_leaves_no_mdx(corpus: str) -> None:
    root = _corpus(corpus)
    leftovers: list[str] = []
    lost_blocks: list[str] = []
    files = sorted(p for p in root.rglob("*.md*") if p.name != "README.md" or p.parent != root)
    for path in files:
        source = frontmatter.loads(path.read_text(encoding="utf-8")).content
        cleaned = clean_mdx(source)
        kept = set(_blocks(cleaned))
        lost_blocks += [f"{path}: {b[:60]!r}" for b in _blocks(source) if b not in kept]
        lines = cleaned.split("\n")
        for line, fenced in zip(lines, fence_mask(lines), strict=True):
            outside_code = re.sub(r"`[^`]*`", "", line)
            if not fenced and re.search(r"^:::|:::$|</?[A-Z][\w.]*[\s/>]|^import\s|\{/\*|<!--", outside_code):
                leftovers.append(f"{path}: {line[:100]}")
    assert len(files) > 80
    assert lost_blocks == []
    assert leftovers == []
