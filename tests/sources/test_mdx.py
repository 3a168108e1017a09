"""MDX to markdown: every piece of text a reader sees survives, the JSX and MDX syntax does not."""

from __future__ import annotations

import re
from pathlib import Path

import frontmatter
import pytest

from docsbot.documents.anchors import fence_mask
from docsbot.documents.sections import split_sections
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


def test_nested_admonitions_are_flattened_into_one_quote_and_fences_inside_them_kept() -> None:
    source = "::::warning Outer\n\n:::note\n\nInner.\n\n:::\n\n```js\n// :::\nconst a = 1\n```\n\n::::\n"
    assert clean_mdx(source) == (
        "> **Warning: Outer**\n>\n> **Note**\n>\n> Inner.\n>\n> ```js\n> // :::\n> const a = 1\n> ```\n"
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


_MAGIC = re.compile(r"^\W*(?:highlight|error)-(?:next-line|start|end)\W*$")


def _as_shown(block: str) -> str:
    """A source block as the site shows it: the fence line reduced to the language, magic comments gone."""
    first, *rest = block.split("\n")
    opening = re.match(r"(`{3,}|~{3,})\s*([\w#+.-]+(?![\w#+.=-]))?", first)
    head = f"{opening.group(1)}{opening.group(2) or ''}" if opening else first
    return "\n".join([head, *(line for line in rest if not _MAGIC.match(line))])


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
        lost_blocks += [f"{path}: {b[:60]!r}" for b in _blocks(source) if _as_shown(b) not in kept]
        for block in kept:
            first, *rest = block.split("\n")
            if re.search(r"[{ =]", first) or any(_MAGIC.match(line) for line in rest):
                leftovers.append(f"{path}: fence metadata or a magic comment left: {block[:80]!r}")
        lines = cleaned.split("\n")
        # A code block's title line is text as the site shows it (`**ConnectedProps<T> TS example**`).
        titles = {
            n for n in range(len(lines) - 2) if re.fullmatch(r"\*\*.+\*\*", lines[n]) and lines[n + 2][:3] == "```"
        }
        for number, (line, fenced) in enumerate(zip(lines, fence_mask(lines), strict=True)):
            outside_code = "" if number in titles else re.sub(r"`[^`]*`", "", line)
            if not fenced and re.search(r"^:::|:::$|</?[A-Z][\w.]*[\s/>]|^import\s|\{/\*|<!--", outside_code):
                leftovers.append(f"{path}: {line[:100]}")
    assert len(files) > 80
    assert lost_blocks == []
    assert leftovers == []


@pytest.mark.parametrize(
    ("opening", "expected"),
    [
        ('```jsx title="src/App.jsx" {1,3-5} showLineNumbers', "**src/App.jsx**\n\n```jsx"),
        ("```js{2}", "```js"),
        ("```ts showLineNumbers", "```ts"),
        ("```title='notes.txt'", "**notes.txt**\n\n```"),
        ("``` python  {3}", "```python"),
        ("~~~bash", "~~~bash"),
    ],
)
def test_code_fence_metadata_goes_and_the_language_stays(opening: str, expected: str) -> None:
    fence = "~~~" if opening.startswith("~") else "```"
    assert clean_mdx(f"Text.\n\n{opening}\nx = 1\n{fence}\n") == f"Text.\n\n{expected}\nx = 1\n{fence}\n"


def test_docusaurus_magic_comments_go_in_any_comment_syntax() -> None:
    source = (
        "```js\n// highlight-next-line\nconst a = 1\n  // highlight-start\nb()\n// highlight-end\n```\n\n"
        "```python\n# highlight-next-line\nx = 1  # highlight-next-line is only a comment here\n```\n\n"
        "```html\n<!-- highlight-start -->\n<p>Hi</p>\n<!-- highlight-end -->\n```\n\n"
        "```jsx\n{/* highlight-next-line */}\n<App />\n/* error-next-line */\nbad()\n```\n\n"
        "```sql\n-- highlight-next-line\nSELECT 1;\n```\n"
    )
    assert clean_mdx(source) == (
        "```js\nconst a = 1\nb()\n```\n\n"
        "```python\nx = 1  # highlight-next-line is only a comment here\n```\n\n"
        "```html\n<p>Hi</p>\n```\n\n"
        "```jsx\n<App />\nbad()\n```\n\n"
        "```sql\nSELECT 1;\n```\n"
    )


def test_fence_metadata_inside_an_admonition_and_a_list() -> None:
    source = (
        ':::tip\n\n```bash title="install.sh"\n# highlight-next-line\nnpm i\n```\n\n:::\n\n'
        "- Step:\n\n  ```js {1}\n  go()\n  ```\n"
    )
    assert clean_mdx(source) == (
        "> **Tip**\n>\n> **install.sh**\n>\n> ```bash\n> npm i\n> ```\n\n- Step:\n\n  ```js\n  go()\n  ```\n"
    )


def test_a_heading_inside_an_admonition_closes_it_and_starts_a_section() -> None:
    source = (
        ":::note Before you start\n\nInstall the CLI.\n\n## Configure the store\n\n"
        "Call `configureStore`.\n\n:::\n\nAfter.\n"
    )
    cleaned = clean_mdx(source)
    assert cleaned == (
        "> **Note: Before you start**\n>\n> Install the CLI.\n\n"
        "## Configure the store\n\nCall `configureStore`.\n\nAfter.\n"
    )
    sections = split_sections(cleaned)
    assert [s.heading_path[-1] for s in sections if s.heading_path] == ["Configure the store"]
