"""ChromiumRenderer against real headless Chromium and a JavaScript site on 127.0.0.1 (loopback only).

Needs the Debian packages `chromium chromium-driver` (scripts/system_deps.sh); without them the tests fail
with `BrowserUnavailable` naming the packages.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

# Before selenium starts anything: Selenium Manager must never try the network (it is not used anyway,
# since the renderer passes explicit paths).
os.environ.setdefault("SE_OFFLINE", "true")

import pytest
import requests

from docsbot.sources.site import browser
from docsbot.sources.site.browser import BrowserUnavailable, ChromiumRenderer, RenderError
from tests.harness.fakes.js_site import (
    ARTICLE_TEXT,
    ARTICLE_TITLE,
    HYDRATED_MARKER,
    STALE_TEXT,
    STATIC_TEXT,
    VISIBLE_TEXT,
    JsSite,
)

WAIT_TIMEOUT = 1.0
PAGE_LOAD_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite() as js_site:
        yield js_site


@pytest.fixture(scope="module")
def renderer() -> Iterator[ChromiumRenderer]:
    """One browser for the module's page tests (starting one costs about 0.5 s)."""
    with ChromiumRenderer(wait_timeout=WAIT_TIMEOUT, page_load_timeout=PAGE_LOAD_TIMEOUT) as shared:
        yield shared


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _parent_pid(pid: int) -> int:
    # /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _driver_pid(renderer: ChromiumRenderer) -> int:
    assert renderer._service is not None and renderer._service.process is not None
    return renderer._service.process.pid


def _browser_main_pid(renderer: ChromiumRenderer) -> int:
    assert renderer.profile_dir is not None
    driver_pid = _driver_pid(renderer)
    mains = [pid for pid in browser._pids_using_profile(renderer.profile_dir) if _parent_pid(pid) == driver_pid]
    assert len(mains) == 1
    return mains[0]


def _process_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its exit status is left


# -- pages -----------------------------------------------------------------------------------------------


def test_article_written_by_javascript_is_in_the_rendered_html(site: JsSite, renderer: ChromiumRenderer) -> None:
    static_html = requests.get(site.url("/js-article.html"), timeout=5).text
    assert ARTICLE_TEXT not in static_html

    html = renderer.render(site.url("/js-article.html"))

    assert ARTICLE_TITLE in html
    assert ARTICLE_TEXT in html


def test_page_without_article_returns_the_shell_after_the_wait_timeout(
    site: JsSite, renderer: ChromiumRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    # No duration is measured (CI machines are slow and loaded): the renderer says it gave up because its wait
    # timeout passed, and the page comes back as the shell, not ready.
    with caplog.at_level(logging.WARNING, logger="docsbot.sources.site.browser"):
        page = renderer.render_page(site.url("/never.html"))

    assert not page.ready
    assert "Loading…" in page.html
    assert any(f"no rendered article after {WAIT_TIMEOUT:g} s" in record.getMessage() for record in caplog.records)


def test_hidden_article_is_waited_for_until_it_has_visible_text(site: JsSite, renderer: ChromiumRenderer) -> None:
    html = renderer.render(site.url("/hidden.html"))

    assert VISIBLE_TEXT in html
    assert STALE_TEXT not in html


def test_docusaurus_page_is_waited_for_until_hydrated(site: JsSite, renderer: ChromiumRenderer) -> None:
    html = renderer.render(site.url("/docusaurus.html"))

    assert 'data-has-hydrated="true"' in html
    assert HYDRATED_MARKER in html


def test_images_are_not_downloaded(site: JsSite, renderer: ChromiumRenderer) -> None:
    html = renderer.render(site.url("/image.html"))

    assert STATIC_TEXT in html
    assert site.requested("/image.html") >= 1
    assert site.requested("/pixel.png") == 0


def test_redirect_gives_the_final_url(site: JsSite, renderer: ChromiumRenderer) -> None:
    page = renderer.render_page(site.url("/redirect"))

    assert page.final_url == site.url("/js-article.html")
    assert page.status == 200
    assert ARTICLE_TEXT in page.html


def test_http_error_status(site: JsSite, renderer: ChromiumRenderer) -> None:
    assert renderer.render_page(site.url("/missing")).status == 404
    with pytest.raises(RenderError, match="HTTP 404"):
        renderer.render(site.url("/missing"))


def test_download_is_not_a_page(site: JsSite, renderer: ChromiumRenderer) -> None:
    renderer.render(site.url("/image.html"))  # a previous page must not be returned as the download's
    with pytest.raises(RenderError, match="did not open as a page"):
        renderer.render(site.url("/download.zip"))


def test_unreachable_server_is_a_render_error(renderer: ChromiumRenderer) -> None:
    with pytest.raises(RenderError, match="ERR_CONNECTION_REFUSED"):
        renderer.render(f"http://127.0.0.1:{_closed_port()}/docs")


def test_page_load_timeout_is_a_render_error_and_the_browser_carries_on(
    site: JsSite, renderer: ChromiumRenderer
) -> None:
    # The page-load timeout, not anything else, ended it (a hang would never return: no duration is measured).
    with pytest.raises(RenderError, match=f"did not load within {PAGE_LOAD_TIMEOUT:g} s"):
        renderer.render(site.url("/slow.html"))

    assert ARTICLE_TEXT in renderer.render(site.url("/js-article.html"))


def test_oversized_page_is_a_render_error(
    site: JsSite, renderer: ChromiumRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderer, "max_html_bytes", 50_000)
    with pytest.raises(RenderError, match="larger than 50000 bytes"):
        renderer.render(site.url("/big.html"))
    assert STATIC_TEXT in renderer.render(site.url("/image.html"))


def test_invalid_wait_selector_is_a_value_error(
    site: JsSite, renderer: ChromiumRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderer, "wait_selectors", ("article[",))
    with pytest.raises(ValueError, match=r"article\["):
        renderer.render(site.url("/image.html"))


# -- URLs and configuration (no browser) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "data:text/html,<article>hi</article>",
        "chrome://version",
        "javascript:alert(1)",
        "about:blank",
        "ftp://example.com/docs",
        "/relative/path",
        "http://",
    ],
)
def test_non_http_urls_are_refused_without_starting_a_browser(url: str) -> None:
    with ChromiumRenderer() as renderer:
        with pytest.raises(RenderError, match="only http and https"):
            renderer.render(url)
        assert renderer.driver_starts == 0


def test_browser_starts_lazily() -> None:
    with ChromiumRenderer() as renderer:
        assert not renderer.running
    assert renderer.driver_starts == 0


def test_missing_browser_names_the_debian_packages(site: JsSite, monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        ChromiumRenderer(chromium_path="/nonexistent/chromium") as renderer,
        pytest.raises(BrowserUnavailable, match="chromium chromium-driver") as raised,
    ):
        renderer.render(site.url("/image.html"))
    assert "scripts/system_deps.sh" in str(raised.value)

    monkeypatch.setenv(browser.CHROMEDRIVER_ENV, "/nonexistent/chromedriver")
    with ChromiumRenderer() as renderer, pytest.raises(BrowserUnavailable, match="/nonexistent/chromedriver"):
        renderer.render(site.url("/image.html"))


@pytest.mark.parametrize(
    ("value", "root", "expected"),
    [("1", False, True), ("true", False, True), ("0", True, False), ("", False, False), (None, True, True)],
)
def test_the_no_sandbox_switch(
    value: str | None, root: bool, expected: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if value is None:
        monkeypatch.delenv("DOCSBOT_CHROMIUM_NO_SANDBOX", raising=False)
    else:
        monkeypatch.setenv("DOCSBOT_CHROMIUM_NO_SANDBOX", value)
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 10001)
    renderer = ChromiumRenderer()
    assert ("--no-sandbox" in renderer.chromium_options("/usr/bin/chromium", tmp_path).arguments) is expected
    assert not renderer.running  # nothing was started
    forced = ChromiumRenderer(no_sandbox=False)  # an explicit argument wins over the environment
    assert "--no-sandbox" not in forced.chromium_options("/usr/bin/chromium", tmp_path).arguments


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="wait_selectors"):
        ChromiumRenderer(wait_selectors="article")
    with pytest.raises(ValueError, match="positive"):
        ChromiumRenderer(page_load_timeout=0)


# -- lifecycle ---------------------------------------------------------------------------------------------


def test_one_browser_serves_many_pages_and_close_leaves_nothing_behind(site: JsSite) -> None:
    renderer = ChromiumRenderer(wait_timeout=WAIT_TIMEOUT)
    try:
        for path in ("/image.html", "/js-article.html", "/docusaurus.html"):
            assert renderer.render(site.url(path))
        assert renderer.driver_starts == 1
        driver_pid = _driver_pid(renderer)
        profile_dir = renderer.profile_dir
        assert profile_dir is not None and profile_dir.is_dir()
        assert browser._pids_using_profile(profile_dir)
    finally:
        renderer.close()

    assert not renderer.running
    assert not _process_running(driver_pid)
    assert browser._pids_using_profile(profile_dir) == []
    assert not profile_dir.exists()
    renderer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        renderer.render(site.url("/image.html"))


def test_crashed_browser_or_driver_is_restarted_and_the_page_retried(site: JsSite) -> None:
    with ChromiumRenderer(wait_timeout=WAIT_TIMEOUT) as renderer:
        assert STATIC_TEXT in renderer.render(site.url("/image.html"))
        first_profile = renderer.profile_dir

        os.kill(_browser_main_pid(renderer), signal.SIGKILL)  # Chromium dies; ChromeDriver lives on
        assert ARTICLE_TEXT in renderer.render(site.url("/js-article.html"))
        assert renderer.driver_starts == 2

        old_driver_pid = _driver_pid(renderer)
        second_profile = renderer.profile_dir
        os.kill(old_driver_pid, signal.SIGKILL)  # ChromeDriver dies; its Chromium is orphaned
        assert STATIC_TEXT in renderer.render(site.url("/image.html"))
        assert renderer.driver_starts == 3

    for profile in (first_profile, second_profile, renderer.profile_dir):
        if profile is not None:
            assert browser._pids_using_profile(profile) == []
            assert not profile.exists()
