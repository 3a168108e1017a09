"""Self-test of the harness: the real Docusaurus site is built once per machine and reused (marked `harness`)."""

from __future__ import annotations

import pytest

from tests.harness.docusaurus_fixture import DocusaurusSite, build_site, docusaurus_site  # noqa: F401 - the fixture

pytestmark = pytest.mark.harness


def test_the_build_is_cached(docusaurus_site: DocusaurusSite) -> None:  # noqa: F811
    assert build_site() == docusaurus_site.build_dir
    assert (docusaurus_site.build_dir / "docs" / "intro" / "index.html").is_file()
