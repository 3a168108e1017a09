"""Doc file -> public URL, as Docusaurus routes it: citations must point at pages that exist."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest

from docsbot.sources.docusaurus_routes import docusaurus_url, is_category_index, strip_number_prefix

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
BASE = "https://example.com/docs/"


@pytest.mark.parametrize(
    ("name", "stripped"),
    [
        ("01-intro", "intro"),
        ("2-guides", "guides"),
        ("003 - spaced", "spaced"),
        ("10_under", "under"),
        ("intro", "intro"),
        ("2021-01-01-release", "2021-01-01-release"),  # dates are not number prefixes
        ("1.2-notes", "1.2-notes"),  # nor are versions
    ],
)
def test_strip_number_prefix(name: str, stripped: str) -> None:
    assert strip_number_prefix(name) == stripped


@pytest.mark.parametrize(
    ("path", "front_matter", "url"),
    [
        ("intro.md", {}, "https://example.com/docs/intro"),
        ("01-basics/02-install.mdx", {}, "https://example.com/docs/basics/install"),
        ("guides/index.md", {}, "https://example.com/docs/guides/"),
        ("guides/README.md", {}, "https://example.com/docs/guides/"),
        ("guides/readme.mdx", {}, "https://example.com/docs/guides/"),
        ("guides/guides.md", {}, "https://example.com/docs/guides/"),
        ("2-guides/2-guides.md", {}, "https://example.com/docs/guides/"),
        ("index.md", {}, "https://example.com/docs/"),
        ("faq/CodeStructure.md", {"id": "code-structure"}, "https://example.com/docs/faq/code-structure"),
        # A category index keeps its folder URL even with an id.
        ("introduction/README.md", {"id": "introduction"}, "https://example.com/docs/introduction/"),
        ("a/b/page.md", {"slug": "/elsewhere/page"}, "https://example.com/docs/elsewhere/page"),
        ("a/b/page.md", {"slug": "renamed"}, "https://example.com/docs/a/b/renamed"),
        ("a/b/page.md", {"slug": "../up"}, "https://example.com/docs/a/up"),
        ("a/b/page.md", {"slug": "./"}, "https://example.com/docs/a/b/"),
        ("tutorials/index.md", {"slug": "index"}, "https://example.com/docs/tutorials/index"),
        ("a/page.md", {"slug": "/"}, "https://example.com/docs/"),
        ("a/page.md", {"id": "other", "slug": "/fixed"}, "https://example.com/docs/fixed"),
        ("my folder/my page.md", {}, "https://example.com/docs/my%20folder/my%20page"),
        ("a\\windows\\page.md", {}, "https://example.com/docs/a/windows/page"),
    ],
)
def test_docusaurus_url_rules(path: str, front_matter: dict[str, object], url: str) -> None:
    assert docusaurus_url(path, front_matter, BASE) == url


def test_docs_base_url_without_trailing_slash_and_site_root() -> None:
    assert docusaurus_url("a/page.md", {}, "https://example.com/docs") == "https://example.com/docs/a/page"
    assert docusaurus_url("api/Store.md", {"id": "store"}, "https://redux.js.org/") == "https://redux.js.org/api/store"


def test_trailing_slash_setting() -> None:
    assert docusaurus_url("a/page.md", {}, BASE, trailing_slash=True) == "https://example.com/docs/a/page/"
    assert docusaurus_url("a/index.md", {}, BASE, trailing_slash=False) == "https://example.com/docs/a"
    assert docusaurus_url("index.md", {}, BASE, trailing_slash=False) == "https://example.com/docs/"
    assert docusaurus_url("a/index.md", {}, BASE, trailing_slash=None) == "https://example.com/docs/a/"


def test_is_category_index() -> None:
    assert is_category_index("usage/index.md")
    assert is_category_index("style-guide/style-guide.md")
    assert is_category_index("README.md")
    assert not is_category_index("usage/usage-index.md")


def _mismatches(corpus: str, docs_base_url: str, trailing_slash: bool | None) -> tuple[int, list[tuple[str, str, str]]]:
    """(number of pages, [(path, derived URL, real URL) for every page whose URL is derived wrongly])."""
    root = CORPORA / corpus
    if not (root / "urls.tsv").is_file():
        pytest.skip(f"the {corpus} corpus is not at {root}")
    rows = [line.split("\t") for line in (root / "urls.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    mismatches: list[tuple[str, str, str]] = []
    for relative_path, expected in rows:
        front_matter = frontmatter.loads((root / relative_path).read_text(encoding="utf-8")).metadata
        derived = docusaurus_url(relative_path, front_matter, docs_base_url, trailing_slash=trailing_slash)
        if derived != expected:
            mismatches.append((relative_path, derived, expected))
    return len(rows), mismatches


def test_every_redux_url_is_derived_from_front_matter() -> None:
    # redux.js.org: routeBasePath '/', trailingSlash unset. 85 of 85 match.
    total, mismatches = _mismatches("redux-docs", "https://redux.js.org/", None)
    assert total == 85
    assert mismatches == []


def test_every_hasura_url_is_derived_from_front_matter() -> None:
    # hasura.io/docs/2.0: routeBasePath '/', trailingSlash true. 672 of 672 match (98 pages set `slug`).
    total, mismatches = _mismatches("hasura-docs", "https://hasura.io/docs/2.0/", True)
    assert total == 672
    assert mismatches == []


def test_hasura_urls_need_the_sites_trailing_slash_setting() -> None:
    # Without trailingSlash only the folder-index pages get their slash, which the real site adds everywhere.
    total, mismatches = _mismatches("hasura-docs", "https://hasura.io/docs/2.0/", None)
    assert all(real == derived + "/" for _, derived, real in mismatches)
    assert len(mismatches) == total - 9
