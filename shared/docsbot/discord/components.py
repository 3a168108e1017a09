"""Message components and modals, and the custom_id protocol of the bot's buttons and its follow-up modal.

The one place that writes and reads custom_ids. Under every answer sit three buttons: `vote:solved:<key>`,
`vote:failed:<key>` and `followup:<key>`; the follow-up button opens a modal whose custom_id is again
`followup:<key>`, with one text input, `question`. Once someone voted "Not solved", a fourth button, `reason:<key>`,
opens the optional reason form (custom_id `reason:<key>`, one text input, `reason`). `<key>` is the conversation (a
thread id, or the interaction id in a plain channel): letters, digits, `_` and `-`, short enough that every
custom_id fits Discord's 100 characters. These strings live on in messages already posted, so changing a format
orphans the buttons of older answers: add a new prefix instead. Anything this module did not write parses as None.
Standard library only: the interactions function imports this on its cold-start path.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from docsbot.discord.limits import (
    MAX_CUSTOM_ID,
    MAX_INPUT_LABEL,
    MAX_INPUT_PLACEHOLDER,
    MAX_MODAL_TITLE,
    MAX_TEXT_INPUT,
)
from docsbot.discord.responses import ResponseType

# Component types.
ACTION_ROW: Final = 1
BUTTON: Final = 2
TEXT_INPUT: Final = 4
LABEL: Final = 18  # newer modals wrap each input in a label component

# Button styles.
STYLE_SECONDARY: Final = 2
STYLE_SUCCESS: Final = 3
STYLE_DANGER: Final = 4

ReasonKind = Literal["wrong", "outdated", "incomplete", "not_what_i_asked", "other"]
ButtonAction = Literal["solved", "failed", "followup", "reason"]
_CUSTOM_ID_PREFIX: dict[ButtonAction, str] = {
    "solved": "vote:solved:",
    "failed": "vote:failed:",
    "followup": "followup:",
    "reason": "reason:",
}
# The longest prefix decides how long a thread key may be so every custom_id stays within Discord's limit.
MAX_THREAD_KEY: Final = MAX_CUSTOM_ID - max(len(p) for p in _CUSTOM_ID_PREFIX.values())
# Snowflakes are digits; other keys are short tokens. No ":" so custom_ids parse unambiguously.
_THREAD_KEY = re.compile(r"[A-Za-z0-9_-]+")

FOLLOWUP_INPUT: Final = "question"  # the follow-up modal's text input
FOLLOWUP_TITLE: Final = "Follow-up question"
FOLLOWUP_LABEL: Final = "Your follow-up question"
REASON_INPUT: Final = "reason"  # the reason form's text input
REASON_TITLE: Final = "Why wasn't it solved?"
REASON_LABEL: Final = "What was wrong? (optional)"
REASON_PLACEHOLDER: Final = "Wrong, outdated, incomplete, not what I asked… or say what was missing"
MAX_REASON: Final = 500
# The reasons the form recognises in what was typed (first match wins); anything else is "other".
_REASON_WORDS: Final[tuple[tuple[ReasonKind, tuple[str, ...]], ...]] = (
    ("not_what_i_asked", ("not what i asked", "different question", "didn't ask", "off topic", "irrelevant")),
    ("outdated", ("outdated", "out of date", "old version", "deprecated", "no longer")),
    ("incomplete", ("incomplete", "missing", "partial", "not enough", "more detail")),
    ("wrong", ("wrong", "incorrect", "doesn't work", "does not work", "error", "false")),
)


# --- the custom_id protocol ------------------------------------------------------------------------------


def validate_thread_key(thread_key: str) -> str:
    """Return `thread_key` if it can go into every custom_id (letters, digits, `_`, `-`; short), else raise."""
    if not _THREAD_KEY.fullmatch(thread_key) or len(thread_key) > MAX_THREAD_KEY:
        raise ValueError(f"thread key must be 1-{MAX_THREAD_KEY} of [A-Za-z0-9_-], got {thread_key!r:.120}")
    return thread_key


def custom_id(action: ButtonAction, thread_key: str) -> str:
    """The custom_id of one button: `vote:solved:<key>`, `vote:failed:<key>` or `followup:<key>`."""
    value = _CUSTOM_ID_PREFIX[action] + validate_thread_key(thread_key)
    if len(value) > MAX_CUSTOM_ID:  # cannot happen while MAX_THREAD_KEY is derived from the prefixes
        raise ValueError(f"custom_id longer than {MAX_CUSTOM_ID} characters")
    return value


def parse_custom_id(value: object) -> tuple[ButtonAction, str] | None:
    """`(action, thread_key)` from a button's custom_id, or None for anything this module did not make."""
    if not isinstance(value, str) or len(value) > MAX_CUSTOM_ID:
        return None
    for action, prefix in _CUSTOM_ID_PREFIX.items():
        if value.startswith(prefix):
            key = value[len(prefix) :]
            if _THREAD_KEY.fullmatch(key) and len(key) <= MAX_THREAD_KEY:
                return action, key
            return None
    return None


def followup_modal_id(thread_key: str) -> str:
    """The follow-up modal's custom_id: the same string as its button's, so either names the conversation."""
    return custom_id("followup", thread_key)


def parse_followup_modal_id(value: object) -> str | None:
    """The thread key of a follow-up modal's custom_id, or None for any other modal."""
    parsed = parse_custom_id(value)
    return parsed[1] if parsed is not None and parsed[0] == "followup" else None


def parse_reason_modal_id(value: object) -> str | None:
    """The thread key of a reason form's custom_id, or None for any other modal."""
    parsed = parse_custom_id(value)
    return parsed[1] if parsed is not None and parsed[0] == "reason" else None


def classify_reason(text: str) -> ReasonKind:
    """The reason a "not solved" form's text names: wrong, outdated, incomplete, not_what_i_asked, or other."""
    lowered = " ".join(text.lower().split())
    for reason, words in _REASON_WORDS:
        if any(word in lowered for word in words):
            return reason
    return "other"


# --- builders --------------------------------------------------------------------------------------------


def vote_buttons(thread_key: str, solved: int = 0, failed: int = 0) -> list[dict[str, Any]]:
    """The action row under an answer: Solved, Not solved (with their vote counts once there are votes), Follow up."""
    buttons = [
        (f"Solved · {solved}" if solved else "Solved", STYLE_SUCCESS, custom_id("solved", thread_key)),
        (f"Not solved · {failed}" if failed else "Not solved", STYLE_DANGER, custom_id("failed", thread_key)),
        ("Follow up", STYLE_SECONDARY, custom_id("followup", thread_key)),
    ]
    if failed:  # a reason is asked for (optional) only once someone said it did not solve their question
        buttons.append(("Why not solved?", STYLE_SECONDARY, custom_id("reason", thread_key)))
    return [
        {
            "type": ACTION_ROW,
            "components": [
                {"type": BUTTON, "style": style, "label": label, "custom_id": cid} for label, style, cid in buttons
            ],
        }
    ]


def followup_modal(thread_key: str, *, max_length: int) -> dict[str, Any]:
    """The response that opens the follow-up form for the conversation `thread_key`."""
    return modal(followup_modal_id(thread_key), FOLLOWUP_TITLE, FOLLOWUP_INPUT, FOLLOWUP_LABEL, max_length=max_length)


def reason_modal(thread_key: str) -> dict[str, Any]:
    """The response that opens the optional "why wasn't it solved?" form for the conversation `thread_key`."""
    return modal(
        custom_id("reason", thread_key),
        REASON_TITLE,
        REASON_INPUT,
        REASON_LABEL,
        placeholder=REASON_PLACEHOLDER,
        min_length=0,
        max_length=MAX_REASON,
        required=False,
    )


def modal(
    custom_id: str,
    title: str,
    text_input_custom_id: str,
    label: str,
    *,
    placeholder: str | None = None,
    value: str | None = None,
    min_length: int = 1,
    max_length: int = MAX_TEXT_INPUT,
    required: bool = True,
) -> dict[str, Any]:
    """A pop-up form with one paragraph text input. Raises `ValueError` on anything Discord would refuse."""
    if not 1 <= len(custom_id) <= MAX_CUSTOM_ID or not 1 <= len(text_input_custom_id) <= MAX_CUSTOM_ID:
        raise ValueError(f"custom_id must be 1-{MAX_CUSTOM_ID} characters")
    if not 1 <= len(title) <= MAX_MODAL_TITLE:
        raise ValueError(f"modal title must be 1-{MAX_MODAL_TITLE} characters")
    if not 1 <= len(label) <= MAX_INPUT_LABEL:
        raise ValueError(f"text input label must be 1-{MAX_INPUT_LABEL} characters")
    if not 0 <= min_length <= max_length or not 1 <= max_length <= MAX_TEXT_INPUT:
        raise ValueError(f"need 0 <= min_length <= max_length <= {MAX_TEXT_INPUT}")
    text_input: dict[str, Any] = {
        "type": TEXT_INPUT,
        "custom_id": text_input_custom_id,
        "style": 2,  # paragraph
        "label": label,
        "min_length": min_length,
        "max_length": max_length,
        "required": required,
    }
    if placeholder:
        if len(placeholder) > MAX_INPUT_PLACEHOLDER:
            raise ValueError(f"placeholder must be at most {MAX_INPUT_PLACEHOLDER} characters")
        text_input["placeholder"] = placeholder
    if value:
        text_input["value"] = value[:max_length]
    return {
        "type": ResponseType.MODAL.value,
        "data": {
            "custom_id": custom_id,
            "title": title,
            "components": [{"type": ACTION_ROW, "components": [text_input]}],
        },
    }
