"""URL normalisation and scope checks shared by the fetcher, the sitemap reader and the crawler.

A crawl compares URLs in one normal form: lower-case scheme and host, no default port, no user info, no
fragment, a path that is never empty and, for discovered links, no query (docs pages do not depend on
one; queries on docs sites are search pages and tracking parameters).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str, *, keep_query: bool = False) -> str | None:
    """`url` in normal form, or None when it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # already lower-case, without user info
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literals keep their brackets in a netloc
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    query = parts.query if keep_query else ""
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def without_fragment(url: str) -> str:
    """`url` with any `#fragment` removed (the fragment never reaches the server)."""
    return url.split("#", 1)[0]


def resolve_link(base: str, href: str) -> str | None:
    """An `href` found on the page at `base`, as a normalised absolute URL, or None if it is not http(s)."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        absolute = urljoin(base, href)
    except ValueError:
        return None
    return normalise_url(absolute)


def host_key(url: str) -> str:
    """The host a URL belongs to for scope and politeness: `host` or `host:port` (non-default port)."""
    normal = normalise_url(url)
    return urlsplit(normal).netloc if normal else ""


def normalise_host(host: str) -> str:
    """An allowed-host setting (`docs.example.com`, `127.0.0.1:8000`, or a URL) in `host_key` form."""
    text = host.strip()
    if "://" not in text:
        text = f"https://{text}"
    return host_key(text)


def dedupe_key(url: str) -> str:
    """The key under which trailing-slash variants of one page (`/docs/a`, `/docs/a/`) count as one URL."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def path_under(url: str, prefix: str) -> bool:
    """Whether the path of `url` is `prefix` or below it (`/docs` counts as under `/docs/`)."""
    path = urlsplit(url).path or "/"
    if not path.endswith("/"):
        path += "/"
    return path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def matches_patterns(url: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """Whether the path of `url` matches an include glob (or there are none) and no exclude glob.

    Patterns are fnmatch globs matched against the whole URL path, case-sensitively: `*` matches any
    characters including `/`, `?` one character, `[abc]` a set. `/docs/*` takes everything below `/docs/`,
    `*/changelog*` excludes changelogs anywhere.
    """
    path = urlsplit(url).path or "/"
    if include and not any(fnmatchcase(path, pattern) for pattern in include):
        return False
    return not any(fnmatchcase(path, pattern) for pattern in exclude)
