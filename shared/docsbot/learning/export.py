"""Solved threads exported as training and evaluation data, scrubbed of personal data.

Two formats, one JSON object per line:

- `chat`: OpenAI's chat fine-tuning format, `{"messages": [system, user…, assistant]}`: the people's questions
  as user turns and the accepted solution (a person's message, or the bot's answer marked or voted solved) as
  the assistant turn. Only solved threads. Every example is checked against the format's rules before it is
  written (`validate_chat_example`): known roles, non-empty string contents, at least one user turn, ending
  with the assistant, within the token limit of one training example; an example that fails is skipped and
  counted, never written.
- `eval`: the dev-set format of the evaluation corpora, `{"id", "question", "relevant", "answerable",
  "notes"}`: the thread's first question, `relevant` = the doc URLs the accepted answer cites (a person's
  solution cites none: `answerable` false, since the docs did not answer it), so the eval set grows from real use.

Every text that leaves goes through one `Scrubber` (stable pseudonyms across the whole export); ids are
pseudonymised too. Nothing here touches the network or the store: it formats `ThreadView`s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from docsbot.documents.tokens import count_tokens
from docsbot.learning.pii import Scrubber
from docsbot.learning.threads import ThreadView

ExportFormat = Literal["chat", "eval"]
CHAT_ROLES = frozenset({"system", "user", "assistant"})
# OpenAI's limit on one training example (gpt-4o-mini / gpt-4.1 family: 65,536 tokens); a little kept back
# for the per-message overhead the tokenizer here does not count.
MAX_EXAMPLE_TOKENS = 64_000
MAX_TURN_CHARS = 20_000  # a single pasted log does not make a useful example
SYSTEM_PROMPT = (
    "You answer questions about the {collection} documentation for its community support channel. "
    "Answer precisely and cite the documentation pages you rely on."
)


class InvalidExample(ValueError):
    """A chat example that OpenAI's fine-tuning format would refuse."""


@dataclass
class ExportStats:
    threads: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def validate_chat_example(example: dict[str, Any]) -> None:
    """Raise `InvalidExample` unless `example` follows the chat fine-tuning format's rules."""
    if set(example) != {"messages"} or not isinstance(example["messages"], list):
        raise InvalidExample('an example is {"messages": [...]} and nothing else')
    messages = example["messages"]
    if not messages:
        raise InvalidExample("no messages")
    total = 0
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
            raise InvalidExample(f"message {index}: role must be one of {sorted(CHAT_ROLES)}")
        unknown = set(message) - {"role", "content", "weight"}
        if unknown:
            raise InvalidExample(f"message {index}: unknown keys {sorted(unknown)}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise InvalidExample(f"message {index}: content must be a non-empty string")
        if message["role"] == "system" and index != 0:
            raise InvalidExample("the system message comes first")
        total += count_tokens(content)
    if not any(m["role"] == "user" for m in messages):
        raise InvalidExample("no user message")
    if messages[-1]["role"] != "assistant":
        raise InvalidExample("the last message must be the assistant's")
    if total > MAX_EXAMPLE_TOKENS:
        raise InvalidExample(f"{total} tokens: more than {MAX_EXAMPLE_TOKENS} in one example")


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TURN_CHARS else text[:MAX_TURN_CHARS].rstrip() + " …"


def chat_example(view: ThreadView, scrubber: Scrubber) -> dict[str, Any] | None:
    """The thread as one fine-tuning example, or None when nothing solved it."""
    accepted = view.accepted_answer
    if accepted is None:
        return None
    system = SYSTEM_PROMPT.format(collection=view.thread.collection)
    users = [{"role": "user", "content": _clip(scrubber.scrub(q))} for q in view.questions]
    answer = {"role": "assistant", "content": _clip(scrubber.scrub(accepted[0]))}
    return {"messages": [{"role": "system", "content": system}, *users, answer]}


def eval_item(view: ThreadView, scrubber: Scrubber) -> dict[str, Any] | None:
    """The thread as one evaluation question, or None when nothing solved it (or nothing was asked)."""
    accepted = view.accepted_answer
    questions = view.questions
    if accepted is None or not questions:
        return None
    _, urls, by_bot = accepted
    solver = "the bot's answer" if by_bot else "a person's reply"
    notes = f"from a solved support thread ({solver}); {view.outcome}"
    if not urls:
        notes += "; the solution cites no documentation page"
    return {
        "id": f"{view.thread.collection}-{scrubber.pseudonym('thread', view.thread.thread_id)[1:-1]}",
        "question": scrubber.scrub(questions[0]).strip(),
        "relevant": list(dict.fromkeys(urls)),  # a page cited for two sections is one relevant page
        "answerable": bool(urls),
        "notes": notes,
    }


def export_lines(
    views: Iterable[ThreadView],
    fmt: ExportFormat,
    *,
    scrubber: Scrubber | None = None,
    stats: ExportStats | None = None,
) -> Iterator[str]:
    """The export, one JSON line per solved thread (validated, scrubbed); `stats` counts what was skipped."""
    scrub = scrubber or Scrubber()
    counts = stats if stats is not None else ExportStats()
    for view in views:
        counts.threads += 1
        item = chat_example(view, scrub) if fmt == "chat" else eval_item(view, scrub)
        if item is None:
            counts.skip("not solved")
            continue
        if fmt == "chat":
            try:
                validate_chat_example(item)
            except InvalidExample as error:
                counts.skip(f"invalid: {error}")
                continue
        counts.written += 1
        yield json.dumps(item, ensure_ascii=False)
