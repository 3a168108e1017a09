"""How an UNCERTAIN answer looks in Discord: a warning line first, an amber sources embed, and nothing else
changed (mentions still never ping, the text still fits Discord's limits)."""

from __future__ import annotations

from docsbot.answer.model import AnswerKind
from docsbot.discord.limits import MAX_CONTENT
from docsbot.discord.render import UNCERTAIN_COLOUR, UNCERTAIN_FOOTER, UNCERTAIN_NOTICE, render_answer
from tests.discord.test_render import THREAD, answer


def test_an_uncertain_answer_says_so_first_and_in_colour() -> None:
    messages = render_answer(
        answer("Partly covered [1]. @everyone", kind=AnswerKind.UNCERTAIN, citations=1), thread_key=THREAD
    )
    (message,) = messages
    assert message["content"].startswith(UNCERTAIN_NOTICE + "\n\n")
    assert "Partly covered [1]." in message["content"]
    assert message["allowed_mentions"] == {"parse": []} and "@everyone" not in message["content"]
    (embed,) = message["embeds"]
    assert embed["color"] == UNCERTAIN_COLOUR and embed["footer"] == {"text": UNCERTAIN_FOOTER}


def test_a_long_uncertain_answer_still_fits_and_shows_the_notice_once() -> None:
    text = ("A paragraph about reducers [1]. " * 60 + "\n\n") * 3
    messages = render_answer(answer(text, kind=AnswerKind.UNCERTAIN, citations=1), thread_key=THREAD)
    assert len(messages) > 1 and all(len(m["content"]) <= MAX_CONTENT for m in messages)
    assert messages[0]["content"].startswith(UNCERTAIN_NOTICE)
    assert sum(m["content"].count(UNCERTAIN_NOTICE) for m in messages) == 1


def test_a_generated_answer_has_no_notice_and_no_colour() -> None:
    (message,) = render_answer(answer("Covered [1].", citations=1), thread_key=THREAD)
    assert not message["content"].startswith(UNCERTAIN_NOTICE) and "color" not in message["embeds"][0]
