"""The real thing for Sphinx: a small Sphinx + Furo project built here, each page converted as the crawler does.

Skipped when Sphinx or Furo is not installed (both are in the `dev` extra).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from docsbot.documents.sections import split_sections
from docsbot.sources.site.html_markdown import ExtractedPage, extract_page

URL = "https://docs.example.com/guide/index.html"
CONF = 'project = "Test"\nhtml_theme = "furo"\n'
INDEX = """\
Guide
=====

Intro with a claim [#f1]_, ``name[type parameters](parameters)`` in code and
name[type parameters](parameters) in text.

.. _install-label:

Install_now
-----------

Run it.

.. note::

   A note.

Usage
-----

See :ref:`install-label`.

.. [#f1] The source of the claim.
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> ExtractedPage:
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("furo") is None:
        pytest.skip("Sphinx and Furo are not installed (pip install -e '.[dev]')")
    root = tmp_path_factory.mktemp("sphinx")
    (root / "src").mkdir()
    (root / "src" / "conf.py").write_text(CONF, encoding="utf-8")
    (root / "src" / "index.rst").write_text(INDEX, encoding="utf-8")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(root / "src"), str(root / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return extract_page(Path(root / "out" / "index.html").read_bytes(), URL)


def test_a_sphinx_furo_page_becomes_the_expected_markdown(page: ExtractedPage) -> None:
    assert page.title == "Guide"
    assert page.markdown == (
        f"Intro with a claim [\\[1\\]]({URL}#f1), `name[type parameters](parameters)` in code and\n"
        "name\\[type parameters\\](parameters) in text.\n\n"
        "## Install_now {#install-now}\n\nRun it.\n\n> **Note**\n>\n> A note.\n\n"
        f"## Usage {{#usage}}\n\nSee [Install_now]({URL}#install-label).\n\n"
        f"\\[[1]({URL}#id1)\\]\n\nThe source of the claim.\n"
    )


def test_a_labelled_section_keeps_its_deep_link(page: ExtractedPage) -> None:
    # Sphinx's id (`install-now`) is not the slug a heading without an id would get (`install_now`).
    assert [section.anchor for section in split_sections(page.markdown) if section.anchor] == ["install-now", "usage"]


def test_the_footnote_a_reference_points_at_is_in_the_text(page: ExtractedPage) -> None:
    assert "The source of the claim." in page.markdown
