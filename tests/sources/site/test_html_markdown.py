"""HTML → markdown on small pages shaped like Docusaurus 3 output (and a few other docs sites)."""

from __future__ import annotations

import re

import pytest

from docsbot.documents.anchors import fence_mask
from docsbot.documents.sections import split_sections
from docsbot.sources.site.html_markdown import ExtractedPage, extract_page

URL = "https://docs.example.com/docs/guides/install"

# The chrome of a Docusaurus 3 doc page, each piece with text that must not reach the markdown.
CHROME_TEXT = (
    "Navbar brand",
    "Sidebar link",
    "Unreleased banner",
    "Breadcrumb crumb",
    "Version: 2.0",
    "On this page",
    "TOC entry",
    "Edit this page",
    "Last updated on",
    "Pagination label",
    "Footer copyright",
)


def docusaurus_page(body: str, *, title: str = "Install", version: str = "current") -> str:
    """A Docusaurus 3 doc page (as built) around `body`, the inside of `div.theme-doc-markdown`."""
    return f"""<!doctype html>
<html lang="en" dir="ltr" class="docs-wrapper plugin-docs docs-version-{version} docs-doc-page">
<head>
<meta charset="UTF-8">
<meta name="generator" content="Docusaurus v3.10.2">
<title data-rh="true">{title} | Test Site</title>
<meta data-rh="true" name="docusaurus_version" content="{version}">
<meta data-rh="true" name="description" content="How to  install.">
<link data-rh="true" rel="canonical" href="/docs/guides/install">
</head>
<body>
<nav class="navbar"><a class="navbar__brand" href="/"><b>Navbar brand</b></a></nav>
<div class="main-wrapper"><div class="docsWrapper_hBAB">
<aside class="theme-doc-sidebar-container"><nav class="menu"><a class="menu__link" href="/docs/x">Sidebar link</a>
</nav></aside>
<main class="docMainContainer_TBSr"><div class="container"><div class="row"><div class="col docItemCol_VOVn">
<div class="theme-doc-version-banner alert alert--warning" role="alert">Unreleased banner</div>
<div class="docItemContainer_Djhp"><article>
<nav class="theme-doc-breadcrumbs"><ul class="breadcrumbs"><li><span>Breadcrumb crumb</span></li></ul></nav>
<span class="theme-doc-version-badge badge badge--secondary">Version: 2.0</span>
<div class="theme-doc-toc-mobile"><button type="button" class="clean-btn">On this page</button></div>
<div class="theme-doc-markdown markdown"><header><h1>{title}</h1></header>
{body}
</div>
<footer class="theme-doc-footer docusaurus-mt-lg"><div class="row">
<a href="https://example.com/edit/install.md" class="theme-edit-this-page">Edit this page</a>
<span class="theme-last-updated">Last updated on <b>Jan 1, 2026</b></span></div></footer>
</article>
<nav class="pagination-nav"><a class="pagination-nav__link" href="/docs/next">
<div class="pagination-nav__sublabel">Next</div><div class="pagination-nav__label">Pagination label</div></a></nav>
</div></div><div class="col col--3"><div class="tableOfContents_bqdL theme-doc-toc-desktop">
<ul class="table-of-contents"><li><a href="#linux" class="table-of-contents__link">TOC entry</a></li></ul>
</div></div></div></div></main></div></div>
<footer class="footer"><div class="footer__copyright">Footer copyright</div></footer>
</body>
</html>"""


def extract(body: str, **page_options: str) -> ExtractedPage:
    page = extract_page(docusaurus_page(body, **page_options), URL)
    assert_tidy(page.markdown)
    return page


def assert_tidy(markdown: str) -> None:
    """No trailing spaces, no run of blank lines outside code, one final newline, no NBSP or ZWSP."""
    if not markdown:
        return
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")
    lines = markdown.split("\n")
    assert all(line == line.rstrip() for line in lines)
    in_fence = fence_mask(lines)
    for index in range(1, len(lines)):
        both_blank = not lines[index].strip() and not lines[index - 1].strip()
        assert not (both_blank and not in_fence[index]), markdown
    assert "\u00a0" not in markdown and "\u200b" not in markdown


# --- Main content and metadata --------------------------------------------------------------------------


def test_docusaurus_chrome_is_dropped_and_metadata_is_read() -> None:
    page = extract("<p>Install the <strong>package</strong>.</p>")
    assert page.markdown == "Install the **package**.\n"
    assert page.title == "Install"
    assert page.description == "How to install."
    assert page.canonical_url == "https://docs.example.com/docs/guides/install"
    assert page.docs_version == "current"
    assert page.is_docusaurus is True
    assert page.has_article is True


def test_no_chrome_text_reaches_the_markdown() -> None:
    page = extract('<p>Body text.</p><h2 class="anchor" id="linux">Linux</h2><p>More.</p>')
    for text in CHROME_TEXT:
        assert text not in page.markdown


def test_docs_version_comes_from_the_html_class_without_the_meta() -> None:
    html = docusaurus_page("<p>Old.</p>", version="1.0").replace('name="docusaurus_version"', 'name="other"')
    assert extract_page(html, URL).docs_version == "1.0"


def test_a_page_that_is_not_a_docs_page_has_no_docs_version() -> None:
    html = "<html><head><title>Blog</title></head><body><main><p>Post.</p></main></body></html>"
    page = extract_page(html, URL)
    assert page.docs_version is None
    assert page.is_docusaurus is False


# --- Headings -------------------------------------------------------------------------------------------


HEADINGS = (
    '<p>Lead.</p>\n<h2 class="anchor anchorTargetStickyNavbar_Vzrq" id="custom-id">Getting started'
    '<a href="#custom-id" class="hash-link" aria-label="Direct link to Getting started" translate="no">\u200b</a>'
    "</h2>\n<p>One.</p>\n"
    '<h3 class="anchor" id="using-docsbot-ask">Using <code>docsbot ask</code>'
    '<a href="#using-docsbot-ask" class="hash-link">\u200b</a></h3>\n<p>Two.</p>\n'
    "<h2>No id here</h2>\n<p>Three.</p>\n"
)


def test_headings_keep_their_ids_and_lose_hash_links() -> None:
    page = extract(HEADINGS)
    assert page.markdown == (
        "Lead.\n\n"
        "## Getting started {#custom-id}\n\nOne.\n\n"
        "### Using `docsbot ask` {#using-docsbot-ask}\n\nTwo.\n\n"
        "## No id here\n\nThree.\n"
    )
    assert "#" not in page.markdown.split("\n")[0]  # no leading H1: the title is separate


def test_headings_split_into_sections_with_the_page_anchors() -> None:
    sections = split_sections(extract(HEADINGS).markdown)
    assert [(s.anchor, s.heading_path, s.markdown) for s in sections] == [
        ("", (), "Lead."),
        ("custom-id", ("Getting started",), "One."),
        ("using-docsbot-ask", ("Getting started", "Using docsbot ask"), "Two."),
        ("no-id-here", ("No id here",), "Three."),
    ]


def test_an_id_that_markdown_cannot_carry_is_left_out() -> None:
    page = extract('<h2 id="a.b c">Dotted</h2><p>x</p>')
    assert page.markdown == "## Dotted\n\nx\n"


# --- Tables ---------------------------------------------------------------------------------------------


def test_tables_become_gfm_with_absolute_links_escaped_pipes_and_one_line_cells() -> None:
    page = extract(
        "<table><thead><tr><th>Page</th><th>Link</th></tr></thead><tbody>"
        '<tr><td>Install</td><td><a class="" href="/docs/guides/install#linux">Linux <em>install</em></a></td></tr>'
        '<tr><td>Same page</td><td><a href="#more">More</a></td></tr>'
        '<tr><td>Relative</td><td><a href="../intro">Intro</a></td></tr>'
        '<tr><td>External</td><td><a href="https://example.com/x" target="_blank" rel="noopener">Ex</a></td></tr>'
        "<tr><td>Pipes</td><td><code>a | b</code> or c|d</td></tr>"
        "<tr><td><p>Two</p><p>paragraphs</p></td><td>line<br>break</td></tr>"
        "</tbody></table>"
    )
    assert page.markdown == (
        "| Page | Link |\n"
        "| --- | --- |\n"
        "| Install | [Linux *install*](https://docs.example.com/docs/guides/install#linux) |\n"
        "| Same page | [More](https://docs.example.com/docs/guides/install#more) |\n"
        "| Relative | [Intro](https://docs.example.com/docs/intro) |\n"
        "| External | [Ex](https://example.com/x) |\n"
        "| Pipes | `a \\| b` or c\\|d |\n"
        "| Two paragraphs | line break |\n"
    )


# --- Code -----------------------------------------------------------------------------------------------


def docusaurus_code_block(language: str, lines: list[str], *, title: str = "", numbered: bool = False) -> str:
    """A code block as Docusaurus 3 renders it (after hydration, so with its Copy button)."""
    title_html = f'<div class="codeBlockTitle_OeMC">{title}</div>' if title else ""
    number = '<span class="codeLineNumber_Tfdd">7</span>' if numbered else ""
    rendered = "".join(
        f'<div class="token-line" style="color:#393A34">{number}<span class="codeLineContent_feaV">'
        f'<span class="token plain">{line}</span></span><br></div>'
        for line in lines
    )
    return (
        f'<div class="language-{language} codeBlockContainer_Ckt0 theme-code-block">{title_html}'
        f'<div class="codeBlockContent_QJqH"><pre tabindex="0" class="prism-code language-{language} codeBlock_bY9V">'
        f'<code class="codeBlockLines_e6Vv">{rendered}</code></pre>'
        '<div class="buttonGroup__atx"><button type="button" aria-label="Copy code to clipboard" title="Copy" '
        'class="clean-btn"><span class="copyButtonIcons_eSgA">Copy</span></button></div></div></div>'
    )


def test_code_blocks_keep_language_lines_and_title_and_lose_line_numbers_and_copy() -> None:
    lines = [
        '<span class="token keyword">from</span> docsbot <span class="token keyword">import</span> Client',
        "",
        "client = Client(&quot;http://localhost&quot;)",
        "    print(client)",
    ]
    page = extract(docusaurus_code_block("python", lines, title="hello.py", numbered=True))
    assert page.markdown == (
        '**hello.py**\n\n```python\nfrom docsbot import Client\n\nclient = Client("http://localhost")\n'
        "    print(client)\n```\n"
    )
    assert "Copy" not in page.markdown and "7" not in page.markdown


def test_code_fences_are_longer_than_any_backtick_run_in_the_code() -> None:
    page = extract(docusaurus_code_block("markdown", ["```python", 'print("nested")', "```"]))
    assert page.markdown == '````markdown\n```python\nprint("nested")\n```\n````\n'


def test_plain_pre_blocks_from_other_sites() -> None:
    html = (
        '<html><body><main><h1>T</h1><pre><code class="language-js">let a = 1;\nlet b = 2;\n</code></pre>'
        '<div class="highlight-python"><div class="highlight"><pre>x = 1<br>y = 2</pre></div></div>'
        "<pre>no language</pre></main></body></html>"
    )
    page = extract_page(html, URL)
    assert page.markdown == (
        "```js\nlet a = 1;\nlet b = 2;\n```\n\n```python\nx = 1\ny = 2\n```\n\n```\nno language\n```\n"
    )


def test_inline_code_keeps_backticks_and_markup_characters_stay_literal() -> None:
    page = extract("<p>Run <code>npm i *</code> in <code>my_dir</code>, not 2 * 3 or _private or snake_case.</p>")
    assert page.markdown == r"Run `npm i *` in `my_dir`, not 2 \* 3 or \_private or snake_case." + "\n"


def test_text_that_would_read_as_markup_at_a_line_start_is_escaped() -> None:
    page = extract("<p># not a heading<br>- not a list<br>1. not a list either</p>")
    assert page.markdown == "\\# not a heading\n\\- not a list\n1\\. not a list either\n"
    assert [s.anchor for s in split_sections(page.markdown)] == [""]


# --- Admonitions, tabs, details, lists ------------------------------------------------------------------


def admonition(kind: str, heading: str, content: str) -> str:
    return (
        f'<div class="theme-admonition theme-admonition-{kind} admonition_xJq3 alert alert--success">'
        '<div class="admonitionHeading_Gvgb"><span class="admonitionIcon_Rf37"><svg viewBox="0 0 12 16">'
        f'<path d="M6.5 0"></path></svg></span>{heading}</div>'
        f'<div class="admonitionContent_BuS1">{content}</div></div>'
    )


def test_admonitions_become_labelled_blockquotes() -> None:
    page = extract(
        admonition("tip", "Quick start", "<p>Do this <strong>now</strong>.</p>")
        + admonition("warning", "warning", "<p>First.</p><ul><li>a</li><li>b</li></ul>")
        + admonition("danger", "Breaking change", docusaurus_code_block("bash", ["rm -rf build"]))
    )
    assert page.markdown == (
        "> **Tip: Quick start**\n>\n> Do this **now**.\n\n"
        "> **Warning**\n>\n> First.\n>\n> - a\n> - b\n\n"
        "> **Danger: Breaking change**\n>\n> ```bash\n> rm -rf build\n> ```\n"
    )


def test_nested_admonitions_are_flattened_into_one_quote() -> None:
    inner = admonition("note", "note", "<p>Inner.</p>")
    page = extract(admonition("info", "Outer", f"<p>Outer text.</p>{inner}"))
    assert page.markdown == "> **Info: Outer**\n>\n> Outer text.\n>\n> **Note**\n>\n> Inner.\n"


def test_other_sites_admonitions_are_quoted_too() -> None:
    html = (
        '<html><body><main><div class="admonition warning"><p class="admonition-title">Careful</p>'
        "<p>Body.</p></div></main></body></html>"
    )
    assert extract_page(html, URL).markdown == "> **Warning: Careful**\n>\n> Body.\n"


def tabs(items: list[tuple[str, str]]) -> str:
    labels = "".join(
        f'<li role="tab" tabindex="0" aria-selected="{index == 0}" class="tabs__item">{label}</li>'
        for index, (label, _) in enumerate(items)
    )
    panels = "".join(
        f'<div role="tabpanel" class="tabItem_Ymn6"{" hidden" if index else ""}>{content}</div>'
        for index, (_, content) in enumerate(items)
    )
    return (
        f'<div class="theme-tabs-container tabs-container tabList__CuJ"><ul role="tablist" class="tabs">{labels}</ul>'
        f'<div class="margin-top--md">{panels}</div></div>'
    )


def test_tabs_become_labelled_parts_including_hidden_panels() -> None:
    page = extract(
        tabs(
            [
                ("npm", docusaurus_code_block("bash", ["npm install docsbot"])),
                ("Yarn", "<p>With Yarn:</p>" + docusaurus_code_block("bash", ["yarn add docsbot"])),
            ]
        )
    )
    assert page.markdown == (
        "**npm**\n\n```bash\nnpm install docsbot\n```\n\n**Yarn**\n\nWith Yarn:\n\n```bash\nyarn add docsbot\n```\n"
    )


def test_nested_tabs_are_not_repeated() -> None:
    inner = tabs([("macOS", "<p>brew</p>"), ("Linux", "<p>apt</p>")])
    page = extract(tabs([("Desktop", inner), ("Server", "<p>docker</p>")]))
    assert page.markdown == ("**Desktop**\n\n**macOS**\n\nbrew\n\n**Linux**\n\napt\n\n**Server**\n\ndocker\n")


def test_details_become_a_bold_summary_line_and_the_content() -> None:
    page = extract(
        '<details class="details_lb9f alert alert--info" data-collapsed="true"><summary>Show <b>the</b> answer'
        '</summary><div><div class="collapsibleContent_i85q"><p>In a <strong>local</strong> index.</p></div></div>'
        "</details><p>After.</p>"
    )
    assert page.markdown == "**Show the answer**\n\nIn a **local** index.\n\nAfter.\n"


def test_nested_lists_are_indented_and_numbered() -> None:
    page = extract(
        "<ul><li>Discord sends an interaction<!-- -->\n<ol><li>The bot verifies<!-- -->\n"
        "<ul><li>with <code>PyNaCl</code></li><li>in constant time</li></ul></li>"
        "<li>The bot answers</li></ol></li><li>The answer is posted</li></ul>"
        '<ol start="9"><li>nine</li><li>ten<ol><li>inner</li></ol></li></ol>'
    )
    assert page.markdown == (
        "- Discord sends an interaction\n"
        "  1. The bot verifies\n"
        "     - with `PyNaCl`\n"
        "     - in constant time\n"
        "  2. The bot answers\n"
        "- The answer is posted\n"
        "\n"
        "9. nine\n"
        "10. ten\n"
        "    1. inner\n"
    )


# --- Links and images -----------------------------------------------------------------------------------


def test_images_get_absolute_urls_and_data_uris_are_dropped() -> None:
    page = extract(
        '<p><img decoding="async" loading="lazy" alt="Docsbot logo" src="/assets/images/logo-e080.png"></p>'
        '<p>A dot: <img alt="Red dot" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="> done.</p>'
        '<p><img alt="" src=" DATA:image/gif;base64,R0lGODlh"></p>'
    )
    assert page.markdown == ("![Docsbot logo](https://docs.example.com/assets/images/logo-e080.png)\n\nA dot: done.\n")
    assert "base64" not in page.markdown and "data:" not in page.markdown.lower()


def test_links_are_absolute_and_scripts_are_not_links() -> None:
    html = (
        '<html><head><base href="https://cdn.example.com/base/"></head><body><main><h1>T</h1>'
        '<p><a href="page">rel</a> <a href="#top">top</a> <a href="javascript:void(0)">js</a> '
        '<a href="mailto:a@example.com">mail</a> <a href="/a b(c)">odd</a> <a href="#">hash</a></p>'
        "</main></body></html>"
    )
    assert extract_page(html, URL).markdown == (
        "[rel](https://cdn.example.com/base/page) [top](https://cdn.example.com/base/#top) js "
        "[mail](mailto:a@example.com) [odd](https://cdn.example.com/a%20b%28c%29) hash\n"
    )


# --- Other sites and JavaScript shells ------------------------------------------------------------------


def test_generic_sites_use_main_and_its_first_h1_as_title() -> None:
    html = (
        "<html><head><title>Guide - Other Docs</title></head><body>"
        "<header><a href='/'>Site header</a></header><nav>Top nav</nav>"
        "<main><nav class='crumbs'>Crumbs</nav><h1>Guide</h1><p>Welcome.</p>"
        "<h2 id='setup'>Setup</h2><p>Steps.</p><aside>Side note nav</aside></main>"
        "<footer>Site footer</footer><script>var x = 1;</script></body></html>"
    )
    page = extract_page(html, URL)
    assert page.title == "Guide"
    assert page.markdown == "Welcome.\n\n## Setup {#setup}\n\nSteps.\n"
    assert page.has_article and not page.is_docusaurus


def test_generic_sites_without_main_use_the_body_minus_its_chrome() -> None:
    html = (
        "<html><head><title>Reference | Other Docs</title><style>p {}</style></head><body>"
        "<header>Site header</header><nav>Top nav</nav><div class='content'><p>Body text.</p></div>"
        "<aside>Sidebar</aside><footer>Site footer</footer><script>var x = 1;</script></body></html>"
    )
    page = extract_page(html, URL)
    assert page.title == "Reference"  # from <title>, without the " | Site" suffix
    assert page.markdown == "Body text.\n"


def test_sphinx_sections_give_their_id_to_their_heading() -> None:
    html = (
        '<html><body><div role="main"><section id="guide"><h1>Guide<a class="headerlink" href="#guide">¶</a></h1>'
        '<section id="install"><h2>Install<a class="headerlink" href="#install">¶</a></h2><p>Run it.</p>'
        "<ul><li><input type='checkbox' checked> done</li><li><input type='checkbox'> to do</li></ul>"
        "</section></section></div></body></html>"
    )
    page = extract_page(html, URL)
    assert page.title == "Guide"
    assert page.markdown == "## Install {#install}\n\nRun it.\n\n- [x] done\n- [ ] to do\n"


def test_an_article_header_keeps_its_lead_but_not_its_title() -> None:
    html = (
        "<html><body><header class='site'>Site header</header><main><article><header><h1>Guide</h1>"
        "<p>The lead.</p></header><p>Body.</p></article></main></body></html>"
    )
    page = extract_page(html, URL)
    assert (page.title, page.markdown) == ("Guide", "The lead.\n\nBody.\n")


def test_docusaurus_category_cards_become_links_with_their_description() -> None:
    card = (
        '<article class="col col--6"><a class="card padding--lg theme-doc-card-container cardContainer_KhuF" '
        'href="/docs/guides/install"><h2 class="theme-doc-card-heading cardTitle_mcqP" title="Install">'
        '<span class="theme-doc-card-icon cardTitleIcon_GcdP">📄️</span>'
        '<span class="text--truncate theme-doc-card-title cardTitleText_nuEl">Install</span></h2>'
        '<p class="text--truncate theme-doc-card-description cardDescription_L2fP">How to install.</p></a></article>'
    )
    html = (
        f'<html><body><main><header><h1>Guides</h1></header><section class="row">{card}</section></main></body></html>'
    )
    page = extract_page(html, URL)
    assert page.markdown == "[Install](https://docs.example.com/docs/guides/install): How to install.\n"


def test_a_javascript_shell_has_no_article() -> None:
    html = (
        '<!doctype html><html><head><title>App</title><script src="/main.js"></script></head>'
        '<body><noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>'
        "<script>window.boot()</script></body></html>"
    )
    page = extract_page(html, URL)
    assert page.has_article is False
    assert page.markdown == ""
    assert page.title == "App"


def test_a_page_with_a_title_and_no_article_is_not_a_javascript_page() -> None:
    # A category page whose Docusaurus article holds only its heading: nothing to render, nothing to index.
    html = (
        "<!doctype html><html><head><title>Guides | Site</title></head><body><main><article>"
        '<div class="theme-doc-markdown markdown"><header><h1>Guides</h1></header></div></article></main></body></html>'
    )
    page = extract_page(html, URL)
    assert page.has_article is True
    assert (page.title, page.markdown) == ("Guides", "")


@pytest.mark.parametrize("empty", ["", b"", "   ", b"\xef\xbb\xbf"])
def test_empty_input_gives_an_empty_page(empty: str | bytes) -> None:
    page = extract_page(empty, URL)
    assert page == ExtractedPage(title="", markdown="", has_article=False)


# --- Encodings and characters ---------------------------------------------------------------------------


def test_bytes_are_decoded_by_their_meta_charset() -> None:
    html = '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body><main><p>Caf\xe9 “ok”</p>'
    page = extract_page(html.encode("cp1252") + b"</main></body></html>", URL)
    assert page.title == "Café"
    assert page.markdown == "Café “ok”\n"


def test_an_http_equiv_latin1_declaration_reads_as_windows_1252() -> None:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    html = f"<html><head>{head}</head><body><main><p>€ 5</p></main></body></html>"
    page = extract_page(html.encode("cp1252"), URL)  # byte 0x80: a control character in real ISO-8859-1
    assert page.markdown == "€ 5\n"


def test_undeclared_bytes_are_utf8_with_replacement() -> None:
    page = extract_page("<main><p>naïve ".encode() + b"\xff\xfe bytes</p></main>", URL)
    assert page.markdown == "naïve \ufffd\ufffd bytes\n"


def test_a_bom_wins_and_nbsp_and_invisible_characters_are_normalised() -> None:
    html = "<main><p>a&nbsp;b\u00a0c\u200bd&shy;e</p></main>"
    assert extract_page(b"\xef\xbb\xbf" + html.encode(), URL).markdown == "a b cde\n"
    assert extract_page(html.encode("utf-16"), URL).markdown == "a b cde\n"


# --- Robustness -----------------------------------------------------------------------------------------


def test_large_pages_convert_completely() -> None:
    """20,000 list items and a 5,000-row table convert whole (how the time grows with size is a benchmark row:
    `python -m bench html-markdown`; no test measures durations)."""
    items = "".join(f"<li>item {n}</li>" for n in range(20_000))
    rows = "".join(f"<tr><td>{n}</td><td><a href='/r/{n}'>row</a></td></tr>" for n in range(5_000))
    page = extract(f"<ol>{items}</ol><table><tr><th>n</th><th>link</th></tr>{rows}</table>")
    lines = page.markdown.split("\n")
    assert lines[0] == "1. item 0" and lines[19_999] == "20000. item 19999"
    assert "| 4999 | [row](https://docs.example.com/r/4999) |" in lines


def test_absurdly_deep_markup_still_gives_its_text() -> None:
    html = "<main>" + "<div>" * 5_000 + "<p>deep text</p>" + "</div>" * 5_000 + "</main>"
    page = extract_page(html, URL)
    assert page.markdown == "deep text\n"


def test_every_heading_and_code_line_survives_a_mixed_page() -> None:
    page = extract(
        HEADINGS + admonition("tip", "tip", "<p>x</p>") + docusaurus_code_block("json", ["{", '  "a": 1', "}"])
    )
    assert re.findall(r"\{#([\w-]+)\}", page.markdown) == ["custom-id", "using-docsbot-ask"]
    assert '```json\n{\n  "a": 1\n}\n```' in page.markdown


# --- Defects found crawling real Docusaurus 3, MkDocs Material and Sphinx + Furo sites ---------------------


def test_a_video_is_an_absolute_link_named_by_its_file_or_title() -> None:
    page = extract(
        '<p>Watch:</p><video controls="" width="100%"><source src="/docs/img/event-triggers.webm" type="video/webm">'
        "</video>"
        '<video src="clips/setup%20demo.mp4" title="Setting up" controls></video>'
    )
    assert page.markdown == (
        "Watch:\n\n"
        "[event-triggers.webm](https://docs.example.com/docs/img/event-triggers.webm)\n\n"
        "[Setting up](https://docs.example.com/docs/guides/clips/setup%20demo.mp4)\n"
    )


def test_a_card_link_has_no_heading_markup_in_its_text() -> None:
    page = extract(
        '<div class="cards"><a class="card" href="/docs/databases/postgres/">'
        '<h5 id="postgres--compatible">Postgres &amp; Compatible</h5></a>'
        '<a class="card" href="/docs/databases/mysql/"><div><h4>MySQL</h4><p>Fast.</p></div></a></div>'
    )
    assert page.markdown == (
        "[Postgres & Compatible](https://docs.example.com/docs/databases/postgres/) "
        "[MySQL Fast.](https://docs.example.com/docs/databases/mysql/)\n"
    )


def test_a_heading_inside_an_admonition_closes_the_quote_and_starts_a_section() -> None:
    page = extract(
        admonition(
            "note",
            "Before you start",
            '<p>Read this.</p><h2 id="requirements">Requirements</h2><p>Node 20.</p>'
            '<h3 id="optional">Optional</h3><p>Yarn.</p>',
        )
    )
    assert page.markdown == (
        "> **Note: Before you start**\n>\n> Read this.\n\n## Requirements {#requirements}\n\n> Node 20.\n\n"
        "### Optional {#optional}\n\n> Yarn.\n"
    )
    sections = split_sections(page.markdown)
    assert [(s.anchor, s.markdown) for s in sections] == [
        ("", "> **Note: Before you start**\n>\n> Read this."),
        ("requirements", "> Node 20."),
        ("optional", "> Yarn."),
    ]


def test_square_brackets_in_text_never_read_as_a_link() -> None:
    page = extract("<p>Call name[type parameters](parameters) or a[0] here.</p>")
    assert page.markdown == "Call name\\[type parameters\\](parameters) or a\\[0\\] here.\n"
    assert "[" not in re.sub(r"\\[\[\]]", "", page.markdown)


def test_a_sphinx_label_target_before_a_heading_does_not_take_its_anchor() -> None:
    html = (
        '<html><body><div role="main"><section id="guide"><h1>Guide</h1>'
        '<span id="install-label"></span><section id="install"><span id="another-label"></span>'
        '<h2>Install<a class="headerlink" href="#install">¶</a></h2><p>Run it.</p></section>'
        '<div class="section" id="old-style"><span id="old-label"></span><h2>Old style</h2><p>Text.</p></div>'
        "</section></div></body></html>"
    )
    page = extract_page(html, URL)
    assert page.markdown == "## Install {#install}\n\nRun it.\n\n## Old style {#old-style}\n\nText.\n"


def test_sphinx_footnotes_are_content_not_chrome() -> None:
    html = (
        '<html><body><aside class="sidebar-drawer">Site navigation</aside><div role="main">'
        "<section id='page'><h1>Page</h1><p>A claim"
        '<a class="footnote-reference brackets" href="#f1" id="id1" role="doc-noteref">'
        '<span class="fn-bracket">[</span>1<span class="fn-bracket">]</span></a>.</p>'
        '<aside class="footnote-list brackets"><aside class="footnote brackets" id="f1" role="doc-footnote">'
        '<span class="label"><span class="fn-bracket">[</span><a role="doc-backlink" href="#id1">1</a>'
        '<span class="fn-bracket">]</span></span><p>The source of the claim.</p></aside></aside>'
        "</section></div></body></html>"
    )
    page = extract_page(html, URL)
    assert "Site navigation" not in page.markdown
    assert f"A claim[\\[1\\]]({URL}#f1)." in page.markdown
    assert "The source of the claim." in page.markdown
