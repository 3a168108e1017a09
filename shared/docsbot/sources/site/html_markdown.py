"""Docusaurus (and generic docs site) HTML → normalised page markdown.

The page's main content (a Docusaurus doc article, else `main`/`article`/`[role=main]`, else the body without
its chrome) is converted with a markdownify `MarkdownConverter` subclass that knows Docusaurus' markup:

- headings keep their ids as `## Text {#id}` (the form `docsbot.documents.sections` parses); the page title is separate;
- code blocks are fenced with their language, one source line per line, a title as a `**hello.py**` line;
- admonitions become labelled blockquotes (`> **Tip: Quick start**`; nested ones in the same quote, which a
  heading inside closes so that the heading starts a section), tabs and `details` bold-labelled parts, as
  `docsbot.sources.mdx` writes them for markdown sources;
- tables become GFM tables; every link, image and video URL is absolute (a video is a link named by its
  file); `data:` images are dropped; brackets in text are escaped, so they never read as links;
- Sphinx: a heading takes its section's id (an empty `<span id>` label target before it is an alias);
  footnotes (`aside.footnote`) are content, not chrome.

Long because: one markdownify converter subclass with a method per Docusaurus construct; the methods share
the converter's state and options.
"""

from __future__ import annotations

import codecs
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PreformattedString, Tag
from markdownify import ATX, MarkdownConverter

from docsbot.documents.anchors import fence_mask


@dataclass(frozen=True)
class ExtractedPage:
    """The readable content of one fetched HTML page."""

    title: str
    markdown: str  # normalised: headings as `## Text {#id}`, no leading H1 (the title is separate)
    description: str = ""
    canonical_url: str | None = None  # from <link rel=canonical>, absolute
    docs_version: str | None = None  # Docusaurus docs version name ("current", "1.0"); None if not a docs page
    is_docusaurus: bool = False
    has_article: bool = True  # False when no main content and no title heading was found (a JavaScript page?)


_PARSER = "lxml" if importlib.util.find_spec("lxml") is not None else "html.parser"

# Where the content is, best first. Docusaurus doc pages, then other Docusaurus pages (blog, md pages).
_DOCUSAURUS_ROOTS = ("article div.theme-doc-markdown.markdown", "div.theme-doc-markdown", "article div.markdown")
_GENERIC_ROOTS = ("main", "article", "[role=main]", "body")

# Page chrome: never content, wherever it appears inside the chosen root.
_CHROME = ", ".join(
    (
        *("script", "style", "noscript", "template", "svg", "button", "iframe", "select", "link", "meta"),
        # Sphinx footnotes are `aside`s too, but content: the `[1]` references in the text point at them.
        *("nav", "aside:not(.footnote):not(.footnote-list)", "footer", "[role=navigation]"),
        *(".theme-doc-card-icon", "[class*=cardTitleIcon_]"),
        *("a.hash-link", "a.headerlink", ".theme-doc-breadcrumbs", ".theme-doc-toc-mobile", ".theme-doc-toc-desktop"),
        *(".pagination-nav", ".theme-doc-footer", ".theme-edit-this-page", ".theme-last-updated"),
        *(".theme-doc-version-banner", ".theme-doc-version-badge", "[class*=admonitionIcon_]"),
        # Line numbers drawn by the page (Docusaurus' are CSS counters in empty spans; others hold digits).
        *("[class*=codeLineNumber_]", ".linenos", ".lineno", ".line-numbers-rows"),
    )
)

# Invisible characters that only get in the way (the hash-link's zero-width space, soft hyphens, BOMs), and
# no-break spaces, which read as spaces. Zero-width (non-)joiners stay: they shape emoji and some scripts.
_CHARACTERS = str.maketrans({"\u200b": "", "\u2060": "", "\ufeff": "", "\u00ad": "", "\u00a0": " ", "\u202f": " "})
_SPECIAL = re.compile("[\u200b\u2060\ufeff\u00ad\u00a0\u202f]")

_ADMONITION_KINDS = frozenset(
    {"note", "tip", "info", "warning", "danger", "caution", "important", "hint", "attention", "error", "success"}
)
_LANGUAGE_CLASS = re.compile(r"^(?:language|lang|highlight)-(?P<lang>[\w#+.-]+)$")
_HEADING_ID = re.compile(r"[\w-]+")
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_NOT_LANGUAGES = frozenset({"default", "none"})  # Sphinx' `highlight-default`: the language is unknown
_TITLE_SUFFIX = re.compile(r"\s+\|\s+[^|]*$")
_BLANK_OR_SPACE = re.compile(r"[ \t]+$")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")
_CODE_SPAN = re.compile(r"(`+).+?(?<!`)\1(?!`)")
_HEADING_LINE = re.compile(r"^#{1,6} ")
_HEADING_MARKUP = re.compile(r"(?m)^#{1,6} |[ \t]*\{#[\w-]+\}$")
# Text that would read as markup at the start of a line: a heading, a quote, a list item.
_LINE_START_MARKUP = re.compile(r"(?m)^(?P<mark>#{1,6}(?=[ \t]|$)|>|[-+](?=[ \t]|$)|\d{1,9}(?=[.)](?:[ \t]|$)))")
_ESCAPABLE_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")  # a backslash that would escape what follows
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # not between letters/digits: could be emphasis
_URL_UNSAFE = str.maketrans({" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"})
_MEANINGLESS_ENCODINGS = frozenset({"utf-16", "utf-16le", "utf-16be", "utf-32", "utf-32le", "utf-32be"})
# WHATWG: these labels mean windows-1252 in HTML.
_WINDOWS_1252_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"})


def extract_page(html: bytes | str, url: str) -> ExtractedPage:
    """The main content of `html`, fetched from `url`, as markdown with absolute links."""
    soup = BeautifulSoup(_decode(html), _PARSER)
    base_url = _base_url(soup, url)
    generator = _meta(soup, "generator")
    is_docusaurus = generator.startswith("Docusaurus")
    root = _content_root(soup)
    # A heading in the content is server-rendered content: a page with a title and nothing else (a category
    # page) is complete as it is, not a JavaScript shell to render (every shell has a <title>, not an h1).
    has_heading = root is not None and _heading(soup, root) is not None
    title = _title(soup, root)
    markdown = ""
    if root is not None:
        _prepare(root)
        markdown = _to_markdown(root, base_url)
    canonical = _link_href(soup, "canonical")
    return ExtractedPage(
        title=title,
        markdown=markdown,
        description=_clean_text(_meta(soup, "description")),
        canonical_url=urljoin(base_url, canonical) if canonical else None,
        docs_version=_docs_version(soup),
        is_docusaurus=is_docusaurus,
        has_article=bool(markdown.strip()) or has_heading,
    )


# --- Decoding and page metadata -----------------------------------------------------------------------


def _decode(html: bytes | str) -> str:
    """Text of the page: bytes decoded by their BOM, else their `<meta charset>`, else as UTF-8."""
    if isinstance(html, str):
        text = html
    else:
        encoding, body = _sniff_encoding(html)
        text = body.decode(encoding, errors="replace")
    # NUL is never text in HTML; U+FFFD is what browsers show for it.
    return text.lstrip("\ufeff").replace("\x00", "\ufffd")


def _sniff_encoding(data: bytes) -> tuple[str, bytes]:
    """(encoding, bytes without the BOM) for a page's bytes."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return encoding, data[len(bom) :]
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    if declared:
        declared = declared.strip().lower()
        if declared in _WINDOWS_1252_LABELS:
            return "windows-1252", data
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            name = ""
        # A page whose bytes hold an ASCII `<meta charset>` cannot be UTF-16: browsers read it as UTF-8.
        if name and name not in _MEANINGLESS_ENCODINGS:
            return name, data
    return "utf-8", data


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _classes(tag: Tag) -> list[str]:
    return _attr(tag, "class").split()


def _meta(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find("meta", attrs={"name": name})
    return _attr(tag, "content").strip() if isinstance(tag, Tag) else ""


def _link_href(soup: BeautifulSoup, rel: str) -> str:
    tag = soup.select_one(f'link[rel~="{rel}"][href]')
    return _attr(tag, "href").strip() if tag is not None else ""


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    return urljoin(url, _attr(base, "href").strip()) if isinstance(base, Tag) else url


def _docs_version(soup: BeautifulSoup) -> str | None:
    version = _meta(soup, "docusaurus_version")
    if version:
        return version
    html = soup.find("html")
    if isinstance(html, Tag):
        for name in _classes(html):
            if name.startswith("docs-version-") and len(name) > len("docs-version-"):
                return name[len("docs-version-") :]
    return None


def _clean_text(text: str) -> str:
    return " ".join(text.translate(_CHARACTERS).split())


def _title(soup: BeautifulSoup, root: Tag | None) -> str:
    """The page title: Docusaurus' article heading, else the content's first h1, else `<title>`.

    The heading used is removed from the content, so the markdown does not start with it.
    """
    heading = _heading(soup, root)
    if heading is not None:
        for permalink in heading.select("a.hash-link, a.headerlink"):
            permalink.decompose()
        text = _clean_text(heading.get_text(" "))
        if root is not None and _inside(heading, root):
            heading.decompose()
        if text:
            return text
    title = soup.find("title")
    if isinstance(title, Tag):
        return _TITLE_SUFFIX.sub("", _clean_text(title.get_text()))
    return ""


def _heading(soup: BeautifulSoup, root: Tag | None) -> Tag | None:
    """The page's title heading: Docusaurus' article heading, else the content's first h1."""
    heading = soup.select_one("article header h1")
    if heading is None and root is not None:
        heading = root.find("h1")
    return heading if isinstance(heading, Tag) else None


def _inside(tag: Tag, root: Tag) -> bool:
    return tag is root or any(parent is root for parent in tag.parents)


# --- Content root and clean-up ------------------------------------------------------------------------


def _content_root(soup: BeautifulSoup) -> Tag | None:
    """The element holding the page's readable content, or None when the page has none."""
    for selector in (*_DOCUSAURUS_ROOTS, *_GENERIC_ROOTS):
        for candidate in soup.select(selector):
            if _has_content(candidate):
                return candidate
    return None


def _has_content(tag: Tag) -> bool:
    # Text outside scripts and styles, or an image: a JavaScript shell (`<div id="root"></div>`) has neither.
    for element in tag.descendants:
        if isinstance(element, Tag):
            if element.name == "img":
                return True
        elif isinstance(element, NavigableString) and _is_visible_text(element):
            return True
    return False


def _is_visible_text(text: NavigableString) -> bool:
    if isinstance(text, PreformattedString) or not text.strip():
        return False
    return text.parent is None or text.parent.name not in ("script", "style", "noscript", "template")


def _prepare(root: Tag) -> None:
    """Drop the chrome inside the content and normalise invisible characters and no-break spaces."""
    for tag in root.select(_CHROME):
        if not tag.decomposed:
            tag.decompose()
    for header in root.find_all("header"):
        # An article's or main's header holds its title (already taken) and lead; any other is the site's.
        if isinstance(header, Tag) and header.find_parent(["article", "main"]) is None:
            header.decompose()
    for text in list(root.find_all(string=_SPECIAL)):
        if isinstance(text, NavigableString) and not isinstance(text, PreformattedString):
            text.replace_with(NavigableString(text.translate(_CHARACTERS)))


# --- The converter --------------------------------------------------------------------------------------


def _to_markdown(root: Tag, base_url: str) -> str:
    converter = _DocsConverter(base_url)
    try:
        markdown = converter.convert_soup(root)
    except RecursionError:
        # Absurdly deep markup (thousands of unclosed elements): its text beats nothing.
        markdown = "\n\n".join(line.strip() for line in root.get_text("\n").split("\n"))
    return _tidy(markdown)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _bold_line(text: str) -> str:
    text = _flat(text.replace("**", ""))  # bold inside bold would end it early
    return f"\n\n**{text}**\n\n" if text else ""


def _fence(code: str, info: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{code}\n{fence}"


def _code_text(tag: Tag) -> str:
    """Text of code markup with `<br>` as line breaks."""
    parts: list[str] = []
    for element in tag.descendants:
        if isinstance(element, Tag):
            if element.name == "br":
                parts.append("\n")
        elif not isinstance(element, PreformattedString):
            parts.append(str(element))
    return "".join(parts)


def _code_lines(pre: Tag) -> str:
    # Docusaurus puts each line in a `.token-line` ending in `<br>`; other sites use newlines in the text.
    lines = pre.find_all(class_="token-line")
    text = "\n".join(_code_text(line).rstrip("\r\n") for line in lines) if lines else _code_text(pre)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _language(tags: Iterable[Tag | None]) -> str:
    for tag in tags:
        if tag is None:
            continue
        for name in _classes(tag):
            match = _LANGUAGE_CLASS.match(name)
            if match:
                return "" if match.group("lang") in _NOT_LANGUAGES else match.group("lang")
    return ""


def _quote(markdown: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in markdown.split("\n"))


def _quote_around_headings(markdown: str) -> str:
    """`markdown` as a blockquote, closed before each heading so that the heading starts a section."""
    lines = markdown.split("\n")
    parts: list[str] = []
    quoted: list[str] = []

    def close_quote() -> None:
        text = "\n".join(quoted).strip("\n")
        if text:
            parts.append(_quote(text))
        quoted.clear()

    for line, fenced in zip(lines, fence_mask(lines), strict=True):
        if not fenced and _HEADING_LINE.match(line):
            close_quote()
            parts.append(line)
        else:
            quoted.append(line)
    close_quote()
    return "\n\n".join(parts)


def _admonition_kind(tag: Tag) -> str | None:
    classes = _classes(tag)
    for name in classes:
        if name.startswith("theme-admonition-"):
            return name[len("theme-admonition-") :]
    if "admonition" not in classes:
        return None
    # MkDocs and Sphinx (`div.admonition.note > p.admonition-title`), Docusaurus 2 (`div.admonition-tip`).
    for name in classes:
        kind = name.removeprefix("admonition-")
        if kind in _ADMONITION_KINDS:
            return kind
    return "note"


def _own(tag: Tag, container: Tag, marker: str) -> bool:
    """Whether `tag`'s nearest ancestor with class `marker` is `container` (not a nested one)."""
    for parent in tag.parents:
        if parent is container:
            return True
        if marker in _classes(parent):
            return False
    return False


# markdownify's stub declares only convert() and convert_soup(): the methods overridden below are untyped.
_MarkdownConverter: Any = MarkdownConverter


class _DocsConverter(_MarkdownConverter):  # type: ignore[misc]
    """markdownify with Docusaurus' code blocks, admonitions, tabs and heading ids; absolute URLs."""

    def __init__(self, base_url: str) -> None:
        super().__init__(heading_style=ATX, bullets="-", table_infer_header=True)
        self.base_url = base_url
        self._item_numbers: dict[int, int] = {}

    # Elements converted as a whole rather than from their children's markdown.

    def process_tag(self, node: Tag, parent_tags: set[str] | None = None) -> str:
        parents = parent_tags if parent_tags is not None else set()
        classes = _classes(node) if node.name in ("div", "pre") else []
        if node.name == "pre" or "theme-code-block" in classes:
            return self._code_block(node, parents)
        if node.name == "div":
            kind = _admonition_kind(node)
            if kind is not None:
                return self._admonition(node, kind, parents)
            if "tabs-container" in classes:
                return self._tabs(node, parents)
        if node.name == "a" and any(
            c == "theme-doc-card-container" or c.startswith("cardContainer_") for c in _classes(node)
        ):
            return self._doc_card(node, parents)
        result: str = super().process_tag(node, parent_tags=parents)
        return result

    def _code_block(self, node: Tag, parents: set[str]) -> str:
        pre = node if node.name == "pre" else node.find("pre")
        if not isinstance(pre, Tag):
            result: str = super().process_tag(node, parent_tags=parents)
            return result
        code = _code_lines(pre)
        if not code:
            return ""
        if "_inline" in parents:  # a GFM table cell cannot hold a fence
            inline: str = self.convert_code(pre, _flat(code), set())
            return f" {inline} "
        code_tag = pre.find("code")
        code_el = code_tag if isinstance(code_tag, Tag) else None
        language = _language((node, pre, code_el, pre.parent, pre.parent.parent if pre.parent else None))
        title_tag = node.select_one("[class*=codeBlockTitle_]") if node is not pre else None
        title = _bold_line(title_tag.get_text(" ")) if title_tag is not None else ""
        return f"\n\n{title}{_fence(code, language)}\n\n"

    def _admonition(self, node: Tag, kind: str, parents: set[str]) -> str:
        heading = node.find(
            lambda t: (
                isinstance(t, Tag)
                and any(
                    c.startswith("admonitionHeading_") or c in ("admonition-title", "admonition-heading")
                    for c in _classes(t)
                )
            ),
            recursive=False,
        )
        label_text = ""
        if isinstance(heading, Tag):
            label_text = _flat(heading.get_text(" ").replace("**", ""))
            heading.extract()
        body: str = super().process_tag(node, parent_tags=parents | {"_admonition"})
        label = kind.capitalize()
        if label_text and label_text.lower() != kind.lower():
            label = f"{label}: {label_text}"
        if "_inline" in parents:
            return f" **{label}** {_flat(body)} "
        body = body.strip("\n")
        block = f"**{label}**\n\n{body}" if body else f"**{label}**"
        if "_admonition" in parents:  # nested: one quote level, as docsbot.sources.mdx writes them
            return f"\n\n{block}\n\n"
        return f"\n\n{_quote_around_headings(block)}\n\n"

    def _tabs(self, node: Tag, parents: set[str]) -> str:
        tablist = next((t for t in node.select("[role=tablist]") if _own(t, node, "tabs-container")), None)
        labels = [_flat(tab.get_text(" ")) for tab in tablist.select("[role=tab]")] if tablist is not None else []
        panels = [p for p in node.select("[role=tabpanel]") if _own(p, node, "tabs-container")]
        if not panels:  # not Docusaurus' markup after all: its text as it comes
            result: str = super().process_tag(node, parent_tags=parents)
            return result
        children = parents | {node.name}
        parts: list[str] = []
        for index, panel in enumerate(panels):
            label = labels[index] if index < len(labels) else ""
            content = self.process_tag(panel, children).strip("\n")
            parts.append(_bold_line(label) + content)
        if "_inline" in parents:
            return " " + _flat(" ".join(parts)) + " "
        return "\n\n" + "\n\n".join(parts) + "\n\n"

    def _doc_card(self, node: Tag, parents: set[str]) -> str:
        """A card of a Docusaurus category index: `[Title](url): description`."""
        title = node.select_one(".theme-doc-card-title, [class*=cardTitle_]")
        description = node.select_one(".theme-doc-card-description, [class*=cardDescription_]")
        href = _attr(node, "href").strip()
        if title is None or not href:
            result: str = super().process_tag(node, parent_tags=parents)
            return result
        line = f"[{_flat(title.get_text(' '))}]({self._absolute(href)})"
        if description is not None and _flat(description.get_text(" ")):
            line += f": {_flat(description.get_text(' '))}"
        return f" {line} " if "_inline" in parents else f"\n\n{line}\n\n"

    # Inline and block conversions.

    def escape(self, text: str, parent_tags: set[str]) -> str:
        if not text:
            return ""
        text = _ESCAPABLE_BACKSLASH.sub(r"\\\\", text).replace("*", r"\*").replace("`", r"\`")
        # Brackets in text are text: `name[type parameters](parameters)` must not read as a link.
        text = text.replace("[", r"\[").replace("]", r"\]")
        text = _LOOSE_UNDERSCORE.sub(r"\\_", text)
        return _LINE_START_MARKUP.sub(_escape_line_start, text)

    def process_text(self, el: NavigableString, parent_tags: set[str] | None = None) -> str:
        text: str = super().process_text(el, parent_tags=parent_tags)
        if isinstance(el.previous_sibling, Tag) and el.previous_sibling.name == "br":
            text = text.lstrip(" \t")  # the next line after a break starts at its text
        return text

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = _flat(text)
        if "_inline" in parent_tags:
            return text
        if not text:
            return ""
        anchor = _heading_id(el)
        suffix = f" {{#{anchor}}}" if anchor else ""
        return f"\n\n{'#' * max(1, min(6, n))} {text}{suffix}\n\n"

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags:
            return text
        href = _attr(el, "href").strip()
        stripped = text.strip()
        if not stripped:
            return ""
        if not href or href == "#" or href.lower().startswith("javascript:"):
            return text
        url = self._absolute(href)
        prefix = " " if text[:1].isspace() else ""
        suffix = " " if text[-1:].isspace() else ""
        if "\n" in stripped or "_inline" in parent_tags or _HEADING_MARKUP.search(stripped):
            # Link text is one line without heading markup: a card (`<a><h5>Title</h5><p>Text</p></a>`) becomes
            # `[Title Text](url)`.
            stripped = _flat(_HEADING_MARKUP.sub("", stripped))
        return f"{prefix}[{stripped}]({url}){suffix}"

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        src = _attr(el, "src").strip()
        alt = _flat(_attr(el, "alt")).replace("[", "\\[").replace("]", "\\]")
        if not src or src.lower().startswith("data:"):
            return ""  # inline (base64) images are bytes, not text
        if any(heading in parent_tags for heading in _HEADING_TAGS):
            return alt
        return f"![{alt}]({self._absolute(src)})"

    def convert_video(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        """A video is a link to its file, named by its title or file name (`[demo.webm](https://…/demo.webm)`)."""
        source = el.find("source", src=True)
        src = _attr(el, "src").strip() or (_attr(source, "src").strip() if isinstance(source, Tag) else "")
        if not src or src.lower().startswith("data:"):
            return text
        url = self._absolute(src)
        name = _flat(_attr(el, "title") or _attr(el, "aria-label")) or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        label = (name or url).replace("[", "\\[").replace("]", "\\]")
        return f" [{label}]({url}) " if "_inline" in parent_tags else f"\n\n[{label}]({url})\n\n"

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return " " if "_inline" in parent_tags else "\n"

    def convert_summary(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f" {_flat(text)} " if "_inline" in parent_tags else _bold_line(text)

    def convert_details(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        result: str = self.convert_div(el, text, parent_tags)
        return result

    def convert_input(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if _attr(el, "type").lower() != "checkbox":
            return ""
        return "[x] " if el.has_attr("checked") else "[ ] "

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        bullet = f"{self._item_number(el, parent)}." if parent is not None and parent.name == "ol" else "-"
        indent = " " * (len(bullet) + 1)
        lines = text.split("\n")
        rest = [f"{indent}{line}" if line else "" for line in lines[1:]]
        return "\n".join([f"{bullet} {lines[0]}", *rest]) + "\n"

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        cell: str = super().convert_td(el, _cell(text), parent_tags)
        return cell

    def convert_th(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        cell: str = super().convert_th(el, _cell(text), parent_tags)
        return cell

    def _item_number(self, item: Tag, ol: Tag) -> int:
        # Numbered once per list (markdownify counts previous siblings for every item: quadratic).
        if id(item) not in self._item_numbers:
            start = _attr(ol, "start").strip()
            number = int(start) if start.lstrip("-").isdigit() else 1
            for child in ol.find_all("li", recursive=False):
                value = _attr(child, "value").strip()
                if value.lstrip("-").isdigit():
                    number = int(value)
                self._item_numbers[id(child)] = number
                number += 1
        return self._item_numbers.get(id(item), 1)

    def _absolute(self, href: str) -> str:
        url = urljoin(self.base_url, href)
        if urlsplit(url).scheme.lower() not in ("http", "https", "mailto", "ftp", ""):
            return href
        return url.translate(_URL_UNSAFE)


def _escape_line_start(match: re.Match[str]) -> str:
    mark = match.group("mark")
    return f"{mark}\\" if mark[0].isdigit() else f"\\{mark}"


def _heading_id(el: Tag) -> str:
    anchor = _attr(el, "id").strip()
    parent = el.parent
    if not anchor and isinstance(parent, Tag) and (parent.name == "section" or "section" in _classes(parent)):
        # Sphinx puts the id on the section the heading opens (`div.section` before docutils 0.17); a `.. _label:`
        # target before the section adds an empty `<span id="label">` ahead of the heading: an alias, skipped.
        first = next((c for c in parent.find_all(True, recursive=False) if not _is_empty_target(c)), None)
        anchor = _attr(parent, "id").strip() if first is el else ""
    return anchor if _HEADING_ID.fullmatch(anchor) else ""


def _is_empty_target(tag: Tag) -> bool:
    return tag.name == "span" and tag.has_attr("id") and not tag.get_text(strip=True) and tag.find(True) is None


def _cell(text: str) -> str:
    """One GFM table cell: a single line, its pipes escaped."""
    return _flat(text).replace("|", "\\|")


def _collapse_spaces(line: str) -> str:
    # Dropped elements (an inline data: image) leave two spaces between words; inline code keeps its own.
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(_INNER_SPACES.sub(" ", line[last : span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(_INNER_SPACES.sub(" ", line[last:]))
    return "".join(parts)


def _tidy(markdown: str) -> str:
    """No trailing spaces, no runs of blank lines outside code, one final newline (or nothing at all)."""
    lines = markdown.translate(_CHARACTERS).split("\n")
    in_fence = fence_mask(lines)
    out: list[str] = []
    for line, fenced in zip(lines, in_fence, strict=True):
        line = _BLANK_OR_SPACE.sub("", line)
        if not fenced and "  " in line.lstrip(" "):
            line = _collapse_spaces(line)
        if not fenced and not line.strip():
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n" if out else ""
