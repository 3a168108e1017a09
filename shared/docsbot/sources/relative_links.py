"""Relative links and images in a docs folder's markdown, made absolute against the pages' public URLs.

Docusaurus resolves a link to a `.md`/`.mdx` file (`[store](Store.md)`, `../api/foo.md#anchor`) to the URL it
serves that doc at; the same happens here, through the URL the folder source gave that file, so a quoted
passage links where the site does. Other relative targets (images, downloads) and `#anchor` links resolve
against the page's URL, root-relative ones (`/img/x.png`) against the site's origin. Links inside code (fenced
or inline) are text and never change; absolute URLs (`https:`, `mailto:`, `//host`) are kept as they are.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from urllib.parse import unquote, urljoin

from docsbot.documents.anchors import fence_mask

_DOC_SUFFIXES = (".md", ".mdx")
# The destination of an inline link or image: `](dest)` or `](dest "title")`; `\]` is an escaped bracket.
_INLINE_DESTINATION = re.compile(
    r"(?<!\\)\]\((?P<dest><[^<>\n]*>|[^\s()<>]+)(?P<title>[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\)"
)
# A reference definition: `[label]: dest "title"`.
_REFERENCE_DEFINITION = re.compile(r"^(?P<lead>[ ]{0,3}\[[^\]\n]+\]:[ \t]*)(?P<dest><[^<>\n]*>|\S+)(?P<rest>.*)$")
_CODE_SPAN = re.compile(r"(`+).*?(?<!`)\1(?!`)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

DocUrl = Callable[[str], "str | None"]  # a doc file's path (relative to the folder) -> its page URL, if known


def absolute_links(markdown: str, relative_path: str, page_url: str, doc_url: DocUrl) -> str:
    """`markdown` of the file at `relative_path` (served at `page_url`) with every relative link absolute."""
    lines = markdown.split("\n")
    in_fence = fence_mask(lines)
    folder = posixpath.dirname(relative_path)

    def rewrite(destination: str) -> str:
        return _absolute(destination, folder, page_url, doc_url)

    out: list[str] = []
    for line, fenced in zip(lines, in_fence, strict=True):
        if fenced or ("](" not in line and "]:" not in line):
            out.append(line)
            continue
        definition = _REFERENCE_DEFINITION.match(line)
        if definition is not None:
            out.append(f"{definition.group('lead')}{rewrite(definition.group('dest'))}{definition.group('rest')}")
            continue
        out.append(_outside_code(line, lambda text: _INLINE_DESTINATION.sub(_rewriter(rewrite), text)))
    return "\n".join(out)


def _rewriter(rewrite: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f"]({rewrite(match.group('dest'))}{match.group('title') or ''})"

    return replace


def _outside_code(line: str, change: Callable[[str], str]) -> str:
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(change(line[last : span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(change(line[last:]))
    return "".join(parts)


def _absolute(destination: str, folder: str, page_url: str, doc_url: DocUrl) -> str:
    bracketed = destination.startswith("<") and destination.endswith(">")
    target = destination[1:-1] if bracketed else destination
    if not target or _SCHEME.match(target) or target.startswith("//"):
        return destination
    path, hash_mark, fragment = target.partition("#")
    url: str | None = None
    if path and unquote(path).lower().endswith(_DOC_SUFFIXES):
        if not path.startswith("/"):
            url = _doc_target(unquote(path), folder, doc_url)
        if url is None:  # a doc the folder does not have: its route is the file's path without the suffix
            url = urljoin(page_url, path.rsplit(".", 1)[0])
    if url is None:
        url = urljoin(page_url, path) if path else page_url.partition("#")[0]
    absolute = f"{url}{hash_mark}{fragment}"
    return f"<{absolute}>" if bracketed or " " in absolute else absolute


def _doc_target(path: str, folder: str, doc_url: DocUrl) -> str | None:
    # Relative to the linking file first; Docusaurus also accepts a path from the docs root.
    for base in (folder, ""):
        resolved = posixpath.normpath(posixpath.join(base, path))
        if resolved.startswith("../") or resolved == "..":
            continue
        url = doc_url(resolved)
        if url is not None:
            return url
    return None
