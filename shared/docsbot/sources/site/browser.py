"""Render JavaScript docs pages with headless Chromium (Selenium 4 + Debian's `chromium` and `chromedriver`).

Starting. `ChromiumRenderer` starts nothing when created: the browser starts on the first `render()`, so a
crawl that never needs JavaScript never starts one. One browser then serves every page of the crawl. Use the
renderer as a context manager (or call `close()`): closing quits the browser and ChromeDriver and deletes the
temporary profile directory, also when the crawl ends with an exception or Ctrl-C.

    with ChromiumRenderer() as renderer:
        html = renderer.render("https://docs.example.com/intro")

Configuration (constructor arguments):
- `chromium_path` / `chromedriver_path`: default to `$DOCSBOT_CHROMIUM` / `$DOCSBOT_CHROMEDRIVER`, else
  `chromium` / `chromedriver` on PATH. Both paths are passed to Selenium explicitly, so Selenium Manager never
  runs and never goes to the network. Missing binaries raise `BrowserUnavailable`, which names the Debian
  packages (`chromium chromium-driver`) and `scripts/system_deps.sh`.
- `wait_selectors`, `wait_timeout` (10 s): after loading, wait until one of the CSS selectors matches an element
  with visible text (and, on Docusaurus 3 pages, until `<html data-has-hydrated="true">`). On timeout the HTML
  is returned as it is, with a warning logged: the caller's extractor decides whether it has content.
- `page_load_timeout` (15 s): a page that does not finish loading in time raises `RenderError`.
- `max_html_bytes` (10 MB): a larger page raises `RenderError`.
- `window_size`, `no_sandbox`. When `no_sandbox` is None: `$DOCSBOT_CHROMIUM_NO_SANDBOX` decides if set (1/true/
  yes/on: pass `--no-sandbox`; anything else: keep the sandbox), else only when running as root (where Chromium
  refuses to start without it). Containers usually cannot give Chromium its sandbox (no user namespaces, seccomp
  rules) even for a non-root user: the scrape job's image sets DOCSBOT_CHROMIUM_NO_SANDBOX=1. The pages rendered
  are the configured docs sites, and the browser runs in a throwaway container as an unprivileged user.
Chromium runs headless with a fresh profile, no images, no downloads, and without its background services.

Bad input. Only http(s) URLs are rendered: `file:`, `data:`, `chrome:`, `javascript:` and anything else raise
`RenderError` before a browser is started. So do network errors (Chrome's error page), downloads (the URL is not
a page), HTTP statuses of 400 and above from `render()` (`render_page()` returns them instead), page-load
timeouts and oversized pages. If the browser or ChromeDriver crashes during a page, it is restarted once and the
page tried again; a second failure raises `RenderError`. An invalid CSS selector raises `ValueError`.

Long because: starting, driving and always cleaning up one Chromium process (profile dir, driver, waits,
sandbox switch) is one lifecycle; its option checks and error translation belong with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import urllib3
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

logger = logging.getLogger(__name__)

DEFAULT_WAIT_SELECTORS = ("article .theme-doc-markdown", "article", "main", "[role=main]")
CHROMIUM_ENV = "DOCSBOT_CHROMIUM"
CHROMEDRIVER_ENV = "DOCSBOT_CHROMEDRIVER"
NO_SANDBOX_ENV = "DOCSBOT_CHROMIUM_NO_SANDBOX"  # truthy: start Chromium with --no-sandbox (containers)
INSTALL_HINT = "install the Debian packages `chromium chromium-driver` (as root, scripts/system_deps.sh does it)"

_ALLOWED_SCHEMES = ("http", "https")
_POLL_SECONDS = 0.1
_CHROMIUM_ARGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # /dev/shm is tiny in containers; Chromium crashes when it fills up
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
)
_CHROMIUM_PREFS = {
    "profile.managed_default_content_settings.images": 2,  # don't fetch images: lighter and faster
    "download_restrictions": 3,  # block all downloads: a crawl must not write files
}

# Returns "ready" when a selector matches an element with visible text (and a Docusaurus 3 page has hydrated),
# "invalid:<selector>" for a selector the browser cannot parse, else null. Other errors (say, the document is
# being replaced) mean "not yet".
_READY_SCRIPT = """
const selectors = arguments[0];
const hydrated = document.documentElement ? document.documentElement.getAttribute("data-has-hydrated") : null;
if (hydrated !== null && hydrated !== "true") return null;
for (const selector of selectors) {
  let elements;
  try {
    elements = document.querySelectorAll(selector);
  } catch (error) {
    if (error instanceof DOMException && error.name === "SyntaxError") return "invalid:" + selector;
    return null;
  }
  for (const element of elements) {
    if (element.getClientRects().length > 0 && element.innerText.trim() !== "") return "ready";
  }
}
return null;
"""

# Where the navigation ended: the scheme tells Chrome's error page (chrome-error:) and a download (the tab
# stays on about:blank) from a page; responseStatus is the HTTP status (0 when unknown).
_NAVIGATION_SCRIPT = """
const entry = performance.getEntriesByType("navigation")[0];
const errorCode = document.querySelector(".error-code");
return {
  href: location.href,
  status: entry && entry.responseStatus ? entry.responseStatus : 0,
  errorCode: errorCode ? errorCode.textContent.trim() : "",
  length: document.documentElement ? document.documentElement.outerHTML.length : 0,
};
"""


class BrowserUnavailable(RuntimeError):
    """Chromium or ChromeDriver is not installed, or the browser does not start."""


class RenderError(RuntimeError):
    """The page could not be rendered (bad URL, network error, timeout, too large, browser crashed twice)."""


class _BrowserFailed(Exception):
    """The browser or ChromeDriver stopped answering: restart it and try the page again."""


@dataclass(frozen=True)
class RenderedPage:
    """A rendered page: its HTML and where the browser ended up."""

    url: str  # as asked for
    final_url: str  # after redirects
    status: int  # HTTP status of the document, 0 when the browser does not know it
    html: str
    ready: bool  # False when the wait for the article timed out


def _find_binary(explicit: str | None, env_var: str, name: str) -> str:
    candidate = explicit or os.environ.get(env_var) or shutil.which(name)
    if not candidate:
        raise BrowserUnavailable(f"`{name}` not found on PATH (nor set in ${env_var}): {INSTALL_HINT}")
    path = shutil.which(candidate)  # resolves a bare name and checks that a path is an executable file
    if path is None:
        raise BrowserUnavailable(f"{name} is not an executable file: {candidate} ({INSTALL_HINT})")
    return path


def _default_no_sandbox() -> bool:
    """`$DOCSBOT_CHROMIUM_NO_SANDBOX` when set (truthy: no sandbox), else whether we run as root."""
    value = os.environ.get(NO_SANDBOX_ENV)
    if value is not None and value.strip():
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return os.geteuid() == 0


def check_url(url: str) -> None:
    """Raise `RenderError` unless `url` is an absolute http or https URL."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise RenderError(f"not a valid URL: {url!r}") from exc
    if parts.scheme.lower() not in _ALLOWED_SCHEMES or not parts.hostname:
        raise RenderError(f"only http and https URLs are rendered, not {url!r}")


class ChromiumRenderer:
    """One headless Chromium, started on the first render and reused until `close()`."""

    def __init__(
        self,
        *,
        wait_selectors: Sequence[str] = DEFAULT_WAIT_SELECTORS,
        wait_timeout: float = 10.0,
        page_load_timeout: float = 15.0,
        max_html_bytes: int = 10_000_000,
        window_size: tuple[int, int] = (1280, 1000),
        chromium_path: str | None = None,
        chromedriver_path: str | None = None,
        no_sandbox: bool | None = None,
    ) -> None:
        if isinstance(wait_selectors, str) or not wait_selectors or not all(s.strip() for s in wait_selectors):
            raise ValueError("wait_selectors must be a non-empty list of CSS selectors")
        if wait_timeout < 0 or page_load_timeout <= 0 or max_html_bytes <= 0:
            raise ValueError("timeouts and max_html_bytes must be positive")
        # Read at every render, so they may be changed between renders.
        self.wait_selectors = tuple(wait_selectors)
        self.wait_timeout = wait_timeout
        self.max_html_bytes = max_html_bytes
        # Applied when the browser starts.
        self.page_load_timeout = page_load_timeout
        self.window_size = window_size
        self._chromium_path = chromium_path
        self._chromedriver_path = chromedriver_path
        self._no_sandbox = _default_no_sandbox() if no_sandbox is None else no_sandbox
        self._driver: webdriver.Chrome | None = None
        self._service: Service | None = None
        self._profile_dir: Path | None = None
        self._closed = False
        self.driver_starts = 0  # how many times a browser was started (restarts after crashes included)

    @property
    def running(self) -> bool:
        """Whether a browser is running now."""
        return self._driver is not None

    @property
    def profile_dir(self) -> Path | None:
        """The running browser's temporary profile directory (deleted on close)."""
        return self._profile_dir

    def render(self, url: str) -> str:
        """The HTML of `url` once its article has rendered; `RenderError` also for HTTP statuses >= 400."""
        page = self.render_page(url)
        if page.status >= 400:
            raise RenderError(f"HTTP {page.status} for {url}")
        return page.html

    def render_page(self, url: str) -> RenderedPage:
        """Load `url`, wait for its article, and return the HTML with the final URL and HTTP status."""
        check_url(url)
        if self._closed:
            raise RuntimeError("ChromiumRenderer is closed")
        if self._driver is not None and not self._driver_alive():
            # Found out here rather than by sending it commands, which urllib3 retries with a warning each time.
            logger.warning("ChromeDriver has exited; starting a new browser")
            self._stop_browser()
        try:
            return self._render_once(self._ensure_started(), url)
        except _BrowserFailed as first:
            logger.warning("browser failed while rendering %s (%s); restarting it and retrying once", url, first)
        self._stop_browser()
        try:
            return self._render_once(self._ensure_started(), url)
        except _BrowserFailed as second:
            self._stop_browser()  # the next render starts a fresh browser
            raise RenderError(f"browser failed twice while rendering {url}: {second}") from second

    def close(self) -> None:
        """Quit the browser and ChromeDriver and delete the profile directory. Safe to call more than once."""
        self._closed = True
        self._stop_browser()

    def __enter__(self) -> ChromiumRenderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- browser lifecycle ---------------------------------------------------------------------------------

    def _ensure_started(self) -> webdriver.Chrome:
        if self._driver is not None:
            return self._driver
        chromium = _find_binary(self._chromium_path, CHROMIUM_ENV, "chromium")
        chromedriver = _find_binary(self._chromedriver_path, CHROMEDRIVER_ENV, "chromedriver")
        started = time.monotonic()
        self._profile_dir = Path(tempfile.mkdtemp(prefix="docsbot-chromium-"))
        options = self.chromium_options(chromium, self._profile_dir)
        # Kept here before the driver exists, so a start interrupted half-way can still stop ChromeDriver.
        self._service = Service(executable_path=chromedriver)
        try:
            driver = webdriver.Chrome(service=self._service, options=options)
            driver.set_page_load_timeout(self.page_load_timeout)
        except WebDriverException as exc:
            self._stop_browser()
            raise BrowserUnavailable(f"Chromium did not start ({_first_line(exc)}); {INSTALL_HINT}") from exc
        except BaseException:
            self._stop_browser()
            raise
        self._driver = driver
        self.driver_starts += 1
        logger.info("started headless Chromium in %.2f s", time.monotonic() - started)
        return driver

    def chromium_options(self, chromium: str, profile_dir: Path) -> Options:
        """The options Chromium is started with (nothing is started here)."""
        options = Options()
        options.binary_location = chromium
        for argument in _CHROMIUM_ARGS:
            options.add_argument(argument)
        if self._no_sandbox:
            options.add_argument("--no-sandbox")
        width, height = self.window_size
        options.add_argument(f"--window-size={width},{height}")
        options.add_argument(f"--user-data-dir={profile_dir}")
        options.add_experimental_option("prefs", _CHROMIUM_PREFS)
        return options

    def _driver_alive(self) -> bool:
        process = self._service.process if self._service is not None else None
        return process is not None and process.poll() is None

    def _stop_browser(self) -> None:
        driver, service, profile_dir = self._driver, self._service, self._profile_dir
        self._driver = self._service = self._profile_dir = None
        driver_alive = service is not None and service.process is not None and service.process.poll() is None
        try:
            if driver is not None and driver_alive:
                driver.quit()  # ends the session, then stops ChromeDriver (which stops Chromium)
            elif service is not None:
                service.stop()  # no one to ask to quit: just release what the service holds
        except Exception as exc:  # closing must not fail: the browser may already be dead
            logger.warning("error while stopping Chromium: %s", _first_line(exc))
        finally:
            if service is not None and service.process is not None and service.process.poll() is None:
                service.process.kill()
                service.process.wait()
            if profile_dir is not None:
                # Chromium outlives a ChromeDriver that died or was killed: end what still uses our profile.
                leftovers = _kill_processes_using_profile(profile_dir)
                if leftovers:
                    logger.info("killed %d leftover Chromium processes", leftovers)
                shutil.rmtree(profile_dir, ignore_errors=True)

    # -- one page ------------------------------------------------------------------------------------------

    def _render_once(self, driver: webdriver.Chrome, url: str) -> RenderedPage:
        try:
            return self._load(driver, url)
        except TimeoutException as exc:
            raise RenderError(f"page did not load within {self.page_load_timeout:g} s: {url}") from exc
        except WebDriverException as exc:
            if "net::ERR_" in (exc.msg or ""):  # e.g. a name that does not resolve
                raise RenderError(f"could not load {url}: {_first_line(exc)}") from exc
            raise _BrowserFailed(_first_line(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # ChromeDriver itself is gone
            raise _BrowserFailed(f"{type(exc).__name__}: {exc}") from exc

    def _load(self, driver: webdriver.Chrome, url: str) -> RenderedPage:
        # Start from a blank tab: if `url` turns out to be a download the tab stays blank (instead of still
        # showing the previous page, which would be returned as this one), and a `url#fragment` of the
        # previous page is a real navigation.
        driver.get("about:blank")
        driver.get(url)
        navigation = self._navigation(driver)
        scheme = urlsplit(navigation["href"]).scheme
        if scheme == "chrome-error":
            raise RenderError(f"could not load {url}: {navigation['errorCode'] or 'network error'}")
        if scheme not in _ALLOWED_SCHEMES:
            raise RenderError(f"{url} did not open as a page (a download?); the browser is at {navigation['href']}")
        ready = self._wait_for_article(driver, url)
        navigation = self._navigation(driver)  # the DOM has grown while waiting
        # outerHTML's length in UTF-16 units is at most its size in UTF-8 bytes: a cheap check before transfer.
        if navigation["length"] > self.max_html_bytes:
            raise RenderError(f"page is larger than {self.max_html_bytes} bytes: {url}")
        html = driver.page_source
        if len(html.encode("utf-8")) > self.max_html_bytes:
            raise RenderError(f"page is larger than {self.max_html_bytes} bytes: {url}")
        return RenderedPage(url=url, final_url=navigation["href"], status=navigation["status"], html=html, ready=ready)

    def _navigation(self, driver: webdriver.Chrome) -> dict[str, Any]:
        result = driver.execute_script(_NAVIGATION_SCRIPT)
        if not isinstance(result, dict):
            raise _BrowserFailed(f"unexpected answer from the page: {result!r}")
        return result

    def _wait_for_article(self, driver: webdriver.Chrome, url: str) -> bool:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            state = driver.execute_script(_READY_SCRIPT, list(self.wait_selectors))
            if state == "ready":
                return True
            if isinstance(state, str) and state.startswith("invalid:"):
                raise ValueError(f"invalid CSS selector in wait_selectors: {state.removeprefix('invalid:')!r}")
            if time.monotonic() >= deadline:
                logger.warning(
                    "no rendered article after %g s (none of %s has text): returning the HTML as it is: %s",
                    self.wait_timeout,
                    ", ".join(self.wait_selectors),
                    url,
                )
                return False
            time.sleep(_POLL_SECONDS)


def _kill_processes_using_profile(profile_dir: Path, wait_seconds: float = 2.0) -> int:
    """SIGKILL the processes whose command line has `--user-data-dir=<profile_dir>`; wait until they are gone.

    The profile directory is a fresh temporary directory, so only this renderer's Chromium matches. Linux only
    (reads /proc); elsewhere it does nothing.
    """
    pids = _pids_using_profile(profile_dir)
    for pid in pids:
        with contextlib.suppress(OSError):  # already gone, or not ours to signal
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_seconds
    while pids and _pids_using_profile(profile_dir) and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(pids)


def _pids_using_profile(profile_dir: Path) -> list[int]:
    # Chromium rewrites its child processes' command lines into one space-separated string, so search the
    # whole command line (an argument ends at a NUL, a space or the end).
    marker = re.compile(re.escape(f"--user-data-dir={profile_dir}".encode()) + rb"(?:[\0 ]|$)")
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        if marker.search(command_line):  # a zombie has an empty command line, so only live processes match
            pids.append(int(entry.name))
    return pids


def _first_line(exc: BaseException) -> str:
    # Selenium messages carry a native stack trace after the first lines; the first line says what happened.
    message = exc.msg if isinstance(exc, WebDriverException) and exc.msg else str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
