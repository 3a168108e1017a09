"""MDX (Docusaurus flavour) to plain markdown, keeping every piece of text a reader would see.

Code keeps its text; a fence keeps only its language (Docusaurus' `title="…"` becomes a bold line above
it, `{1,3-5}` and `showLineNumbers` go) and loses Docusaurus' magic comments (`// highlight-next-line`,
`# highlight-start`, ... in any comment syntax), which the site never shows. Outside code: ESM
`import`/`export` blocks and comments go; `<Tabs>` become bold-labelled parts (not headings, which would
invent anchors the real page lacks); admonitions (`:::tip Title`) become labelled blockquotes (nested ones
inside the same quote, not `> >`); other JSX and HTML tags are dropped but their text children stay;
multi-line template-literal props (`<GraphiQLIDE query={`...`} />`) become code blocks.

Long because: one pass over the MDX text with the rules for each construct side by side; splitting them
would separate rules that must agree on where code fences start and end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from docsbot.documents.anchors import fence_mask

_FENCE_PLACEHOLDER = re.compile("\x00F(\\d+)\x00")
# A fence's opening line: what precedes the fence (indent, quote marks), the fence, its info string.
_FENCE_INFO = re.compile(r"^(?P<lead>(?P<prefix>(?:[ \t]*>)*[ \t]*)(?:`{3,}|~{3,}))(?P<info>.*)$")
_FENCE_LANGUAGE = re.compile(r"[ \t]*(?P<language>[\w#+.-]+)(?![\w#+.=-])")
_FENCE_TITLE = re.compile(r"\btitle=(?:\"(?P<title>[^\"]*)\"|'(?P<title2>[^']*)')")
# Docusaurus' magic comments (highlight-next-line, highlight-start/-end, error-...): never shown on the page.
_MAGIC_COMMENT = re.compile(
    r"^(?:[ \t]*>)*[ \t]*(?://|#|--|;|%|/\*|<!--|\{/\*)[ \t]*(?:highlight|error)-(?:next-line|start|end)"
    r"[ \t]*(?:\*/\}|\*/|-->)?[ \t]*$"
)
_ESM_START = re.compile(
    r"^(?:import\s*(?:['\"{*]|type\s|[\w$]+\s*(?:,|from\b))"
    r"|export\s*(?:[{*]|(?:const|let|var|function|class|default|async|type|interface)\b))"
)
# Lines that carry on an ESM statement: indented, closing brackets, a `from` clause.
_ESM_CONTINUATION = re.compile(r"^(?:[ \t]+\S|[})\].]|from\b)")
_TEXT_COMMENT = re.compile(r"\{\s*/\*.*?\*/\s*\}", re.DOTALL)
_TEXT_LITERAL = re.compile(r"\{\s*(?P<q>['\"`])(?P<body>(?:\\.|(?!(?P=q))[^\\])*)(?P=q)\s*\}", re.DOTALL)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SPACE = re.compile(r"\s*")
_EQUALS = re.compile(r"\s*=\s*")
_NAME = re.compile(r"[A-Za-z][\w.:-]*")
_ATTR_NAME = re.compile(r"[^\s=<>/{}\"'`]+")
_BARE_VALUE = re.compile(r"[^\s\"'=<>`]+")
_OBJECT = re.compile(r"\{[^{}]*\}")
_OBJECT_FIELD = re.compile(r"(?P<key>label|value)\s*:\s*(?P<q>['\"`])(?P<text>.*?)(?P=q)")
_ADMONITION_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<colons>:{3,})(?P<kind>[A-Za-z][\w-]*)"
    r"(?:\[(?P<label>[^\]]*)\])?(?:\{[^}]*\})?(?:[ \t]+(?P<title>.*?))?[ \t]*$"
)
_MAX_ADMONITION_DEPTH = 6  # deeper openings are read as text: `> > > ...` prefixes must stay bounded
_ADMONITION_CLOSE = re.compile(r"^[ \t]*(?P<colons>:{3,})[ \t]*$")
# A closing fence glued to text by reflowing (`text. :::` or `::: text`).
_GLUED_CLOSE = (
    re.compile(r"^(?P<before>.*?\S)[ \t]+(?P<colons>:{3,})[ \t]*$"),
    re.compile(r"^[ \t]*(?P<colons>:{3,})[ \t]+(?P<after>\S.*)$"),
)

# HTML elements that start a new block: rendered as line breaks around their text.
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "center", "hr"),
        *("table", "thead", "tbody", "tfoot", "ul", "ol", "dl", "dt", "dd"),
        *("blockquote", "figure", "figcaption", "details"),
    }
)
# Elements whose whole text becomes one bold line: raw HTML headings get no anchor on the real page, unless
# they carry an `id`.
_BOLD_LINE_TAGS = frozenset({"summary", "h1", "h2", "h3", "h4", "h5", "h6", "caption", "legend"})
_INLINE_MARKS = {"b": "**", "strong": "**", "i": "_", "em": "_", "code": "`", "kbd": "`", "del": "~~"}
_CELL = "\x01"  # marks where a table cell starts while a row is collected
_CODE_PROP_LANGUAGES = {"query": "graphql", "mutation": "graphql", "variables": "json", "response": "json"}


@dataclass(frozen=True)
class _Tag:
    name: str
    kind: str  # "open", "close" or "self"
    attrs: dict[str, str]
    code_props: tuple[tuple[str, str], ...] = ()  # multi-line template-literal props, in source order


@dataclass(frozen=True)
class _Literal:
    """A JSX string expression in text, such as `{' '}`: its characters render as they are."""

    text: str


_Token = str | _Tag | _Literal


def clean_mdx(text: str) -> str:
    """Plain markdown for an MDX document body (front matter already removed)."""
    # NUL is not valid in markdown (CommonMark reads it as U+FFFD) and marks placeholders here.
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = text.replace("\x00", "\ufffd").replace(_CELL, " ")
    fences: list[str] = []
    text = _hide_fences(text, fences)
    text = _drop_esm(text)
    text = _Renderer(fences).render(_tokenize(text))
    text = _FENCE_PLACEHOLDER.sub(lambda m: fences[int(m.group(1))], text)
    lines = _admonitions_to_blockquotes(text.split("\n"))
    return _tidy(lines)


def _hide_fences(text: str, fences: list[str]) -> str:
    # Each fenced block becomes one placeholder line, so no later step can look inside it.
    lines = text.split("\n")
    mask = fence_mask(lines)
    out: list[str] = []
    index = 0
    while index < len(lines):
        if not mask[index]:
            out.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and mask[end]:
            end += 1
        fences.append(_clean_fence(lines[index:end]))
        out.append(f"\x00F{len(fences) - 1}\x00")
        index = end
    return "\n".join(out)


def _clean_fence(lines: list[str]) -> str:
    """A fenced block as the site shows it: the language kept, other metadata and magic comments gone.

    `title="a.py"` becomes a bold line above the fence, as the crawler writes Docusaurus' code titles.
    """
    opening = _FENCE_INFO.match(lines[0])
    if opening is None:
        return "\n".join(lines)
    info = opening.group("info")
    language = _FENCE_LANGUAGE.match(info)
    title = _FENCE_TITLE.search(info)
    head = [f"{opening.group('lead')}{language.group('language') if language else ''}"]
    title_text = " ".join((title.group("title") or title.group("title2") or "").split()) if title else ""
    if title_text:
        prefix = opening.group("prefix")
        head = [f"{prefix}**{title_text.replace('**', '')}**", prefix.rstrip(), *head]
    body = [line for line in lines[1:] if not _MAGIC_COMMENT.match(line)]
    return "\n".join([*head, *body])


def _bracket_depth(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _drop_esm(text: str) -> str:
    # MDX reads `import`/`export` at the start of a line as JavaScript that runs to the next blank line;
    # a line that cannot continue the statement ends it too, so text right after an import is kept.
    out: list[str] = []
    depth = 0
    in_esm = False
    for line in text.split("\n"):
        if not in_esm and _ESM_START.match(line):
            in_esm, depth = True, _bracket_depth(line)
            continue
        if in_esm:
            if depth > 0 or _ESM_START.match(line) or _ESM_CONTINUATION.match(line):
                depth += _bracket_depth(line)
                continue
            in_esm = False
        out.append(line)
    return "\n".join(out)


class _Unclosed(Exception):
    """A string or expression that does not end where it may; `stop` is where reading gave up."""

    def __init__(self, stop: int) -> None:
        super().__init__(stop)
        self.stop = stop


def _skip_quoted(text: str, start: int, *, multiline: bool = False) -> int:
    """Index after the string literal starting at `start` (', " or `); raises _Unclosed if it never ends.

    Only template literals and (with `multiline`) JSX attribute strings may span lines, and only template
    literals may hold a blank line.
    """
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == quote:
            return index + 1
        if char == "\n" and quote != "`" and (not multiline or _BLANK_LINE.match(text, index)):
            raise _Unclosed(index)
        index += 1
    raise _Unclosed(len(text))


def _skip_expression(text: str, start: int) -> int:
    """Index after the balanced `{...}` starting at `start`; _Unclosed if no `}` comes before a blank line."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in "'\"`":
            index = _skip_quoted(text, index)
            continue
        if text.startswith("/*", index):
            close = text.find("*/", index + 2)
            if close < 0:
                raise _Unclosed(len(text))
            index = close + 2
            continue
        if char == "\n" and _BLANK_LINE.match(text, index):
            raise _Unclosed(index)
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise _Unclosed(len(text))


def _unescape_js(body: str) -> str:
    return re.sub(r"\\([`\\$'\"])", r"\1", body)


def _literal_value(expression: str) -> tuple[str, bool] | None:
    """(text, is_template) when a `{...}` expression is a single string or template literal."""
    inner = expression[1:-1].strip()
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"`":
        try:
            end = _skip_quoted(inner, 0)
        except _Unclosed:
            return None
        if end == len(inner):
            return _unescape_js(inner[1:-1]), inner[0] == "`"
    return None


def _parse_tag(text: str, start: int) -> tuple[_Tag, int] | None:
    """The JSX/HTML tag starting at `start` (a `<`) and the index after it, or None if it is not one.

    Raises _Unclosed when an attribute's string or expression does not end.
    """
    index = start + 1
    closing = text.startswith("/", index)
    if closing:
        index += 1
    name_match = _NAME.match(text, index)
    name = name_match.group(0) if name_match else ""
    if name_match is None and not text.startswith(">", index):
        return None  # `<` followed by anything but a name or `>` (a fragment) is just text
    index = name_match.end() if name_match else index
    attrs: dict[str, str] = {}
    code_props: list[tuple[str, str]] = []
    while True:
        whitespace = _SPACE.match(text, index)
        assert whitespace is not None  # `\s*` always matches
        if whitespace.group(0).count("\n") >= 2:
            return None  # a blank line inside a tag: this was never a tag
        index = whitespace.end()
        if index >= len(text):
            return None
        if text.startswith("/>", index) and not closing:
            return _Tag(name, "self", attrs, tuple(code_props)), index + 2
        if text[index] == ">":
            return _Tag(name, "close" if closing else "open", attrs, tuple(code_props)), index + 1
        if closing:
            return None
        if text[index] == "{":  # a spread: {...props}
            index = _skip_expression(text, index)
            continue
        attr_match = _ATTR_NAME.match(text, index)
        if attr_match is None:
            return None
        attr = attr_match.group(0)
        index = attr_match.end()
        after = _EQUALS.match(text, index)
        if after is None:
            attrs[attr] = ""
            continue
        index = after.end()
        if index >= len(text):
            return None
        if text[index] in "'\"":
            end = _skip_quoted(text, index, multiline=True)
            attrs[attr] = text[index + 1 : end - 1]
        elif text[index] == "{":
            end = _skip_expression(text, index)
            literal = _literal_value(text[index:end])
            if literal is None:
                attrs[attr] = text[index:end]
            else:
                attrs[attr] = literal[0]
                if literal[1] and "\n" in literal[0].strip():
                    code_props.append((attr, literal[0]))
        else:
            bare = _BARE_VALUE.match(text, index)
            if bare is None:
                return None
            end = bare.end()
            attrs[attr] = bare.group(0)
        index = end


def _inline_code_end(text: str, start: int) -> int:
    """Index after the inline code span starting at `start`, or after its backticks if it never closes."""
    run = re.compile(r"`+").match(text, start)
    assert run is not None  # called at a backtick
    ticks = run.group(0)
    paragraph_end = text.find("\n\n", run.end())
    limit = len(text) if paragraph_end < 0 else paragraph_end
    closing = re.compile(rf"(?<!`){ticks}(?!`)").search(text, run.end(), limit)
    return closing.end() if closing else run.end()


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    plain_start = 0
    index = 0

    def flush(upto: int) -> None:
        if upto > plain_start:
            tokens.append(text[plain_start:upto])

    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "`":
            index = _inline_code_end(text, index)
            continue
        if text.startswith("<!--", index):
            close = text.find("-->", index + 4)
            if close >= 0:
                flush(index)
                index = plain_start = close + 3
                continue
        elif char == "<":
            try:
                parsed = _parse_tag(text, index)
            except _Unclosed as unclosed:
                # Not JSX after all: read on as text after the broken part, at most to the paragraph's end,
                # so that a stray `{` or quote cannot make every later `<` rescan the rest of the file.
                paragraph_end = _BLANK_LINE.search(text, index)
                resume = min(unclosed.stop, paragraph_end.start() if paragraph_end else len(text))
                index = max(resume, index + 1)
                continue
            if parsed is not None:
                flush(index)
                tokens.append(parsed[0])
                index = plain_start = parsed[1]
                continue
        elif char == "{":
            # In text only comments and string expressions (`{' '}`) matter; other braces stay as text.
            comment = _TEXT_COMMENT.match(text, index)
            literal = None if comment else _TEXT_LITERAL.match(text, index)
            if literal and literal.group("q") != "`" and "\n" in literal.group("body"):
                literal = None  # only template literals span lines
            found = comment or literal
            if found is not None:
                flush(index)
                if literal is not None:
                    tokens.append(_Literal(_unescape_js(literal.group("body"))))
                index = plain_start = found.end()
                continue
        index += 1
    flush(len(text))
    return tokens


def _jsx_text(text: str) -> str:
    # How JSX reads text between tags: lines trimmed, blank lines dropped, the rest joined by spaces.
    lines = text.split("\n")
    kept: list[str] = []
    for number, line in enumerate(lines):
        if number > 0:
            line = line.lstrip()
        if number < len(lines) - 1:
            line = line.rstrip()
        if line:
            kept.append(line)
    return " ".join(kept)


def _fenced(code: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{code.strip(chr(10))}\n{fence}"


def _markdown_table(text: str) -> str:
    """A markdown table from rendered `| a | b |` rows, the first row as its header; else the text as is."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines or not all(line.startswith("| ") and line.endswith(" |") for line in lines):
        return text
    columns = len(re.split(r"(?<!\\)\|", lines[0])) - 2
    return "\n".join([lines[0], "|" + " --- |" * columns, *lines[1:]])


def _line_of(name: str, attrs: dict[str, str], text: str) -> str:
    """The one line a summary or raw HTML heading becomes: bold text, or a heading if it has an `id`."""
    line = " ".join(text.replace("**", "").split())  # bold inside bold would end it early
    if not line:
        return ""
    anchor = attrs.get("id", "")
    if re.fullmatch(r"h[1-6]", name) and re.fullmatch(r"[\w-]+", anchor):
        # `<h3 id="x">` is a real anchor on the page (though not a markdown heading): keep it.
        return f"\n\n{'#' * int(name[1])} {line} {{#{anchor}}}\n\n"
    return f"\n\n**{line}**\n\n"


def _tab_labels(values: str) -> dict[str, str]:
    """value -> label from a `<Tabs values={[{label: 'npm', value: 'npm'}, ...]}>` prop."""
    labels: dict[str, str] = {}
    for obj in _OBJECT.findall(values):
        fields = {m.group("key"): m.group("text") for m in _OBJECT_FIELD.finditer(obj)}
        if "value" in fields and "label" in fields:
            labels[fields["value"]] = fields["label"]
    return labels


@dataclass
class _Collector:
    name: str
    saved: list[str]
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Renderer:
    fences: list[str]
    out: list[str] = field(default_factory=list)
    collectors: list[_Collector] = field(default_factory=list)
    tab_labels: list[dict[str, str]] = field(default_factory=list)

    def render(self, tokens: list[_Token]) -> str:
        for token in tokens:
            if isinstance(token, _Tag):
                self._tag(token)
            elif isinstance(token, _Literal):
                self.out.append(token.text)
            elif self._in("pre"):
                self.out.append(_jsx_text(token))
            else:
                self.out.append(token)
        while self.collectors:  # unclosed elements: keep their text
            collector = self.collectors.pop()
            text = "".join(self.out)
            self.out = collector.saved
            self.out.append(text)
        return "".join(self.out).replace(_CELL, " ")

    def _in(self, name: str) -> bool:
        return any(c.name == name for c in self.collectors)

    def _emit_block(self, block: str) -> None:
        self.fences.append(block)
        self.out.append(f"\n\n\x00F{len(self.fences) - 1}\x00\n\n")

    def _tag(self, tag: _Tag) -> None:
        html_name = tag.name.lower() if tag.name[:1].islower() else ""
        if tag.kind == "open" and (html_name in _BOLD_LINE_TAGS or html_name in ("pre", "table", "tr")):
            self.collectors.append(_Collector(html_name, self.out, tag.attrs))
            self.out = []
        elif tag.kind == "close" and self._in(html_name):
            self._close_collector(html_name)
        else:
            self._simple_tag(tag, html_name)
        for name, code in tag.code_props:
            self._emit_block(_fenced(code, _CODE_PROP_LANGUAGES.get(name, "")))

    def _close_collector(self, name: str) -> None:
        while self.collectors:
            collector = self.collectors.pop()
            text = "".join(self.out)
            self.out = collector.saved
            if collector.name != name:
                self.out.append(text)
                continue
            if "\x00F" in text:
                self.out.append(f"\n\n{text}\n\n")
            elif name == "tr":
                cells = [" ".join(c.split()).replace("|", "\\|") for c in text.split(_CELL)[1:] or [text]]
                self.out.append(f"\n| {' | '.join(cells)} |\n")
            elif name == "table":
                self.out.append(f"\n\n{_markdown_table(text)}\n\n")
            elif name == "pre":
                if text.strip():
                    self._emit_block(_fenced(text, ""))
            else:
                self.out.append(_line_of(name, collector.attrs, text))
            return

    def _simple_tag(self, tag: _Tag, html_name: str) -> None:
        if tag.name == "Tabs":
            if tag.kind == "open":
                self.tab_labels.append(_tab_labels(tag.attrs.get("values", "")))
            elif tag.kind == "close" and self.tab_labels:
                self.tab_labels.pop()
            self.out.append("\n\n")
        elif tag.name == "TabItem":
            if tag.kind in ("open", "self"):
                value = tag.attrs.get("value", "")
                known = self.tab_labels[-1] if self.tab_labels else {}
                label = tag.attrs.get("label") or known.get(value) or value
                self.out.append(f"\n\n**{label}**\n\n" if label.strip() else "\n\n")
            else:
                self.out.append("\n\n")
        elif html_name in _INLINE_MARKS:
            if not self._in("pre") and tag.kind != "self":
                self.out.append(_INLINE_MARKS[html_name])
        elif html_name == "br":
            self.out.append(" " if self._in("tr") else "\n")
        elif html_name == "li":
            self.out.append("\n- " if tag.kind == "open" else "\n")
        elif html_name in ("td", "th"):
            if tag.kind == "open":
                self.out.append(_CELL if self.collectors and self.collectors[-1].name == "tr" else " ")
        elif html_name in _BLOCK_TAGS:
            self.out.append("\n\n")
        elif tag.name[:1].isupper() and tag.kind == "open" and tag.attrs.get("title", "").strip():
            # A component's title (`<DetailedExplanation title="Why?">`) is text the reader sees.
            self.out.append(f"\n\n**{' '.join(tag.attrs['title'].split())}**\n\n")


class _Admonitions:
    """Line-by-line rewrite of `:::kind Title` ... `:::` containers as labelled blockquotes."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.stack: list[int] = []  # colon counts of the open admonitions, outermost first
        self.base_indent = ""

    def prefix(self) -> str:
        # One quote level whatever the nesting: a reader sees labelled boxes, not a staircase of `> > >`.
        return f"{self.base_indent}{'> ' if self.stack else ''}"

    def quoted(self, line: str) -> str:
        if not self.stack:
            return line
        indent = self.base_indent
        content = line[len(indent) :] if line.startswith(indent) else line.lstrip()
        return f"{self.prefix()}{content}" if content.strip() else self.prefix().rstrip()

    def open(self, indent: str, colons: int, kind: str, title: str) -> None:
        if not self.stack:
            self.base_indent = indent
        self.stack.append(colons)
        label = f"{kind.capitalize()}: {title}" if title else kind.capitalize()
        self.out.append(f"{self.prefix()}**{label}**")

    def close(self, colons: int) -> None:
        # The closing fence ends the innermost admonition it is long enough for (and any left open inside).
        open_at = [i for i, count in enumerate(self.stack) if count <= colons]
        if not open_at:
            return
        while self.out and self.out[-1] == self.prefix().rstrip():
            self.out.pop()  # the blank quote lines before the closing fence
        del self.stack[open_at[-1] :]

    def close_all(self) -> None:
        while self.out and self.out[-1] == self.prefix().rstrip():
            self.out.pop()
        self.stack.clear()


_HEADING_LINE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]")


def _admonitions_to_blockquotes(lines: list[str]) -> list[str]:
    in_fence = fence_mask(lines)
    state = _Admonitions()
    for line, fenced in zip(lines, in_fence, strict=True):
        if fenced:
            state.out.append(state.quoted(line))
            continue
        opening = _ADMONITION_OPEN.match(line)
        closing = _ADMONITION_CLOSE.match(line)
        if opening and len(state.stack) < _MAX_ADMONITION_DEPTH:
            title = (opening.group("label") or opening.group("title") or "").strip()
            state.open(opening.group("indent"), len(opening.group("colons")), opening.group("kind"), title)
        elif closing:
            state.close(len(closing.group("colons")))  # a stray `:::` is markup, not text: dropped
        elif state.stack and _HEADING_LINE.match(line):
            # A heading starts a section, which a quoted `> ## …` would not: the box ends where the heading begins
            # (its closing fence is then a stray one), as crawled pages do.
            state.close_all()
            if state.out and state.out[-1].strip():
                state.out.append("")
            state.out.append(line.strip())
        elif state.stack and (glued := _GLUED_CLOSE[0].match(line) or _GLUED_CLOSE[1].match(line)):
            parts = glued.groupdict()
            if parts.get("before"):
                state.out.append(state.quoted(parts["before"]))
            state.close(len(parts["colons"]))
            if parts.get("after"):
                state.out.append(state.quoted(parts["after"]))
        else:
            state.out.append(state.quoted(line))
    return state.out


def _tidy(lines: list[str]) -> str:
    # Trailing spaces go and blank runs shrink to one blank line, outside code fences only.
    in_fence = fence_mask(lines)
    out: list[str] = []
    for line, fenced in zip(lines, in_fence, strict=True):
        if fenced:
            out.append(line)
            continue
        line = line.rstrip()
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line if line.strip() else "")
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + ("\n" if out else "")
