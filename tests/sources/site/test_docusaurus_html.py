"""The real thing: a Docusaurus 3.10.2 site built from tests/docusaurus_site/, served on 127.0.0.1, scraped.

Pages are found through the served sitemap.xml and fetched with `requests`, as the crawler does.
"""

from __future__ import annotations

import html
import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from bs4 import BeautifulSoup

from docsbot.documents.sections import split_sections
from docsbot.sources.site.html_markdown import ExtractedPage, extract_page
from tests.harness.docusaurus_fixture import (  # noqa: F401 (docusaurus_site is a fixture)
    PLACEHOLDER_ORIGIN,
    SITE_SOURCE,
    DocusaurusSite,
    build_site,
    docusaurus_site,
)

TIMEOUT_S = 10
DOC_PATHS = (
    "/docs/intro",
    "/docs/guides/install",
    "/docs/guides/config",
    "/docs/faq",
    "/docs/1.0/intro",
    "/docs/1.0/guides/install",
)
CATEGORY_PATH = "/docs/category/guides"  # a generated index: cards linking to the category's docs
LOGO = re.compile(r"/assets/images/logo-[0-9a-f]+\.png")

# Every doc page's whole markdown; `{base}` is the served origin and `{logo}` the hashed image path.
EXPECTED = {
    "/docs/intro": """\
Docsbot answers questions from **documentation**. Run `docsbot ingest` first.

![Docsbot logo]({base}{logo})

## Getting started {{#custom-id}}

Install the package, then read the table below.

## Links table {{#links-table}}

| Page | Link | Notes |
| --- | --- | --- |
| Install | [Linux install]({base}/docs/guides/install#linux) | Internal, with an anchor |
| Details | [More details]({base}/docs/intro/#more-details) | Same page |
| Example | [Example site](https://example.com/docs) | External |
| Pipes | `a \\| b` | A pipe in inline code |

## More details {{#more-details}}

See the [configuration guide]({base}/docs/guides/config) for code blocks.
""",
    "/docs/guides/install": """\
> **Tip: Quick start**
>
> Run the installer **now**.

## Package managers {{#package-managers}}

**npm**

```bash
npm install docsbot
```

**Yarn**

With Yarn:

```bash
yarn add docsbot
```

## Linux {{#linux}}

```bash
sudo apt-get install -y nodejs npm
./scripts/system_deps.sh
```

> **Warning**
>
> Do not run the installer twice.

## macOS {{#macos}}

Use Homebrew.
""",
    "/docs/guides/config": """\
## Python client {{#python-client}}

**hello.py**

```python
from docsbot import Client

client = Client("http://localhost")
print(client.ask("How do I install?"))
```

## Settings file {{#settings-file}}

```json
{{
  "collection": "docs",
  "top_k": 5
}}
```

```yaml
collection: docs
top_k: 5
```

A fence inside a code block:

````markdown
```python
print("nested")
```
````

> **Note**
>
> Settings are read at start-up.

> **Danger: Breaking change**
>
> The `top_k` setting was renamed in 2.0.

## Images {{#images}}

A tiny dot:
""",
    "/docs/faq": """\
## Where does the data live? {{#data-location}}

**Show the answer**

In a **local** index under `~/.docsbot`.

## Layers of a request {{#layers-of-a-request}}

- Discord sends an interaction
  1. The bot verifies the signature
     - with `PyNaCl`
     - in constant time
  2. The bot answers
- The answer is posted

## Using `docsbot ask` {{#using-docsbot-ask}}

Ask from the terminal.
""",
    "/docs/1.0/intro": """\
This is the **1.0** documentation. See the [install guide]({base}/docs/1.0/guides/install).

## Old behaviour {{#old-behaviour}}

Version 1.0 used `docsbot-legacy`.
""",
    "/docs/1.0/guides/install": """\
```bash
pip install docsbot==1.0
```

> **Info**
>
> Version 1.0 is no longer maintained.
""",
}
TITLES = {
    "/docs/intro": "Introduction",
    "/docs/guides/install": "Install",
    "/docs/guides/config": "Configuration",
    "/docs/faq": "FAQ",
    "/docs/1.0/intro": "Introduction",
    "/docs/1.0/guides/install": "Install",
}
# Text from the page chrome around the article (navbar, sidebar, breadcrumbs, TOC, banners, footers).
CHROME_TEXT = (
    "Docsbot Test Site",  # navbar title
    "Guides",  # sidebar category and breadcrumb
    "Edit this page",
    "On this page",
    "Version: 2.0",
    "Version: 1.0",
    "Previous",
    "Next",
    "Copy",
    "actively maintained",  # the 1.0 version banner
    "latest version",
    "Footer text that must not be scraped.",
    "Direct link to",
)


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    html: bytes
    page: ExtractedPage


@pytest.fixture(scope="module")
def sitemap_paths(docusaurus_site: DocusaurusSite) -> list[str]:  # noqa: F811 (the imported fixture)
    response = requests.get(f"{docusaurus_site.base_url}/sitemap.xml", timeout=TIMEOUT_S)
    response.raise_for_status()
    locations = [html.unescape(loc).strip() for loc in re.findall(r"<loc>(.*?)</loc>", response.text, re.DOTALL)]
    assert all(location.startswith(docusaurus_site.base_url) for location in locations)
    return [urlsplit(location).path for location in locations]


@pytest.fixture(scope="module")
def pages(docusaurus_site: DocusaurusSite, sitemap_paths: list[str]) -> dict[str, Fetched]:  # noqa: F811
    fetched: dict[str, Fetched] = {}
    with requests.Session() as session:
        for path in sitemap_paths:
            response = session.get(f"{docusaurus_site.base_url}{path}", timeout=TIMEOUT_S)
            response.raise_for_status()
            fetched[path] = Fetched(response.url, response.content, extract_page(response.content, response.url))
    return fetched


def expected_markdown(path: str, base_url: str, markdown: str) -> str:
    logo = LOGO.search(markdown)
    return EXPECTED[path].format(base=base_url, logo=logo.group(0) if logo else "<no logo>")


# --- The site and its server ----------------------------------------------------------------------------


def test_the_sitemap_lists_every_page_of_both_versions(sitemap_paths: list[str]) -> None:
    assert sorted(sitemap_paths) == sorted([*DOC_PATHS, CATEGORY_PATH, "/"])


def test_the_server_behaves_like_a_static_host(docusaurus_site: DocusaurusSite) -> None:  # noqa: F811
    base = docusaurus_site.base_url
    redirect = requests.get(f"{base}/docs/intro", timeout=TIMEOUT_S, allow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "/docs/intro/"
    page = requests.get(f"{base}/docs/intro/", timeout=TIMEOUT_S)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'rel="canonical" href="{base}/docs/intro"' in page.text  # the build-time origin is rewritten
    assert base == PLACEHOLDER_ORIGIN or PLACEHOLDER_ORIGIN not in page.text
    assert requests.get(f"{base}/docs/missing", timeout=TIMEOUT_S).status_code == 404


@pytest.mark.parametrize("raw_path", ["/../../../etc/passwd", "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd"])
def test_the_server_stays_inside_the_build(raw_path: str, docusaurus_site: DocusaurusSite) -> None:  # noqa: F811
    # http.client sends the path as it is (requests would remove the dot segments first).
    parts = urlsplit(docusaurus_site.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", raw_path)
        assert connection.getresponse().status == 404
    finally:
        connection.close()


# --- Every doc page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOC_PATHS)
def test_each_doc_page_becomes_the_expected_markdown(
    path: str,
    pages: dict[str, Fetched],
    docusaurus_site: DocusaurusSite,  # noqa: F811
) -> None:
    page = pages[path].page
    assert page.markdown == expected_markdown(path, docusaurus_site.base_url, page.markdown)
    assert page.title == TITLES[path]
    assert page.canonical_url == f"{docusaurus_site.base_url}{path}"
    assert page.docs_version == ("1.0" if path.startswith("/docs/1.0/") else "current")
    assert page.is_docusaurus and page.has_article
    assert page.description  # every doc has front-matter description


@pytest.mark.parametrize("path", DOC_PATHS)
def test_no_chrome_reaches_the_markdown(path: str, pages: dict[str, Fetched]) -> None:
    markdown = pages[path].page.markdown
    for text in CHROME_TEXT:
        assert text not in markdown, text
    assert "\u200b" not in markdown and "\u00a0" not in markdown
    assert not markdown.startswith("# ")  # the title is separate
    lines = markdown.split("\n")
    assert all(line == line.rstrip() for line in lines) and "\n\n\n" not in markdown and markdown.endswith("\n")


@pytest.mark.parametrize("path", DOC_PATHS)
def test_sections_anchors_are_exactly_the_article_heading_ids(path: str, pages: dict[str, Fetched]) -> None:
    fetched = pages[path]
    soup = BeautifulSoup(fetched.html, "html.parser")
    article = soup.select_one("article div.theme-doc-markdown")
    assert article is not None
    heading_ids = [h["id"] for h in article.select("h2[id], h3[id], h4[id], h5[id], h6[id]")]
    page_ids = {tag["id"] for tag in soup.select("[id]")}
    anchors = [section.anchor for section in split_sections(fetched.page.markdown) if section.anchor]
    assert anchors == heading_ids
    assert set(anchors) <= page_ids


# --- Each feature, with a message that names it ---------------------------------------------------------


def test_table_row_has_absolute_links(pages: dict[str, Fetched], docusaurus_site: DocusaurusSite) -> None:  # noqa: F811
    base = docusaurus_site.base_url
    markdown = pages["/docs/intro"].page.markdown
    assert f"| Install | [Linux install]({base}/docs/guides/install#linux) | Internal, with an anchor |" in markdown
    assert f"| Details | [More details]({base}/docs/intro/#more-details) | Same page |" in markdown
    assert "| Example | [Example site](https://example.com/docs) | External |" in markdown


def test_code_blocks_in_three_languages(pages: dict[str, Fetched]) -> None:
    config = pages["/docs/guides/config"].page.markdown
    install = pages["/docs/guides/install"].page.markdown
    assert (
        '**hello.py**\n\n```python\nfrom docsbot import Client\n\nclient = Client("http://localhost")\n'
        'print(client.ask("How do I install?"))\n```' in config
    )
    assert '```json\n{\n  "collection": "docs",\n  "top_k": 5\n}\n```' in config
    assert "```yaml\ncollection: docs\ntop_k: 5\n```" in config
    assert "```bash\nsudo apt-get install -y nodejs npm\n./scripts/system_deps.sh\n```" in install


def test_admonitions_tabs_details_and_nested_lists(pages: dict[str, Fetched]) -> None:
    install = pages["/docs/guides/install"].page.markdown
    config = pages["/docs/guides/config"].page.markdown
    faq = pages["/docs/faq"].page.markdown
    assert "> **Tip: Quick start**\n>\n> Run the installer **now**." in install
    assert "> **Warning**\n>\n> Do not run the installer twice." in install
    assert "> **Note**\n>\n> Settings are read at start-up." in config
    assert "> **Danger: Breaking change**\n>\n> The `top_k` setting was renamed in 2.0." in config
    assert (
        "**npm**\n\n```bash\nnpm install docsbot\n```\n\n**Yarn**\n\nWith Yarn:\n\n```bash\nyarn add docsbot\n```"
        in install
    )
    assert "**Show the answer**\n\nIn a **local** index under `~/.docsbot`." in faq
    assert "- Discord sends an interaction\n  1. The bot verifies the signature\n     - with `PyNaCl`\n" in faq


def test_the_image_is_absolute_and_served_and_data_uris_are_gone(
    pages: dict[str, Fetched],
    docusaurus_site: DocusaurusSite,  # noqa: F811
) -> None:
    intro = pages["/docs/intro"].page.markdown
    image = re.search(r"!\[Docsbot logo\]\((?P<url>[^)]+)\)", intro)
    assert image is not None and LOGO.fullmatch(image.group("url").removeprefix(docusaurus_site.base_url))
    served = requests.get(image.group("url"), timeout=TIMEOUT_S)
    assert served.content == (SITE_SOURCE / "static" / "img" / "logo.png").read_bytes()
    assert b"data:image/png;base64" in pages["/docs/guides/config"].html  # the page really has inline images
    for fetched in pages.values():
        assert "data:" not in fetched.page.markdown and "base64" not in fetched.page.markdown


def test_the_homepage_uses_the_generic_fallback(pages: dict[str, Fetched], docusaurus_site: DocusaurusSite) -> None:  # noqa: F811
    page = pages["/"].page
    assert page.title == "Docsbot test site"
    assert (
        page.markdown
        == f"A small site for docsbot's tests. Start with the [introduction]({docusaurus_site.base_url}/docs/intro).\n"
    )
    assert page.docs_version is None and page.is_docusaurus


def test_a_generated_category_index_lists_its_cards(
    pages: dict[str, Fetched],
    docusaurus_site: DocusaurusSite,  # noqa: F811
) -> None:
    base = docusaurus_site.base_url
    page = pages[CATEGORY_PATH].page
    assert page.title == "Guides" and page.docs_version == "current"
    assert page.markdown == (
        "Guides for installing and configuring docsbot.\n\n"
        f"[Install]({base}/docs/guides/install): Installing docsbot with your package manager.\n\n"
        f"[Configuration]({base}/docs/guides/config): Configuring docsbot, with code in several languages.\n"
    )
