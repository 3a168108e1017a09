"""Load a docs-as-code folder of Docusaurus .md/.mdx files as normalised `Page`s.

Relative links and images are made absolute, a link to another doc file pointing at that page's URL
(`docsbot.sources.relative_links`). Every file that should be a page but cannot be read or parsed is
reported as a `Problem`, with its URL whenever the URL can be known, so that the indexer keeps what it
indexed for that page before.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml
from frontmatter.default_handlers import YAMLHandler

from docsbot.documents.anchors import normalise_heading_anchors, rendered_heading_text, split_explicit_id
from docsbot.documents.model import Page
from docsbot.sources.docusaurus_routes import docusaurus_url, is_category_index, strip_number_prefix
from docsbot.sources.mdx import clean_mdx
from docsbot.sources.relative_links import absolute_links

_DOC_SUFFIXES = (".md", ".mdx")
_SKIPPED_DIRS = frozenset({"node_modules"})
_HEAD_BYTES = 64 * 1024
_LEADING_H1 = re.compile(r"^#[ \t]+(?P<text>.*)$")
# Enough of a broken front matter block to still find the `id` and `slug` that decide the page's URL.
_FRONT_MATTER_BLOCK = re.compile(r"\A\s*---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*$", re.DOTALL | re.MULTILINE)
_ROUTE_KEY = re.compile(r"^(?P<key>id|slug):[ \t]*(?P<value>\S.*?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Problem:
    """A file that should have been a page but could not be loaded."""

    path: str  # relative to the folder, with `/` separators
    kind: str  # "malformed_front_matter", "binary", "too_large", "unreadable", "not_utf8", "duplicate_url"
    message: str
    url: str | None = None  # the page's URL when it can be known: its indexed content must be kept


@dataclass
class FolderLoad:
    """The pages of a folder, sorted by URL, and the files that could not be loaded, sorted by path."""

    pages: list[Page] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class _LoadError(Exception):
    def __init__(self, kind: str, message: str, text: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.text = text  # whatever could be decoded, to find the page's URL anyway


def _is_absolute_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _clean_relative_path(text: str) -> str:
    path = text.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def read_url_map(path: Path) -> dict[str, str]:
    """Read a `relative_path<TAB>url` file (header line optional) into {relative path: page URL}.

    Raises ValueError naming the line for a malformed row, a URL that is not absolute or has a fragment,
    or a path listed twice with different URLs.
    """
    urls: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and len(fields) == 2 and not _is_absolute_url(fields[1].strip()):
            continue  # the header line
        if len(fields) != 2 or not fields[0].strip() or not _is_absolute_url(fields[1].strip()):
            expected = "expected 'relative_path<TAB>absolute URL'"
            raise ValueError(f"{path}, line {number}: {expected}, got {line!r}")
        relative, url = _clean_relative_path(fields[0]), fields[1].strip()
        if urlsplit(url).fragment:
            raise ValueError(f"{path}, line {number}: a page URL has no #fragment, got {url!r}")
        if urls.get(relative, url) != url:
            raise ValueError(f"{path}, line {number}: {relative!r} is already mapped to {urls[relative]!r}")
        urls[relative] = url
    return urls


def _is_excluded(relative_path: str) -> bool:
    # Docusaurus never makes a page of `_partial.mdx` or of anything under a `_folder/`.
    return any(part.startswith("_") for part in PurePosixPath(relative_path).parts)


def _doc_files(root: Path) -> Iterator[str]:
    """Relative paths of every .md/.mdx entry under `root`, including ones that will fail to read."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        base = Path(folder)
        # A directory named like a doc file is listed too, so that it is reported rather than missed.
        for name in sorted([*files, *dirs]):
            if name.endswith(_DOC_SUFFIXES) and not name.startswith("."):
                yield (base / name).relative_to(root).as_posix()


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise _LoadError("unreadable", "not a regular file (a pipe or socket)")  # opening could block
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                # The head is enough to find the front matter's `id`/`slug`, hence the page's URL.
                head = handle.read(min(max_bytes, _HEAD_BYTES)).decode("utf-8", "replace")
                raise _LoadError("too_large", f"{size} bytes, over the limit of {max_bytes}", head)
            data = handle.read(max_bytes + 1)  # the size can lie (special files) or grow while reading
    except OSError as error:
        raise _LoadError("unreadable", f"cannot read the file: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise _LoadError("too_large", f"over the limit of {max_bytes} bytes", data.decode("utf-8", "replace"))
    return data


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise _LoadError("binary", "contains NUL bytes: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        text = data.decode("utf-8", "replace")
        raise _LoadError("not_utf8", f"not UTF-8 text (byte {error.start}: {error.reason})", text) from error


def _split_front_matter(text: str) -> tuple[dict[str, object], str]:
    handler = YAMLHandler()
    stripped = text.lstrip()
    if not handler.detect(stripped):
        return {}, text
    try:
        front, body = handler.split(stripped)
    except ValueError:  # no closing `---`: not front matter
        return {}, text
    try:
        data = handler.load(front)
    except yaml.YAMLError as error:
        message = f"front matter is not valid YAML: {' '.join(str(error).split())}"
        raise _LoadError("malformed_front_matter", message, text) from error
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise _LoadError("malformed_front_matter", "front matter is not a mapping of keys to values", text)
    return {str(key): value for key, value in data.items()}, body


def _route_keys(text: str) -> dict[str, object]:
    """`id` and `slug` read leniently from a front matter block that failed to parse."""
    block = _FRONT_MATTER_BLOCK.match(text)
    if block is None:
        return {}
    return {m.group("key"): m.group("value").strip("'\"") for m in _ROUTE_KEY.finditer(block.group("yaml"))}


def _string(front_matter: Mapping[str, object], key: str) -> str:
    value = front_matter.get(key)
    if value is None or isinstance(value, dict | list):
        return ""
    return " ".join(str(value).split())


def _humanised_name(relative_path: str) -> str:
    path = PurePosixPath(relative_path)
    name = path.parent.name if is_category_index(relative_path) and path.parent.name else path.stem
    words = " ".join(re.sub(r"[-_]+", " ", strip_number_prefix(name)).split())
    return words[:1].upper() + words[1:] if words else relative_path


def _take_leading_h1(markdown: str) -> tuple[str | None, str]:
    """(title, rest) when the markdown starts with a level-1 heading; else (None, markdown)."""
    stripped = markdown.lstrip("\n")
    first, _, rest = stripped.partition("\n")
    heading = _LEADING_H1.match(first)
    if heading is None:
        return None, markdown
    text, _ = split_explicit_id(heading.group("text"))
    return " ".join(rendered_heading_text(text).split()), rest.lstrip("\n")


@dataclass(frozen=True)
class _Settings:
    docs_base_url: str | None
    url_map: Mapping[str, str] | None
    trailing_slash: bool | None
    source_kind: str
    tags: tuple[str, ...]
    max_bytes: int


def _url_for(relative_path: str, front_matter: Mapping[str, object], settings: _Settings) -> str | None:
    if settings.url_map is not None:
        return settings.url_map.get(relative_path)
    if settings.docs_base_url:
        return docusaurus_url(
            relative_path, front_matter, settings.docs_base_url, trailing_slash=settings.trailing_slash
        )
    return None


def _load_page(root: Path, relative_path: str, settings: _Settings) -> Page:
    text = _decode(_read_bounded(root / relative_path, settings.max_bytes))
    front_matter, body = _split_front_matter(text)
    url = _url_for(relative_path, front_matter, settings)
    assert url is not None  # files without a URL are never loaded
    # Anchors are computed with the leading H1 still in place: Docusaurus counts it when de-duplicating.
    markdown = normalise_heading_anchors(clean_mdx(body))
    h1_title, markdown = _take_leading_h1(markdown)
    title = (
        _string(front_matter, "title")
        or h1_title
        or _string(front_matter, "sidebar_label")
        or _humanised_name(relative_path)
    )
    return Page(
        url=url,
        title=title,
        markdown=markdown.strip("\n") + "\n" if markdown.strip() else "",
        source_kind=settings.source_kind,
        origin=relative_path,
        description=_string(front_matter, "description"),
        tags=settings.tags,
    )


def load_markdown_folder(
    root: Path,
    *,
    docs_base_url: str | None = None,
    url_map: Mapping[str, str] | None = None,
    source_kind: str = "markdown_folder",
    tags: tuple[str, ...] = (),
    max_bytes: int = 2_000_000,
    trailing_slash: bool | None = None,
) -> FolderLoad:
    """Load the pages of a Docusaurus docs folder.

    With `url_map` ({relative path: URL}) only the files it lists are pages (listed files that do not exist
    are deleted pages, skipped); otherwise every .md/.mdx file is, its URL derived from `docs_base_url` the
    way Docusaurus routes docs (`trailing_slash` is the site's `trailingSlash` setting). Files and folders
    starting with `_` are never pages.
    """
    if url_map is None and not docs_base_url:
        raise ValueError("load_markdown_folder needs url_map or docs_base_url to know each page's URL")
    clean_map = None if url_map is None else {_clean_relative_path(p): u for p, u in url_map.items()}
    settings = _Settings(docs_base_url, clean_map, trailing_slash, source_kind, tags, max_bytes)
    candidates = sorted(clean_map) if clean_map is not None else list(_doc_files(root))
    result = FolderLoad()
    for relative_path in candidates:
        if PurePosixPath(relative_path).is_absolute() or ".." in PurePosixPath(relative_path).parts:
            url = _url_for(relative_path, {}, settings)
            result.problems.append(Problem(relative_path, "unreadable", "path is outside the folder", url))
            continue
        if _is_excluded(relative_path) or not os.path.lexists(root / relative_path):
            continue  # a listed file that is gone is a deleted page, not a failure to protect
        try:
            result.pages.append(_load_page(root, relative_path, settings))
        except _LoadError as error:
            url = _url_for(relative_path, _route_keys(error.text), settings)
            result.problems.append(Problem(relative_path, error.kind, error.message, url))
    result.pages, duplicates = _without_duplicate_urls(result.pages)
    result.problems.extend(duplicates)
    result.pages = _with_absolute_links(result.pages, settings)
    result.pages.sort(key=lambda page: (page.url, page.origin))
    result.problems.sort(key=lambda problem: (problem.path, problem.kind))
    return result


def _with_absolute_links(pages: list[Page], settings: _Settings) -> list[Page]:
    # A link to another doc file goes to the URL that file was loaded at (its front matter can move it), else
    # to the URL the folder's mapping would give it.
    loaded = {page.origin: page.url for page in pages}

    def doc_url(relative_path: str) -> str | None:
        return loaded.get(relative_path) or _url_for(relative_path, {}, settings)

    return [
        dataclasses.replace(page, markdown=absolute_links(page.markdown, page.origin, page.url, doc_url))
        for page in pages
    ]


def _without_duplicate_urls(pages: list[Page]) -> tuple[list[Page], list[Problem]]:
    # Two files routed to one URL: Docusaurus serves one of them; keep the first by path and report the rest.
    kept: dict[str, Page] = {}
    problems: list[Problem] = []
    for page in sorted(pages, key=lambda p: p.origin):
        first = kept.setdefault(page.url, page)
        if first is not page:
            message = f"same URL as {first.origin}; only {first.origin} is loaded"
            problems.append(Problem(page.origin, "duplicate_url", message, page.url))
    return list(kept.values()), problems
