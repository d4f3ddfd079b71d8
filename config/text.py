"""Cleaning and size limits for every text a person types: questions, comments, corrections, Q&A pairs.

One pure function, used by the chain (questions), the app and the CLI (feedback, Q&A imports), so a
text is cleaned the same way wherever it enters (issue 11). Cleaning removes what would make a
reviewer see something other than what was stored: control characters, zero-width characters and
the bidirectional overrides/isolates (U+202A-202E, U+2066-2069) that display text reversed.

>>> clean_text("pay\\u202eyad 01 ni", what="The comment", max_chars=100)
'payyad 01 ni'
>>> try:
...     clean_text("x" * 5, what="The comment", max_chars=3, setting="DOCENT_MAX_COMMENT_CHARS")
... except TextTooLongError as exc:
...     print(exc)
The comment is 5 characters long; the limit is 3 (DOCENT_MAX_COMMENT_CHARS). Shorten it and send it again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from config.errors import DocentError

# C0/C1 controls except tab and newline; zero-width and directional marks; bidi embeddings,
# overrides and isolates; the BOM. U+2028/2029 are line breaks in disguise: they become "\n".
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
BIDI_CONTROLS = "".join(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_invisible(value: str | None) -> str | None:
    """Only the cleaning (no limit, no trimming): for records built outside the app (imports, the outbox).

    >>> strip_invisible("a\u2066b\u2069c\x07")
    'abc'
    """
    if value is None:
        return None
    return _INVISIBLE.sub("", _SURROGATES.sub("", str(value)))


class TextError(DocentError, ValueError):
    """A typed text cannot be kept as it is; the message names it and says what to change."""


class TextTooLongError(TextError):
    """Over its limit; refused before anything is stored or queued."""


def clean_text(
    value: Any,
    *,
    what: str,
    max_chars: int | None = None,
    setting: str | None = None,
    single_line: bool = False,
    required: bool = False,
    normalization: str = "NFC",
) -> str:
    """The text without invisible and direction-changing characters, checked against `max_chars`.

    `what` names the text in messages ("The comment"); `setting` is the variable that raises the limit.
    Line breaks are kept (as "\\n") unless `single_line`; then all whitespace collapses to single spaces.
    """
    text = "" if value is None else str(value)
    text = _SURROGATES.sub("", text)
    text = unicodedata.normalize(normalization, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _INVISIBLE.sub("", text)
    if single_line:
        text = " ".join(text.split())
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    if required and not text:
        raise TextError(f"{what} is empty: type it and send it again.")
    if max_chars is not None and len(text) > max_chars:
        where = f" ({setting})" if setting else ""
        raise TextTooLongError(
            f"{what} is {len(text):,} characters long; the limit is {max_chars:,}{where}. Shorten it and send it again."
        )
    return text


@dataclass(frozen=True)
class TextLimits:
    """The limits from settings, for code that has no Settings object at hand (defaults = settings' defaults).

    >>> TextLimits().comment
    2000
    """

    question: int = 2000
    comment: int = 2000
    answer: int = 8000

    @classmethod
    def from_settings(cls, settings: Any) -> TextLimits:
        return cls(settings.max_question_chars, settings.max_comment_chars, settings.max_answer_chars)

    def comment_text(self, value: Any) -> str:
        return clean_text(value, what="The comment", max_chars=self.comment, setting="DOCENT_MAX_COMMENT_CHARS")

    def answer_text(self, value: Any, what: str = "The corrected answer") -> str:
        return clean_text(value, what=what, max_chars=self.answer, setting="DOCENT_MAX_ANSWER_CHARS")

    def question_text(self, value: Any, what: str = "The question") -> str:
        return clean_text(
            value,
            what=what,
            max_chars=self.question,
            setting="DOCENT_MAX_QUESTION_CHARS",
            single_line=True,
            normalization="NFKC",
        )
