"""An answer the model says the docs do not fully cover, end to end: signed /ask → respond with the real `openai`
client against the loopback model → the Discord message shows it → the store keeps outcome `uncertain` → the
learning loop counts the thread as a gap."""

from __future__ import annotations

from docsbot.answer.verdict import NOT_COVERED_MARKER
from docsbot.discord.render import UNCERTAIN_COLOUR, UNCERTAIN_NOTICE
from docsbot.learning.gaps import classify
from docsbot.learning.pii import Scrubber
from docsbot.learning.threads import load_threads
from tests.bot.test_handlers import Bot, bot, respond_to_all, searcher  # noqa: F401 (fixtures)


def test_an_uncertain_answer_is_shown_as_such_stored_as_uncertain_and_counted_as_a_gap(bot: Bot) -> None:  # noqa: F811
    bot.openai.chat_responder = lambda body: (
        "Reducers must return new objects [1]; the docs say nothing about your setup.\n" + NOT_COVERED_MARKER
    )
    payload, _ = bot.ask()
    assert respond_to_all(bot) == ["answered"]
    original = bot.discord.messages[payload["token"]].original
    assert original is not None
    assert original["content"].startswith(UNCERTAIN_NOTICE)
    assert NOT_COVERED_MARKER not in original["content"] and "nothing about your setup." in original["content"]
    (sources,) = original["embeds"]
    assert sources["color"] == UNCERTAIN_COLOUR and sources["description"].startswith("[1] [")

    _question, answer = bot.store.list_messages(payload["channel_id"])
    assert answer.from_bot and answer.outcome == "uncertain"
    assert NOT_COVERED_MARKER not in answer.content and UNCERTAIN_NOTICE not in answer.content

    (view,) = load_threads(bot.store, "docs")
    asked = classify(view, Scrubber())
    assert asked is not None and asked.kind == "uncertain"


def test_a_covered_answer_keeps_the_plain_look_and_outcome(bot: Bot) -> None:  # noqa: F811
    payload, _ = bot.ask()
    respond_to_all(bot)
    original = bot.discord.messages[payload["token"]].original
    assert original is not None and not original["content"].startswith(UNCERTAIN_NOTICE)
    assert "color" not in original["embeds"][0]
    assert bot.store.list_messages(payload["channel_id"])[1].outcome == "answered"
