"""Plain records Docent keeps about conversations: turns, reviewers' feedback and Q&A pairs.

Validation happens when a record is built, so a bad value is refused where it was made.

>>> t = Turn.new(session_id="s1", user="ana", question="How do I book leave?", answer="In the HR portal.")
>>> t.route
'rag'
>>> Feedback.new(turn_id=t.turn_id, reviewer="bo", kind="review", likert=4).likert_label
'agree'
>>> QAPair.new("How do I book leave?", "In the HR portal.").pair_id == QAPair.new("how do i  book leave", "x").pair_id
True
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from chain.types import Reference, Route
from config.errors import DocentError
from config.text import strip_invisible

FeedbackKind = Literal["thumbs", "review"]
Severity = Literal["minor", "major"]

ROUTES = ("finetuned", "rag")
FEEDBACK_KINDS = ("thumbs", "review")
SEVERITIES = ("minor", "major")
LIKERT_LABELS = {
    1: "strongly disagree",
    2: "disagree",
    3: "neither agree nor disagree",
    4: "agree",
    5: "strongly agree",
}
QA_ORIGINS = ("import", "correction")


class RecordError(DocentError, ValueError):
    """A record field has a value Docent cannot store; the message names the field and the fix."""


def utc_now() -> str:
    """Current time as a fixed-width UTC ISO string, so text order is time order."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize_time(value: str | datetime, field_name: str) -> str:
    """Accept an ISO string or datetime (naive = UTC) and return the canonical UTC string."""
    if isinstance(value, datetime):
        return format_time(value)
    try:
        return format_time(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise RecordError(f"{field_name}={value!r} is not an ISO date-time; use e.g. 2026-11-22T09:30:00Z.") from None


_TRAILING_PUNCT = re.compile(r"[\s\.\?\!,;:…。？！]+$")


def normalize_question(question: str) -> str:
    """Lowercase, collapse whitespace and strip punctuation at the end: the Q&A dedupe key."""
    text = " ".join(question.lower().split())
    return _TRAILING_PUNCT.sub("", text)


def question_key(question: str) -> str:
    """Stable id of a question: the same for every spelling that normalises alike."""
    return hashlib.sha256(normalize_question(question).encode("utf-8")).hexdigest()[:24]


def _require_text(value: str | None, name: str, record: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{record}.{name} is empty; give the {name.replace('_', ' ')} text.")


def _from_dict(cls, data: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Turn:
    """One question and the answer Docent gave, with everything needed to judge it later."""

    turn_id: str
    session_id: str
    user: str
    created_at: str
    question: str
    answer: str
    standalone_question: str = ""
    route: Route = "rag"
    abstained: bool = False
    confidence: float = 0.0
    matched_question: str | None = None
    references: list[Reference] = field(default_factory=list)  # each keeps its citation number n
    backend: str = ""
    model: str = ""
    index_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence_band: str = ""  # high / medium / low, as shown with the answer
    notice: str | None = None  # e.g. "the local model could not be loaded; answering extractively"
    images: list[str] = field(default_factory=list)  # images of the matched Q&A pair

    def __post_init__(self) -> None:
        for name in ("turn_id", "session_id", "user", "question"):
            _require_text(getattr(self, name), name, "Turn")
        if not isinstance(self.answer, str):
            raise RecordError("Turn.answer must be text (an abstention is an empty string plus abstained=True).")
        if not self.answer.strip() and not self.abstained:
            raise RecordError("Turn.answer is empty; give the answer text or set abstained=True.")
        if self.route not in ROUTES:
            raise RecordError(f"Turn.route={self.route!r} is unknown; use one of {', '.join(ROUTES)}.")
        self.created_at = normalize_time(self.created_at, "Turn.created_at")
        self.confidence = float(self.confidence)
        if not 0.0 <= self.confidence <= 1.0:
            raise RecordError(f"Turn.confidence={self.confidence} is outside [0, 1].")
        self.abstained = bool(self.abstained)
        self.standalone_question = self.standalone_question or self.question
        self.references = [Reference.from_dict(r) for r in self.references]
        self.images = [str(i) for i in self.images or []]
        self.timings_ms = {str(k): float(v) for k, v in self.timings_ms.items()}

    @classmethod
    def new(cls, *, session_id: str, user: str, question: str, answer: str, **kwargs: Any) -> Turn:
        kwargs.setdefault("turn_id", uuid.uuid4().hex)
        kwargs.setdefault("created_at", utc_now())
        return cls(session_id=session_id, user=user, question=question, answer=answer, **kwargs)

    @property
    def day(self) -> str:
        return self.created_at[:10]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return _from_dict(cls, data)


@dataclass
class Feedback:
    """One reviewer's judgement of one turn; (turn_id, reviewer, kind) is unique.

    A reviewer revising their feedback saves a new Feedback with the same key: the store keeps
    the first created_at and takes the newer updated_at.
    """

    turn_id: str
    reviewer: str
    kind: FeedbackKind
    created_at: str = ""
    updated_at: str = ""
    thumbs: int | None = None  # +1 / -1
    severity: Severity | None = None
    likert: int | None = None  # 1 strongly disagree .. 5 strongly agree ("the answer is correct")
    corrected_answer: str | None = None
    comment: str | None = None
    approved: bool = False  # the correction goes into the Q&A set

    def __post_init__(self) -> None:
        _require_text(self.turn_id, "turn_id", "Feedback")
        _require_text(self.reviewer, "reviewer", "Feedback")
        if self.kind not in FEEDBACK_KINDS:
            raise RecordError(f"Feedback.kind={self.kind!r} is unknown; use one of {', '.join(FEEDBACK_KINDS)}.")
        if self.thumbs is not None and self.thumbs not in (1, -1):
            raise RecordError(f"Feedback.thumbs={self.thumbs!r} must be +1 (up), -1 (down) or None.")
        if self.kind == "thumbs" and self.thumbs is None:
            raise RecordError("Feedback of kind 'thumbs' needs thumbs=+1 or -1.")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise RecordError(f"Feedback.severity={self.severity!r} is unknown; use minor, major or None.")
        if self.likert is not None:
            if isinstance(self.likert, bool) or int(self.likert) != self.likert or self.likert not in LIKERT_LABELS:
                raise RecordError(
                    f"Feedback.likert={self.likert!r} is out of range; use 1 (strongly disagree) to 5 (strongly agree)."
                )
            self.likert = int(self.likert)
        # invisible and direction-changing characters never reach a reviewer (issue 11, config/text.py)
        self.corrected_answer = strip_invisible(self.corrected_answer) or None
        self.comment = strip_invisible(self.comment) or None
        self.approved = bool(self.approved)
        if self.approved and not (self.corrected_answer and self.corrected_answer.strip()):
            raise RecordError("Feedback.approved=True needs a corrected_answer to add to the Q&A set.")
        now = utc_now()
        self.created_at = normalize_time(self.created_at or now, "Feedback.created_at")
        self.updated_at = normalize_time(self.updated_at or self.created_at, "Feedback.updated_at")

    @classmethod
    def new(cls, *, turn_id: str, reviewer: str, kind: FeedbackKind, **kwargs: Any) -> Feedback:
        now = utc_now()
        kwargs.setdefault("created_at", now)
        kwargs.setdefault("updated_at", now)
        return cls(turn_id=turn_id, reviewer=reviewer, kind=kind, **kwargs)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.turn_id, self.reviewer, self.kind)

    @property
    def likert_label(self) -> str | None:
        return LIKERT_LABELS.get(self.likert) if self.likert is not None else None

    @property
    def day(self) -> str:
        return self.created_at[:10]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feedback:
        return _from_dict(cls, data)


@dataclass
class QAPair:
    """A question with its approved answer; the router matches these and fine-tuning trains on them."""

    pair_id: str
    question: str
    answer: str
    context: str = ""
    images: list[str] = field(default_factory=list)
    origin: Literal["import", "correction"] = "import"
    source_turn_id: str | None = None
    created_at: str = ""

    def __post_init__(self) -> None:
        _require_text(self.question, "question", "QAPair")
        _require_text(self.answer, "answer", "QAPair")
        if self.origin not in QA_ORIGINS:
            raise RecordError(f"QAPair.origin={self.origin!r} is unknown; use import or correction.")
        expected = question_key(self.question)
        if not self.pair_id:
            self.pair_id = expected
        elif self.pair_id != expected:
            raise RecordError(
                f"QAPair.pair_id={self.pair_id!r} does not match its question; build pairs with QAPair.new()."
            )
        self.context = self.context or ""
        self.images = [str(i) for i in (self.images or [])]
        self.created_at = normalize_time(self.created_at or utc_now(), "QAPair.created_at")

    @classmethod
    def new(cls, question: str, answer: str, **kwargs: Any) -> QAPair:
        if "context" in kwargs:
            kwargs["context"] = strip_invisible(kwargs["context"])
        # cleaned here, not in __post_init__: pair_id hashes the question, and stored pairs must still load
        return cls(pair_id="", question=strip_invisible(question), answer=strip_invisible(answer), **kwargs)

    @classmethod
    def from_row(cls, row: Any, **kwargs: Any) -> QAPair:
        """From a row of a Q&A file (feedback.qa_file.QARow: instruction, response, context, images)."""
        return cls.new(row.instruction, row.response, context=row.context, images=list(row.images), **kwargs)

    @property
    def normalized_question(self) -> str:
        return normalize_question(self.question)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QAPair:
        return _from_dict(cls, data)
