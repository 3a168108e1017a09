"""The URL Docusaurus' docs plugin gives a doc file, from its path and front matter.

This follows the plugin's slug rules (`getSlug` in @docusaurus/plugin-content-docs): number prefixes are
stripped from folder names and from the file name; `index.md`, `README.md` and a file named like its folder
map to the folder URL; front-matter `id` replaces the file name; front-matter `slug` is absolute (relative to
the docs root) when it starts with `/`, otherwise resolved against the file's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import quote

# Docusaurus' DefaultNumberPrefixParser: `01-intro` -> `intro`, but dates and versions are not prefixes.
_IGNORED_PREFIX = re.compile(r"^(?:\d{2}|\d{4})[-_.]\d{2}(?:[-_.](?:\d{2}|\d{4}))?|^\d+[-_.]\d+")
_NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]+\s*(?P<rest>.*)$")
# Characters left as they are in URL paths; everything else (spaces, non-ASCII) is percent-encoded.
_SAFE_PATH_CHARS = "/-._~!$&'()*+,;=:@%"


def strip_number_prefix(name: str) -> str:
    """`01-intro` -> `intro`; `2021-01-01-post` and `1.2-notes` keep their numbers."""
    if _IGNORED_PREFIX.match(name):
        return name
    match = _NUMBER_PREFIX.match(name)
    return match.group("rest") if match else name


def _front_matter_string(front_matter: Mapping[str, object], key: str) -> str | None:
    value = front_matter.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def _resolve_pathname(to: str, base_dir: str) -> str:
    # As the resolve-pathname package does for Docusaurus: like a browser resolving a relative link.
    parts = [*base_dir.split("/")[:-1], *to.split("/")]
    trailing_slash = parts[-1] in (".", "..", "")
    resolved: list[str] = []
    for part in parts:
        if part == ".":
            continue
        if part == "..":
            if len(resolved) > 1:
                resolved.pop()
            continue
        resolved.append(part)
    path = "/".join(resolved)
    if not path.startswith("/"):
        path = "/" + path
    if trailing_slash and not path.endswith("/"):
        path += "/"
    return path


def is_category_index(relative_path: str) -> bool:
    """Whether Docusaurus maps a doc file to its folder's URL: `index`, `README` or `<folder>/<folder>`."""
    path = PurePosixPath(relative_path.replace("\\", "/"))
    names = {"index", "readme"}
    if path.parent.name:
        names.add(path.parent.name.lower())
    return path.stem.lower() in names


def docusaurus_slug(relative_path: str, front_matter: Mapping[str, object]) -> str:
    """The doc's path below the docs root, starting with `/` (`/guides/intro`, `/usage/`)."""
    path = PurePosixPath(relative_path.replace("\\", "/"))
    folder = path.parent.as_posix()
    folder_slug = "/"
    if folder != ".":
        folder_slug = "/" + "/".join(strip_number_prefix(part) for part in path.parent.parts) + "/"
    slug = _front_matter_string(front_matter, "slug")
    if slug is not None and slug.startswith("/"):
        return slug
    if slug is None and is_category_index(relative_path):
        return folder_slug
    doc_id = _front_matter_string(front_matter, "id") or strip_number_prefix(path.stem)
    return _resolve_pathname(slug or doc_id, folder_slug)


def docusaurus_url(
    relative_path: str,
    front_matter: Mapping[str, object],
    docs_base_url: str,
    *,
    trailing_slash: bool | None = None,
) -> str:
    """The public URL of a doc file; `docs_base_url` is the docs root (`https://example.com/docs/`).

    `trailing_slash` is the site's `trailingSlash` setting: None (the default) keeps the slug as it is,
    so only folder-index pages end in `/`; True adds a slash to every URL; False removes it.
    """
    path = re.sub(r"/{2,}", "/", docusaurus_slug(relative_path, front_matter))
    if trailing_slash is True and not path.endswith("/"):
        path += "/"
    elif trailing_slash is False and path != "/":
        path = path.rstrip("/")
    return docs_base_url.rstrip("/") + quote(path, safe=_SAFE_PATH_CHARS)
