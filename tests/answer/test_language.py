"""Which questions count as written in another language than the docs (`docsbot.answer.language`).

Measured on every development question (English, many with code and error strings: none may count as foreign,
or `auto` would cost a model request on English questions) and on 60 translations written for these tests
(`fixtures/translated_questions.jsonl`: French, Spanish, German, Portuguese, Japanese, Chinese, ten each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docsbot.answer import language
from docsbot.answer.language import LANGUAGES, language_codes, needs_translation, prose
from docsbot.index.eval import load_questions
from tests.harness.corpora import CORPORA

TRANSLATED = [
    json.loads(line)
    for line in (Path(__file__).parent / "fixtures" / "translated_questions.jsonl").read_text("utf-8").splitlines()
]
NAMES = {"fr": "French", "es": "Spanish", "de": "German", "pt": "Portuguese", "ja": "Japanese", "zh": "Chinese"}


def dev_questions() -> list[str]:
    files = [CORPORA / name / "questions.jsonl" for name in ("redux-docs", "ionic-docs")]
    if not all(f.is_file() for f in files):
        pytest.skip(f"the development corpora are not at {CORPORA}")
    return [q.question for f in files for q in load_questions(f)]


def test_no_english_development_question_counts_as_foreign() -> None:
    questions = dev_questions()
    assert len(questions) == 122
    foreign = [q for q in questions if needs_translation(q, "English")]
    assert foreign == []


def test_every_translated_question_counts_as_foreign_to_english_docs_and_native_to_its_own() -> None:
    assert len(TRANSLATED) == 60 and {q["language"] for q in TRANSLATED} == set(NAMES)
    missed = [q["question"] for q in TRANSLATED if not needs_translation(q["question"], "English")]
    assert missed == []
    # The same questions about docs written in their own language need no translation.
    native = [q["question"] for q in TRANSLATED if needs_translation(q["question"], NAMES[q["language"]])]
    assert native == []


def test_english_questions_count_as_foreign_to_docs_in_another_language() -> None:
    questions = dev_questions()
    foreign = sum(needs_translation(q, "German") for q in questions)
    assert foreign >= 0.95 * len(questions)


@pytest.mark.parametrize(
    "message",
    ["thanks!", "ok but why", "merci !", "¿y?", "same error", "`createSlice`?", "useSelector(state => state.a.b)"],
)
def test_short_or_code_only_messages_count_as_the_docs_language(message: str) -> None:
    assert not needs_translation(message, "English")


def test_short_questions_in_scripts_without_spaces_still_count() -> None:
    assert needs_translation("什么是 slice？", "English")
    assert needs_translation("スライスとは何ですか？", "English")


def test_an_unknown_docs_language_never_asks_for_a_translation() -> None:
    french = TRANSLATED[0]["question"]
    assert needs_translation(french, "English")
    assert language_codes("Klingon") is None
    assert not needs_translation(french, "Klingon")
    assert language_codes(" english ") == frozenset({"en"})


def test_prose_leaves_out_code_quotes_and_identifiers_but_keeps_words() -> None:
    text = (
        "dispatch(fetchUsers()) lève 'Actions must be plain objects.' quand l'API répond; "
        "voir `store.getState()` et\n```js\nconst x = 1\n```\nstate.user.city, configureStore, SET_USER"
    )
    assert prose(text) == "lève quand l'API répond voir et"
    # Identifiers glued to words in languages written without spaces: the words stay.
    assert prose("storeにpreloadedStateを渡す") == "にを渡す"
    assert prose("doesn't work with 'ion-select'") == "doesn't work with"


def test_every_code_is_one_the_detector_can_answer() -> None:
    language.detect("warm up")
    known = set(language._detector().nb_classes)  # type: ignore[attr-defined]
    assert {code for codes in LANGUAGES.values() for code in codes} <= known
