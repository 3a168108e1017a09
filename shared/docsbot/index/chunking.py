"""Split a page into chunks small enough to embed, each of which stands alone.

A chunk is one heading section, several small neighbouring sections merged, or one piece of a long
section. Its text starts with the page title and heading path, then a blank line, then the body:

    Page title › Section › Subsection

    The section's markdown...

Sizes are tiktoken (cl100k_base) counts of the whole chunk text, heading path included.

Chunk boundaries depend only on the page itself (its heading structure and token sizes), so chunking is
deterministic, and an edit that keeps a section's token size changes only the chunks holding that
section: its own pieces, or the one chunk of its merge group. An edit that changes the size can also
move the boundaries of the merge groups after it, as any greedy packing does.

Long because: splitting sections, packing them into chunks and cutting oversized code blocks and tables
share one token budget and one set of boundary rules; apart, each piece would have to re-derive them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from docsbot.documents.model import Chunk, Page, Section
from docsbot.documents.sections import split_sections
from docsbot.documents.tokens import count_tokens, encode, get_encoding, truncate_tokens

PATH_SEPARATOR = " › "

# Navigation pages: fewer prose words than this, and at least as many words inside links.
NAVIGATION_MAX_PROSE_WORDS = 25


@dataclass(frozen=True)
class ChunkingOptions:
    """Chunk sizes in tokens, each counting the whole chunk text (heading-path line included).

    The defaults keep most documentation sections whole (retrieval works per section) while keeping
    chunks short enough that a small embedding model, which reads only the first ~256 word pieces,
    still sees the heading path and the start of the body.
    """

    target_tokens: int = 350  # small sections are merged up to this size; long ones are cut near it
    max_tokens: int = 600  # hard limit: no chunk is longer
    overlap_tokens: int = 60  # trailing context of a long section's piece repeated at the next piece
    min_tokens: int = 40  # a long section's last piece with less new text joins the piece before

    def __post_init__(self) -> None:
        if not 0 < self.min_tokens <= self.target_tokens <= self.max_tokens:
            raise ValueError("ChunkingOptions needs 0 < min_tokens <= target_tokens <= max_tokens")
        if not 0 <= self.overlap_tokens < self.target_tokens:
            raise ValueError("ChunkingOptions needs 0 <= overlap_tokens < target_tokens")
        if self.max_tokens < 32:
            raise ValueError("ChunkingOptions needs max_tokens >= 32")


DEFAULT_OPTIONS = ChunkingOptions()


def chunk_page(page: Page, options: ChunkingOptions = DEFAULT_OPTIONS) -> list[Chunk]:
    """The page's chunks in document order; none for an empty or pure-navigation page."""
    if not page.markdown.strip() or is_navigation(page.markdown):
        return []
    parts = [_measure(page.title, section, options) for section in split_sections(page.markdown)]
    # A lead of layout markup only is no lead at all, as split_sections drops an empty one.
    parts = [part for part in parts if part.body or part.section.level > 1]
    chunks: list[Chunk] = []
    seen: set[tuple[str, str]] = set()
    for group in _merge_groups(parts, options):
        for chunk in _group_chunks(page, group, options):
            if (chunk.anchor, chunk.text) not in seen:
                seen.add((chunk.anchor, chunk.text))
                chunks.append(chunk)
    return chunks


# --- Navigation pages ------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\](?:\([^)\s]*(?:\s+\"[^\"]*\")?\)|\[[^\]]*\])")
_HEADING_LINE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t].*$", re.MULTILINE)
_LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S.*$", re.MULTILINE)
_MDX_STATEMENT = re.compile(r"^(?:import|export)[ \t].*$", re.MULTILINE)
_URL = re.compile(r"<(?:https?|mailto):[^>\s]*>|https?://\S+")
_MARKUP = re.compile(r"</?[A-Za-z][^>]*>|&#?\w+;")
_WORD = re.compile(r"\w+")


def is_navigation(markdown: str) -> bool:
    """Whether a page is only navigation: an index of links, or headings without text.

    True when the prose (text outside links, headings, HTML and MDX statements; code counts as prose)
    has fewer than NAVIGATION_MAX_PROSE_WORDS words and the link texts have at least as many.
    """
    prose_words = link_words = 0
    # Paragraph by paragraph (links never span two), so that a page of prose is done with early.
    for paragraph in markdown.split("\n\n"):
        text = _LINK_DEFINITION.sub(" ", _MDX_STATEMENT.sub(" ", _HEADING_LINE.sub(" ", paragraph)))
        for match in _LINK.finditer(text):
            if not match.group(0).startswith("!"):  # an image's alt text is neither prose nor a link
                link_words += len(_WORD.findall(match.group(1)))
        prose = _MARKUP.sub(" ", _URL.sub(" ", _LINK.sub(" ", text)))
        prose_words += len(_WORD.findall(prose))
        if prose_words >= NAVIGATION_MAX_PROSE_WORDS:
            return False
    return link_words >= prose_words


# --- Sections and merge groups ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """A section with what chunking needs to know about it, measured once."""

    section: Section
    header: str  # "Page title › Section › Subsection"
    body: str  # the section's markdown; "" when it holds no text
    tokens: int  # exact size of the section as a chunk of its own
    header_tokens: int
    merged_tokens: int  # estimated size it adds to a chunk it is merged into (heading line included)


_ONLY_MARKUP = re.compile(r"(?:</?[A-Za-z][^>]*>|&#?\w+;|\s)*")


@lru_cache(maxsize=4096)
def _tokens(text: str) -> int:
    # Cached: re-chunking an unchanged page (incremental indexing does) then costs no encoding.
    return count_tokens(text)


def _measure(title: str, section: Section, options: ChunkingOptions) -> _Part:
    header = PATH_SEPARATOR.join(p for p in (title, *section.heading_path) if p)
    header_tokens = _tokens(header)
    if header_tokens > options.max_tokens // 4:  # absurdly long headings must still leave room for text
        header = truncate_tokens(header, options.max_tokens // 4)
        header_tokens = _tokens(header)
    # A body of layout markup only (`&nbsp;`, `<div class="...">`) says nothing: treat it as empty.
    body = "" if _ONLY_MARKUP.fullmatch(section.markdown) else _tidy(section.markdown)
    tokens = _tokens(_compose(header, body)) if body else header_tokens
    heading = _heading_line(section)
    heading_tokens = _tokens(heading) + 1 if heading else 0
    body_tokens = tokens - header_tokens - 1 if body else 0
    return _Part(section, header, body, tokens, header_tokens, heading_tokens + body_tokens + 1)


def _compose(header: str, body: str) -> str:
    """A chunk's text: its heading path, a blank line, its body."""
    return f"{header}\n\n{body}" if header else body


def _heading_line(section: Section) -> str:
    # Lead and level-1 sections have no heading text of their own (the page title is in the header).
    if section.level < 2 or not section.heading_path:
        return ""
    return f"{'#' * section.level} {section.heading_path[-1]}"


def _merge_groups(parts: Sequence[_Part], options: ChunkingOptions) -> Iterator[list[_Part]]:
    """Consecutive parts chunked together: a small section takes the following sections that are its
    descendants or later siblings while the total stays within target_tokens."""
    start = 0
    while start < len(parts):
        first = parts[start]
        total = first.tokens
        end = start + 1
        if first.tokens <= options.target_tokens:
            while (
                end < len(parts)
                and parts[end].section.level >= first.section.level
                and total + parts[end].merged_tokens <= options.target_tokens
            ):
                total += parts[end].merged_tokens
                end += 1
        # A heading with an empty body belongs with what follows it, never at the end of a group.
        while end - 1 > start and not parts[end - 1].body:
            end -= 1
        yield list(parts[start:end])
        start = end


def _group_chunks(page: Page, group: Sequence[_Part], options: ChunkingOptions) -> list[Chunk]:
    """The chunks of one merge group: one, or the pieces of a long section."""
    if not any(part.body for part in group):
        # Only headings: the sections that follow carry them in their heading paths.
        return []
    first = group[0]
    if len(group) == 1 and first.tokens <= options.max_tokens:
        rendered = [(_compose(first.header, first.body), first.tokens)]
    elif len(group) == 1:
        rendered = _split_long(first.header, first.header_tokens, first.body, options)
    else:
        blocks = [first.body] if first.body else []
        for part in group[1:]:
            blocks.extend(b for b in (_heading_line(part.section), part.body) if b)
        text = _compose(first.header, "\n\n".join(blocks))
        tokens = _tokens(text)
        if tokens > options.max_tokens:
            # Estimated sizes were off by more than max - target: chunk each section on its own.
            return [chunk for part in group for chunk in _group_chunks(page, [part], options)]
        rendered = [(text, tokens)]
    anchors = tuple(dict.fromkeys(part.section.anchor for part in group))
    return [
        Chunk(
            url=page.url,
            anchor=first.section.anchor,
            title=page.title,
            heading_path=first.section.heading_path,
            text=text,
            token_count=tokens,
            source_kind=page.source_kind,
            tags=page.tags,
            anchors=anchors,
        )
        for text, tokens in rendered
    ]


# --- Blocks of a section body ----------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")
_TABLE_CELL_RULE = re.compile(r"[ \t]*:?-+:?[ \t]*")
_LIST_ITEM = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_SPACE = re.compile(r"\s")
_HEADING_ID = re.compile(r"^((?:[ ]{0,3}>[ ]?)*[ ]{0,3}#{1,6}(?:[ \t].*?)?)[ \t]*\{#[\w-]+\}[ \t]*$")


def _fence_open(line: str) -> tuple[str, str] | None:
    """(indentation, marker) when the line opens a code fence."""
    match = _FENCE_OPEN.match(line)
    if match is None or (match.group(2)[0] == "`" and "`" in match.group(3)):
        return None  # a backtick fence's info string cannot hold backticks: this is inline code
    return match.group(1), match.group(2)


def _fence_closes(line: str, marker: str) -> bool:
    match = _FENCE_CLOSE.match(line)
    return match is not None and match.group(1)[0] == marker[0] and len(match.group(1)) >= len(marker)


def _tidy(markdown: str) -> str:
    """The markdown with `{#anchor}` markers dropped from the headings it still holds (those inside
    blockquotes, which split_sections leaves in the body) and a fence left open at its end closed, so
    that no chunk holds half a fence."""
    if "{#" not in markdown and "```" not in markdown and "~~~" not in markdown:
        return markdown
    lines = markdown.split("\n")
    open_fence: tuple[str, str] | None = None
    for index, line in enumerate(lines):
        if open_fence is None:
            open_fence = _fence_open(line)
            if open_fence is None and "{#" in line:
                lines[index] = _HEADING_ID.sub(r"\1", line)
        elif _fence_closes(line, open_fence[1]):
            open_fence = None
    if open_fence is not None:
        lines.append(f"{open_fence[0]}{open_fence[1]}")
    return "\n".join(lines)


def _is_table_rule(line: str) -> bool:
    """Whether the line is a table's header separator, like `| --- | :-: |`."""
    if "|" not in line or "-" not in line:
        return False
    cells = line.strip().strip("|").split("|")
    return all(_TABLE_CELL_RULE.fullmatch(cell) for cell in cells)


@dataclass(frozen=True)
class _Block:
    kind: str  # "text", "fence" or "table"
    lines: tuple[str, ...]


def _blocks(body: str) -> list[_Block]:
    """The body's blocks: paragraphs (lists included) separated by blank lines, code fences and tables."""
    lines = body.split("\n")
    blocks: list[_Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(_Block("text", tuple(paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _fence_open(line)
        if fence is not None:
            flush()
            end = i + 1
            while end < len(lines) and not _fence_closes(lines[end], fence[1]):
                end += 1
            blocks.append(_Block("fence", tuple(lines[i : end + 1])))  # _tidy closed them all
            i = end + 1
        elif "|" in line and i + 1 < len(lines) and _is_table_rule(lines[i + 1]):
            flush()
            end = i + 2
            while end < len(lines) and lines[end].strip() and "|" in lines[end]:
                end += 1
            blocks.append(_Block("table", tuple(lines[i:end])))
            i = end
        else:
            if line.strip():
                paragraph.append(line)
            else:
                flush()
            i += 1
    flush()
    return blocks


# --- Splitting long sections -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """A piece of body text that is never cut when packing pieces."""

    text: str
    tokens: int
    joiner: str  # what separates it from the unit before it, when both are in one piece
    prose: bool  # whether its trailing sentences can serve as overlap


_MIN_BUDGET = 8


def _joiner_tokens(joiner: str) -> int:
    # "\n\n" and "\n" are one token each; a space usually fuses with the next word.
    return 1 if "\n" in joiner else 0


def _split_long(header: str, header_tokens: int, body: str, options: ChunkingOptions) -> list[tuple[str, int]]:
    """Chunks of one section too long for a single chunk, each at most max_tokens."""
    blocks = _blocks(body)
    slack = 2  # the blank line after the header, plus a token of estimation error
    budget = options.max_tokens - header_tokens - slack
    while budget >= _MIN_BUDGET:
        aim = max(min(options.target_tokens - header_tokens - slack, budget), 1)
        units = [unit for block in blocks for unit in _block_units(block, budget)]
        texts = [_compose(header, _join(piece)) for piece in _pack(units, aim, budget, options)]
        chunks = [(text, _tokens(text)) for text in texts]
        largest = max(tokens for _, tokens in chunks)
        if largest <= options.max_tokens:
            return chunks
        # Sizes of joined text differ a little from the sum of their parts: retry with a smaller budget.
        slack += largest - options.max_tokens + 2
        budget = options.max_tokens - header_tokens - slack
    # Unreachable with real text; guarantees the limit whatever happens.
    texts = [_compose(header, unit.text) for unit in _split_tokens(body, _MIN_BUDGET, "")]
    return [(text, _tokens(text)) for text in (truncate_tokens(t, options.max_tokens) for t in texts)]


def _join(units: Sequence[_Unit]) -> str:
    return units[0].text + "".join(unit.joiner + unit.text for unit in units[1:])


def _block_units(block: _Block, budget: int) -> list[_Unit]:
    text = "\n".join(block.lines)
    tokens = _tokens(text)
    if tokens <= budget:
        return [_Unit(text, tokens, "\n\n", block.kind == "text")]
    if block.kind == "fence":
        opening, *inner, closing = block.lines
        return _split_rows(inner, (opening,), (closing,), budget)
    if block.kind == "table":
        return _split_rows(list(block.lines[2:]), block.lines[:2], (), budget)
    return _split_text(text, budget, "\n\n")


def _split_rows(rows: Sequence[str], head: Sequence[str], tail: Sequence[str], budget: int) -> list[_Unit]:
    """A fence or table cut between lines; every piece repeats the head (fence opening or table header)
    and tail (fence closing), so each piece is a valid fence or table."""
    room = max(budget - sum(_tokens(line) + 1 for line in (*head, *tail)), 4)
    sized: list[tuple[str, int]] = []
    for row in rows:
        tokens = _tokens(row) + 1
        if tokens <= room:
            sized.append((row, tokens))
        else:  # one line longer than a chunk (minified code, a data row): cut it as a last resort
            sized.extend((unit.text, unit.tokens + 1) for unit in _split_tokens(row, room - 1, "\n"))
    if not sized:
        return [_rows_unit(head, [], tail)]
    # Spread the rows evenly over as few pieces as they need, rather than leaving a small last piece.
    total = sum(tokens for _, tokens in sized)
    pieces = -(-total // room)
    aim = -(-total // pieces)
    units: list[_Unit] = []
    current: list[str] = []
    size = 0
    for row, tokens in sized:
        if current and (size + tokens > room or (size >= aim and len(units) < pieces - 1)):
            units.append(_rows_unit(head, current, tail))
            current, size = [], 0
        current.append(row)
        size += tokens
    if current:
        units.append(_rows_unit(head, current, tail))
    return units


def _rows_unit(head: Sequence[str], rows: Sequence[str], tail: Sequence[str]) -> _Unit:
    text = "\n".join((*head, *rows, *tail))
    return _Unit(text, _tokens(text), "\n\n", prose=False)


def _list_items(text: str) -> list[str]:
    """The text cut before each top-level list item (a lead-in line stays a part of its own)."""
    lines = text.split("\n")
    indents = [len(m.group(1)) for m in map(_LIST_ITEM.match, lines) if m]
    if not indents:
        return [text]
    top = min(indents)
    parts: list[list[str]] = []
    for line in lines:
        match = _LIST_ITEM.match(line)
        if not parts or (match is not None and len(match.group(1)) == top):
            parts.append([])
        parts[-1].append(line)
    return ["\n".join(part) for part in parts]


def _split_text(text: str, budget: int, joiner: str) -> list[_Unit]:
    """Text cut at list items, then lines, then sentences, then tokens, into units of at most budget."""
    for split, sub_joiner in ((_list_items, "\n"), (lambda t: t.split("\n"), "\n"), (_sentences, " ")):
        parts = [part for part in split(text) if part.strip()]
        if len(parts) < 2:
            continue
        units: list[_Unit] = []
        for index, part in enumerate(parts):
            part_joiner = joiner if index == 0 else sub_joiner
            tokens = _tokens(part)
            if tokens <= budget:
                units.append(_Unit(part, tokens, part_joiner, prose=True))
            else:
                units.extend(_split_text(part, budget, part_joiner))
        return units
    return _split_tokens(text, budget, joiner)


def _sentences(text: str) -> list[str]:
    return _SENTENCE_END.split(text)


def _split_tokens(text: str, budget: int, joiner: str) -> list[_Unit]:
    """Text cut every `budget` tokens (never inside a UTF-8 character): the last resort."""
    encoding = get_encoding()
    ids = encode(text)  # a giant unbroken run costs linear work (docsbot.documents.tokens)
    units: list[_Unit] = []
    start = 0
    while start < len(ids):
        end = min(start + budget, len(ids))
        while True:  # a token can hold part of a character; move the cut until it falls between two
            try:
                piece = encoding.decode_bytes(ids[start:end]).decode("utf-8")
                break
            except UnicodeDecodeError:
                if end - start <= 1 or end == len(ids):
                    piece = encoding.decode_bytes(ids[start:end]).decode("utf-8", errors="replace")
                    break
                end -= 1
        units.append(_Unit(piece, _tokens(piece), joiner if start == 0 else "", prose=True))
        start = end
    return units


@dataclass
class _Piece:
    units: list[_Unit]
    fresh: int  # index of the first unit that is not overlap from the piece before


def _size(units: Sequence[_Unit]) -> int:
    return sum(u.tokens for u in units) + sum(_joiner_tokens(u.joiner) for u in units[1:])


def _pack(units: Sequence[_Unit], aim: int, budget: int, options: ChunkingOptions) -> list[list[_Unit]]:
    """Units packed into pieces of about `aim` tokens and at most `budget`, each starting with up to
    overlap_tokens of the end of the piece before."""
    pieces: list[_Piece] = []
    current = _Piece([], 0)
    size = 0  # of all the current piece's units
    fresh = 0  # of its units that are not overlap
    for unit in units:
        cost = unit.tokens + _joiner_tokens(unit.joiner)
        # A short lead-in ("For example:") stays with what it introduces while the budget allows.
        full = size + cost > budget or (size + cost > aim and fresh >= options.min_tokens)
        if fresh and full:
            pieces.append(current)
            overlap = _overlap(current.units[current.fresh :], options.overlap_tokens)
            while overlap and _size(overlap) + cost > budget:
                overlap = overlap[1:]
            current, size, fresh = _Piece(overlap, len(overlap)), _size(overlap), 0
        size = size + cost if current.units else unit.tokens
        fresh += cost
        current.units.append(unit)
    if fresh:
        pieces.append(current)
    if len(pieces) > 1:
        last, before = pieces[-1], pieces[-2]
        new = last.units[last.fresh :]
        if _size(new) < options.min_tokens and _size(before.units + new) <= budget:
            pieces[-2:] = [_Piece(before.units + new, before.fresh)]
    return [piece.units for piece in pieces]


def _overlap(units: Sequence[_Unit], limit: int) -> list[_Unit]:
    """The end of a piece's new units, at most `limit` tokens, to repeat at the start of the next piece:
    whole trailing units, then the trailing sentences of a prose unit too long to repeat whole.

    Fences and tables are repeated whole or not at all. The first unit is never repeated whole, so that
    every piece keeps some text of its own.
    """
    taken: list[_Unit] = []
    for index in range(len(units) - 1, -1, -1):
        unit = units[index]
        if index > 0 and _size([unit, *taken]) <= limit:
            taken.insert(0, unit)
            continue
        if unit.prose:
            room = limit - _size(taken) - (1 if taken else 0)
            # Cut words only when nothing else would overlap: a sentence fragment is poor context.
            tail = _tail(unit.text, room, cut_words=not taken)
            if tail:
                taken.insert(0, _Unit(tail, _tokens(tail), unit.joiner, prose=True))
        break
    return taken


def _tail(text: str, limit: int, cut_words: bool) -> str:
    """A proper end of a text, at most `limit` tokens: from the start of one of its sentences (never the
    first), else, if `cut_words`, from the start of a word."""
    if limit <= 0:
        return ""
    tail = ""
    for match in reversed(list(_SENTENCE_END.finditer(text))):
        candidate = text[match.end() :]
        if _tokens(candidate) > limit:
            break
        tail = candidate
    if tail or not cut_words or _SPACE.search(text) is None:
        return tail  # (with no space in the text, no word starts inside it: no tail, and no encoding to pay)
    encoding = get_encoding()
    ids = encode(text)
    if len(ids) <= limit:
        return ""
    tail = encoding.decode_bytes(ids[-limit:]).decode("utf-8", errors="ignore")
    start = len(text) - len(tail)
    if not text[start - 1].isspace():  # the tail starts inside a word: drop that word
        words = tail.split(maxsplit=1)
        tail = words[1] if len(words) == 2 else ""
    return tail if tail and _tokens(tail) <= limit else ""
