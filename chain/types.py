"""Plain data the answer chain produces: references, events and the final result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Route = Literal["finetuned", "rag"]


@dataclass
class Reference:
    source: str  # path relative to the ingested root
    title: str
    locator: str  # "page 12", "sheet Prices, rows 2-41", "section Setup > Install"
    url: str | None
    score: float
    snippet: str = ""
    n: int = 0  # its citation number in the answer ([n]); 0 when the answer cites nothing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Reference) -> Reference:
        """From a stored dict (older rows lack `n` and `snippet`); unknown keys are ignored."""
        if isinstance(data, Reference):
            return data
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("title", values.get("source", ""))
        values.setdefault("locator", "")
        values.setdefault("url", None)
        values["score"] = float(values.get("score") or 0.0)
        values["n"] = int(values.get("n") or 0)
        return cls(**values)

    def number(self, position: int) -> int:
        """The number the answer cites it by; its 1-based position for rows stored before numbers were kept."""
        return self.n or position


@dataclass
class Retrieved:
    """A passage retrieval ranked for the question, cited or not: what `docent eval` scores recall on."""

    source: str
    locator: str
    score: float
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnswerResult:
    question: str
    standalone_question: str
    answer: str
    route: Route
    abstained: bool
    confidence: float  # in [0, 1]
    confidence_band: Literal["high", "medium", "low"]
    references: list[Reference] = field(default_factory=list)
    matched_question: str | None = None
    match_similarity: float | None = None
    llm_called: bool = False
    backend: str = ""  # llm backend that produced the answer, e.g. "extractive", "sagemaker"
    model: str = ""  # model or endpoint id
    index_version: str = ""
    images: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None  # e.g. "the local model could not be loaded; answering extractively"
    retrieved: list[Retrieved] = field(default_factory=list)  # top passages considered, best first (issue 10)
    raw_confidence: float | None = None  # the route's score before calibration (chain/calibration.py)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["references"] = [r.to_dict() for r in self.references]
        data["retrieved"] = [r.to_dict() for r in self.retrieved]
        return data


@dataclass
class ChainEvent:
    """What `answer()` yields while it works.

    kind: "route" (data: route, matched_question, match_similarity), "token" (text),
    "final" (result: AnswerResult).
    """

    kind: Literal["route", "token", "final"]
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    result: AnswerResult | None = None
