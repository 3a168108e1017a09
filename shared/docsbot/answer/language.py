"""Is a question written in another language than the docs? Decides whether `auto` condensing translates it.

`needs_translation(question, docs_language)` is True only when the question's prose, the text left once code
spans, quoted strings and identifiers are taken out, is long enough and the detector (py3langid, an offline
model shipped in its wheel) names another language than the docs' with confidence. Everything else counts as
the docs' language: a short message, a question that is mostly code or error strings, a docs language whose name
is not in `LANGUAGES`. A miss costs only the old behaviour (the question is searched as asked); a false
"foreign" would cost a model request on a question that needed none. docs/decisions/0019-question-language.md
records the measurements behind the thresholds.

The detector is imported and loaded on the first call that needs it (numpy and a 4.5 MB model, about 0.7 s),
never at import time: the answering core stays free of heavy imports.
"""

from __future__ import annotations

import re
import threading
from typing import Protocol

# Collection `language` names (case-insensitive) → the detector's ISO 639 codes that count as that language.
# Some languages have close varieties the detector tells apart: they count as the same language here.
LANGUAGES: dict[str, frozenset[str]] = {
    "english": frozenset({"en"}),
    "french": frozenset({"fr"}),
    "german": frozenset({"de", "lb"}),
    "spanish": frozenset({"es", "gl"}),
    "portuguese": frozenset({"pt", "gl"}),
    "italian": frozenset({"it"}),
    "dutch": frozenset({"nl", "af"}),
    "polish": frozenset({"pl"}),
    "russian": frozenset({"ru", "uk", "be"}),
    "ukrainian": frozenset({"uk", "ru", "be"}),
    "turkish": frozenset({"tr"}),
    "swedish": frozenset({"sv", "no", "da"}),
    "norwegian": frozenset({"no", "nn", "da", "sv"}),
    "danish": frozenset({"da", "no", "sv"}),
    "czech": frozenset({"cs", "sk"}),
    "japanese": frozenset({"ja"}),
    "chinese": frozenset({"zh", "wuu", "yue"}),
    "korean": frozenset({"ko"}),
    "indonesian": frozenset({"id", "ms", "jv"}),
    "vietnamese": frozenset({"vi"}),
}

# Measured on the development questions (English, 122) and their translations (60): every English question's
# confidence for another language stays below 0.11, every translation's top language scores 0.59 or more.
MIN_CONFIDENCE = 0.5
# Below this many prose letters a message is too short to call foreign ("ok but why", "thanks!").
MIN_LETTERS = 10
# One Han, kana or Hangul character carries about as much as a short Latin word's letters.
CJK_WEIGHT = 3

_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# A quoted string ('…', "…", “…”): it opens after a space or bracket and closes before a space or punctuation,
# so apostrophes inside words (l'API, doesn't) never start or end one. Quoted text is mostly an error message.
_QUOTED = re.compile(r"""(?:^|(?<=[\s(\[:]))['"“‘«「](?=\S).*?(?<=\S)['"”’»」](?=$|[\s.,;:!?)\]、。，？！])""")
_CODE_CHARS = frozenset("._/\\()[]{}<>=$@#:;*&|+%~^")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]")
_EDGE_PUNCTUATION = ".,;:!?()[]{}\"'«»“”‘’、。，？！：；（）「」"


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF


def prose(text: str) -> str:
    """The words of `text` outside code: fences, inline code, quoted strings and identifier-like tokens removed."""
    text = _QUOTED.sub(" ", _INLINE_CODE.sub(" ", _FENCE.sub(" ", text)))
    words: list[str] = []
    for token in text.split():
        core = token.strip(_EDGE_PUNCTUATION)
        if not core:
            continue
        if "_" in core or _CAMEL.search(core) or any(c in _CODE_CHARS or c.isdigit() for c in core):
            # Languages written without spaces glue identifiers to words ("storeにpreloadedStateを"): keep those.
            kept = "".join(c for c in core if _is_cjk(c))
            if kept:
                words.append(kept)
            continue
        words.append(core)
    return " ".join(words)


def letter_weight(text: str) -> int:
    """How much language `text` carries: its letters, a CJK character counting `CJK_WEIGHT`."""
    return sum(CJK_WEIGHT if _is_cjk(c) else 1 for c in text if c.isalpha())


def language_codes(name: str) -> frozenset[str] | None:
    """The detector's codes for a collection's `language` name; None when the name is not one we know."""
    return LANGUAGES.get(name.strip().lower())


class _Classifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


_lock = threading.Lock()
_classifier: _Classifier | None = None


def _detector() -> _Classifier:
    global _classifier
    with _lock:
        if _classifier is None:
            # Imported here: numpy and the model load only in processes that detect a language.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

            _classifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _classifier


def detect(text: str) -> tuple[str, float]:
    """The most likely language of `text` (an ISO 639 code) and the detector's confidence in it (0-1)."""
    language, confidence = _detector().classify(text)
    return str(language), float(confidence)


def needs_translation(question: str, docs_language: str) -> bool:
    """True when `question` is confidently written in another language than `docs_language` (e.g. "English")."""
    codes = language_codes(docs_language)
    if codes is None:
        return False
    words = prose(question)
    if letter_weight(words) < MIN_LETTERS:
        return False
    language, confidence = detect(words)
    return language not in codes and confidence >= MIN_CONFIDENCE
