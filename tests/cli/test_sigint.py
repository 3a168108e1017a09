"""A real Ctrl-C: `docsbot scrape` in a subprocess gets SIGINT mid-crawl, exits 130 saying what was kept, and the
next run asks the kept pages conditionally and embeds only the rest.

The site holds one page's answer until the test releases it, so the crawl is certainly still running when the
signal lands: the test waits for the line saying the first step (`STEP_PAGES` pages) is indexed, sends SIGINT,
then releases the page. Timeouts only bound a broken run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from docsbot.index.sync import STEP_PAGES
from tests.harness.docs_site import generated_site, site_source
from tests.harness.fakes.site_server import SiteServer
from tests.refresh.test_pipeline import indexed_urls, scrape_env

ROOT = Path(__file__).resolve().parents[2]
PAGES = STEP_PAGES + 6  # one chunk each: the first step is full after STEP_PAGES pages, 6 are left


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site


def docsbot(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    return subprocess.Popen(
        [sys.executable, "-m", "docsbot.cli.main", *args],
        env={**os.environ, **env, "PYTHONPATH": path, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_mid_crawl_exits_130_keeps_the_committed_step_and_the_rerun_continues(
    tmp_path: Path, server: SiteServer
) -> None:
    site = generated_site(server, PAGES)
    held = "/docs/page-7"  # never the start page (page-0): that one is read before the crawl goes on
    release = threading.Event()
    site.held[held] = release
    env = scrape_env(tmp_path, site_source("site", site))
    try:
        run = docsbot(env, "scrape", "--collection", "docs")
        assert run.stderr is not None
        seen: list[str] = []
        for line in run.stderr:  # off a terminal, each committed step prints one line
            seen.append(line)
            if f"docs/site: {STEP_PAGES} pages indexed" in line:
                break
        else:
            pytest.fail(f"no step was committed: {''.join(seen)}")
        run.send_signal(signal.SIGINT)
    finally:
        release.set()
    _, rest = run.communicate(timeout=120)
    message = " ".join(rest.split())
    assert run.returncode == 130, "".join(seen) + rest
    assert f"interrupted: what was indexed is kept (docs/site: {STEP_PAGES} pages)" in message, message
    kept = indexed_urls(tmp_path)
    assert len(kept) == STEP_PAGES and site.url(held) not in kept

    before = len(site.page_requests())
    rerun = docsbot(env, "scrape", "--collection", "docs")
    output, errors = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output + errors
    start = site.url(min(site.pages))  # always fetched in full: its links are needed
    asked = [r for r in site.page_requests()[before:] if site.url(r.path) != start]
    conditional = {site.url(r.path) for r in asked if r.headers.get("if-none-match")}
    assert conditional == kept - {start}  # the kept pages' validators were saved with their step
    assert {site.url(r.path) for r in asked if not r.headers.get("if-none-match")} == set(
        map(site.url, site.pages)
    ) - kept
    # Only the rest is embedded; the start page read in full is unchanged, the other kept pages answered 304.
    assert f"({PAGES - STEP_PAGES} embedded, 1 unchanged, 0 deleted)" in " ".join(output.split()), output
    assert len(indexed_urls(tmp_path)) == PAGES
