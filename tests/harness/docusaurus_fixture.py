"""A real Docusaurus 3 site for tests: built once per machine (cached), served from 127.0.0.1.

The site's source is tests/docusaurus_site/. Building needs Node and npm (Debian: `nodejs npm`, which
scripts/system_deps.sh installs) and, the first time, the npm registry. The cache lives under
`${DOCSBOT_TEST_CACHE:-~/.cache/docsbot-tests}/docusaurus/`:

- `modules-<hash of package.json + package-lock.json>/`: the npm install (node_modules), reused by every build;
- `build-<hash of every site file>/`: a finished build, returned as it is while the sources are unchanged.

Cold (an empty cache) takes about 40 s: `npm ci` then a 13 s build; after a change to the site, about 11 s
(node_modules and webpack's cache are reused); unchanged, no time at all. A file lock keeps concurrent
pytest processes from building at once; entries unused for a week are deleted.

Test modules use the session fixture with `from tests.harness.docusaurus_fixture import docusaurus_site  # noqa: F401`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.support import cache_dir, cache_lock

SITE_SOURCE = Path(__file__).resolve().parents[1] / "docusaurus_site"
# The `url` in docusaurus.config.js: sitemap.xml and canonical links are built from it.
PLACEHOLDER_ORIGIN = "http://127.0.0.1:18200"

INSTALL_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 600
STALE_AFTER_S = 7 * 24 * 3600  # cached builds and installs unused this long are deleted
_NOT_SOURCE = frozenset({"node_modules", "build", ".docusaurus", ".cache-loader"})
_INSTALL_FILES = ("package.json", "package-lock.json")
# Responses that may hold the placeholder origin: pages, sitemap, robots.txt and, for pages rendered by a
# browser, the JavaScript bundles (React Helmet rewrites canonical links from the config baked into them).
_TEXT_TYPES = ("application/xml", "application/javascript", "application/json")
_REWRITTEN_TYPES = ("text/html", "text/xml", "text/plain", "text/javascript", *_TEXT_TYPES)
_DONE = ".complete"


def cache_root() -> Path:
    """Where built sites and their node_modules are kept between test runs."""
    return cache_dir("docusaurus")


def _source_files() -> list[Path]:
    files: list[Path] = []
    for path in sorted(SITE_SOURCE.rglob("*")):
        relative = path.relative_to(SITE_SOURCE)
        if path.is_file() and not _NOT_SOURCE.intersection(relative.parts):
            files.append(relative)
    return files


def _digest(relative_paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for relative in relative_paths:
        path = SITE_SOURCE / relative
        if path.is_file():
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(command: list[str], cwd: Path, timeout_s: int) -> None:
    # No update checks: the build itself needs no network (only `npm ci` needs the registry, the first time).
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "npm_config_update_notifier": "false"}
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`{' '.join(command)}` took more than {timeout_s} s (in {cwd})") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode} in {cwd}:\n{output}")


def _require_npm() -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise RuntimeError(
            "The Docusaurus test site needs Node.js and npm: install the Debian packages `nodejs npm` "
            "(scripts/system_deps.sh does it when run as root)."
        )


def _install(root: Path) -> Path:
    """The directory whose node_modules matches package.json (and the lock file), installing if needed."""
    modules = root / f"modules-{_digest([Path(name) for name in _INSTALL_FILES])}"
    if (modules / _DONE).is_file():
        (modules / _DONE).touch()
        return modules
    _require_npm()
    shutil.rmtree(modules, ignore_errors=True)
    modules.mkdir(parents=True)
    for name in _INSTALL_FILES:
        if (SITE_SOURCE / name).is_file():
            shutil.copy2(SITE_SOURCE / name, modules / name)
    locked = (modules / "package-lock.json").is_file()
    command = ["npm", "ci" if locked else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    _run(command, modules, INSTALL_TIMEOUT_S)
    (modules / _DONE).write_text("")
    return modules


def _copy_sources(work: Path) -> None:
    # The work directory holds node_modules and a copy of the site: stale site files must not survive.
    for entry in work.iterdir():
        if entry.name not in ("node_modules", _DONE, *_INSTALL_FILES):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for relative in _source_files():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SITE_SOURCE / relative, target)


def build_site() -> Path:
    """The built site's directory (index.html, sitemap.xml, docs/...): cached, built when the sources changed."""
    root = cache_root()
    build = root / f"build-{_digest(_source_files())}"
    if (build / _DONE).is_file():
        (build / _DONE).touch()  # last used: see _prune
        return build
    with cache_lock(root):
        if (build / _DONE).is_file():  # another process built it while this one waited
            return build
        _require_npm()
        work = _install(root)
        _copy_sources(work)
        shutil.rmtree(build, ignore_errors=True)
        docusaurus = work / "node_modules" / ".bin" / "docusaurus"
        _run([str(docusaurus), "build", "--out-dir", str(build)], work, BUILD_TIMEOUT_S)
        (build / _DONE).write_text("")
        _prune(root, keep=(build, work))
    return build


def _prune(root: Path, keep: tuple[Path, ...]) -> None:
    # Another checkout on this machine may still be serving an older build: only long-unused ones go.
    for entry in [*root.glob("build-*"), *root.glob("modules-*")]:
        done = entry / _DONE
        if entry not in keep and (not done.is_file() or time.time() - done.stat().st_mtime > STALE_AFTER_S):
            shutil.rmtree(entry, ignore_errors=True)


# --- Serving --------------------------------------------------------------------------------------------


def _content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    content_type = guessed or "application/octet-stream"
    if content_type.startswith("text/") or content_type in _TEXT_TYPES:
        content_type += "; charset=utf-8"
    return content_type


def _handler(build_dir: Path) -> type[BaseHTTPRequestHandler]:
    root = build_dir.resolve()

    class StaticSite(BaseHTTPRequestHandler):
        """A static host: folders redirect to their slash form and serve index.html; anything else is 404."""

        def do_GET(self) -> None:
            self._respond(include_body=True)

        def do_HEAD(self) -> None:
            self._respond(include_body=False)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def _respond(self, include_body: bool) -> None:
            parts = urlsplit(self.path)
            target = (root / unquote(parts.path).lstrip("/")).resolve()
            if not target.is_relative_to(root):
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8", include_body)
                return
            if target.is_dir() and (target / "index.html").is_file():
                if not parts.path.endswith("/"):
                    location = parts.path + "/" + (f"?{parts.query}" if parts.query else "")
                    self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain; charset=utf-8", include_body, location)
                    return
                target = target / "index.html"
            if not target.is_file():
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8", include_body)
                return
            body = target.read_bytes()
            content_type = _content_type(target)
            if content_type.startswith(_REWRITTEN_TYPES):
                host, port = self.connection.getsockname()[:2]
                origin = f"http://{host}:{port}"
                body = body.replace(PLACEHOLDER_ORIGIN.encode(), origin.encode())
            self._send(HTTPStatus.OK, body, content_type, include_body)

        def _send(
            self, status: HTTPStatus, body: bytes, content_type: str, include_body: bool, location: str = ""
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            if include_body:
                self.wfile.write(body)

    return StaticSite


@contextmanager
def serve_site(build_dir: Path) -> Iterator[str]:
    """Serve `build_dir` on 127.0.0.1 (a free port); yields the base URL, `http://127.0.0.1:<port>`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(build_dir))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="docusaurus-site", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class DocusaurusSite:
    """The built test site and the loopback URL it is served at."""

    base_url: str
    build_dir: Path


@pytest.fixture(scope="session")
def docusaurus_site() -> Iterator[DocusaurusSite]:
    """The Docusaurus test site, built (or taken from the cache) and served for the whole session."""
    build_dir = build_site()
    with serve_site(build_dir) as base_url:
        yield DocusaurusSite(base_url=base_url, build_dir=build_dir)
