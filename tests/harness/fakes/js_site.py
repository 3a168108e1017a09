"""A tiny docs site on 127.0.0.1 whose pages need JavaScript, for driving a real browser in tests.

Pages (all HTML pages have the same `<title>` shell; the content is what differs):

- `/js-article.html`: an empty `<main>`; after 300 ms a script fetches `/data.json` and writes the article.
- `/never.html`: only a "Loading…" placeholder; no article ever appears.
- `/hidden.html`: an `<article hidden>` with stale text; after 300 ms the article is shown with new text.
- `/docusaurus.html`: server-rendered article, `<html data-has-hydrated="false">`; after 300 ms the script
  adds a marker paragraph and sets `data-has-hydrated="true"`, as Docusaurus 3 does after hydration.
- `/image.html`: a static article with an `<img src="/pixel.png">` (to check images are not fetched).
- `/slow.html`: a static article whose `<script src="/slow.js">` never finishes loading (page-load timeout).
- `/big.html`: a static article with about 200 kB of text.
- `/redirect`: 302 to `/js-article.html`; `/missing`: 404.
- `/download.zip`: served as an attachment (a navigation that downloads instead of showing a page).

Every request's path is recorded in `requests`.

    with JsSite() as site:
        html = requests.get(site.url("/js-article.html"), timeout=5).text
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

ARTICLE_TITLE = "Configuring the widget cache"
ARTICLE_TEXT = "Set cache_ttl to the number of seconds a rendered widget stays valid."
STALE_TEXT = "Stale placeholder text"
VISIBLE_TEXT = "Text that appears once the article is shown"
HYDRATED_MARKER = "Hydrated by React"
STATIC_TEXT = "A static article served with its content."

_SHELL = """<!doctype html>
<html lang="en"{html_attrs}>
<head><meta charset="utf-8"><title>Widget docs</title></head>
<body>
{body}
</body>
</html>
"""

_JS_ARTICLE_BODY = """<div id="__app"><main id="content"></main></div>
<script>
setTimeout(async () => {
  const response = await fetch("/data.json");
  const data = await response.json();
  const article = document.createElement("article");
  const title = document.createElement("h1");
  title.textContent = data.title;
  const paragraph = document.createElement("p");
  paragraph.textContent = data.text;
  article.append(title, paragraph);
  document.getElementById("content").append(article);
}, 300);
</script>"""

_NEVER_BODY = """<div id="__app"><main id="content"></main><div class="spinner">Loading…</div></div>"""

_HIDDEN_BODY = f"""<main><article id="doc" hidden><p id="doc-text">{STALE_TEXT}</p></article></main>
<script>
setTimeout(() => {{
  document.getElementById("doc-text").textContent = "{VISIBLE_TEXT}";
  document.getElementById("doc").hidden = false;
}}, 300);
</script>"""

_DOCUSAURUS_BODY = f"""<div id="__docusaurus"><main><article><div class="theme-doc-markdown markdown">
<h1>{ARTICLE_TITLE}</h1><p>{ARTICLE_TEXT}</p></div></article></main></div>
<script>
setTimeout(() => {{
  const marker = document.createElement("p");
  marker.textContent = "{HYDRATED_MARKER}";
  document.querySelector(".theme-doc-markdown").append(marker);
  document.documentElement.setAttribute("data-has-hydrated", "true");
}}, 300);
</script>"""

_IMAGE_BODY = f"""<main><article><p>{STATIC_TEXT}</p><img src="/pixel.png" alt="diagram"></article></main>"""

_SLOW_BODY = f"""<main><article><p>{STATIC_TEXT}</p></article></main><script src="/slow.js"></script>"""

_BIG_BODY = "<main><article>" + ("<p>" + "lorem ipsum dolor sit amet " * 40 + "</p>\n") * 200 + "</article></main>"

# A 1x1 transparent PNG.
_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _page(body: str, html_attrs: str = "") -> bytes:
    return _SHELL.format(html_attrs=html_attrs, body=body).encode()


PAGES: dict[str, bytes] = {
    "/js-article.html": _page(_JS_ARTICLE_BODY),
    "/never.html": _page(_NEVER_BODY),
    "/hidden.html": _page(_HIDDEN_BODY),
    "/docusaurus.html": _page(_DOCUSAURUS_BODY, ' data-has-hydrated="false"'),
    "/image.html": _page(_IMAGE_BODY),
    "/slow.html": _page(_SLOW_BODY),
    "/big.html": _page(_BIG_BODY),
}


class JsSite:
    """The site on an ephemeral port; use as a context manager (stops the server and any slow request)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        # Set on stop, so a handler holding `/slow.js` open returns at once instead of blocking shutdown.
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="js-site", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this site."""
        return self.base_url + path

    def requested(self, path: str) -> int:
        """How many times `path` has been requested."""
        with self._lock:
            return self.requests.count(path)

    def start(self) -> JsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> JsSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.requests.append(path)
                if path in PAGES:
                    self._send(200, "text/html; charset=utf-8", PAGES[path])
                elif path == "/data.json":
                    body = json.dumps({"title": ARTICLE_TITLE, "text": ARTICLE_TEXT}).encode()
                    self._send(200, "application/json", body)
                elif path == "/pixel.png":
                    self._send(200, "image/png", _PIXEL)
                elif path == "/slow.js":
                    # Hold the script (and so the page's load event) until the site stops.
                    site._stopping.wait(timeout=30)
                    self._send(200, "text/javascript", b"")
                elif path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/js-article.html")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/download.zip":
                    headers = {"Content-Disposition": 'attachment; filename="docs.zip"'}
                    self._send(200, "application/zip", b"PK\x05\x06" + bytes(18), headers)
                else:
                    self._send(404, "text/html; charset=utf-8", _page("<main><h1>Not found</h1></main>"))

            def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser gave up on the request (page-load timeout, navigation away)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler
