"""Scoring: plain functions from per-question records to the figures `docent eval` reports.

Correctness, the label calibration is measured against: an answerable question is right when the
answer is not a refusal and contains every key fact; an out-of-scope question when it is refused;
a routing case when it takes the expected route.

>>> key_fact_hits("The limit is **1 GB** per `num\\\\_round`.", ["1 gb", "num_round"])
[True, True]
>>> retrieval_figures([0, 3, None])["recall@5"]
0.6667
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalise(text: str) -> str:
    """Case, whitespace and Markdown insensitive: `num\\_round`, **bold**, `code` and curly quotes."""
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES)
    text = _ESCAPE.sub(r"\1", text).replace("*", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip().casefold()


def key_fact_hits(answer: str, facts: Sequence[str]) -> list[bool]:
    text = normalise(answer)
    return [normalise(f) in text for f in facts]


def distinct_pages(sources: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s for s in sources if s))


def _same_page(source: str, gold: str) -> bool:
    source, gold = source.replace("\\", "/"), gold.replace("\\", "/")
    return source == gold or source.endswith("/" + gold)


def first_gold_rank(pages: Sequence[str], gold: Sequence[str]) -> int | None:
    """0-based rank of the first gold page among distinct `pages`, or None."""
    for i, page in enumerate(distinct_pages(pages)):
        if any(_same_page(page, g) for g in gold):
            return i
    return None


def retrieval_figures(ranks: Sequence[int | None]) -> dict[str, float | int]:
    """Page recall@1/5/10 and MRR@10 from each question's first gold rank."""
    n = len(ranks)
    if not n:
        return {"n": 0}

    def share(k: int) -> float:
        return round(sum(1 for r in ranks if r is not None and r < k) / n, 4)

    mrr = sum(1 / (r + 1) for r in ranks if r is not None and r < 10) / n
    return {"n": n, "recall@1": share(1), "recall@5": share(5), "recall@10": share(10), "mrr@10": round(mrr, 4)}


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over `bins` equal-width bins, with the bins for a reliability diagram."""
    table = [{"lo": i / bins, "hi": (i + 1) / bins, "n": 0, "confidence": 0.0, "accuracy": 0.0} for i in range(bins)]
    for p, ok in zip(confidences, correct):
        b = table[min(bins - 1, max(0, int(math.floor(float(p) * bins))))]
        b["n"] += 1
        b["confidence"] += float(p)
        b["accuracy"] += 1.0 if ok else 0.0
    total = len(confidences)
    ece = 0.0
    for b in table:
        if b["n"]:
            b["confidence"] = round(b["confidence"] / b["n"], 4)
            b["accuracy"] = round(b["accuracy"] / b["n"], 4)
            ece += b["n"] / total * abs(b["accuracy"] - b["confidence"])
    return {"n": total, "ece": round(ece, 4) if total else None, "bins": table}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), without numpy."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(data[lo] + (data[hi] - data[lo]) * (pos - lo), 2)


@dataclass
class ItemResult:
    """What one gold question got, and the gold it is judged against."""

    id: str
    kind: str
    question: str
    group: str  # category (answerable, out_of_scope) or variant (routing)
    answer: str = ""
    route: str = ""
    expected_route: str = "rag"
    abstained: bool = False
    confidence: float = 0.0
    raw_confidence: float = 0.0  # before calibration: what `docent calibrate --from-eval` fits on
    band: str = ""
    matched_question: str | None = None
    pair: str | None = None
    gold_pages: list[str] = field(default_factory=list)
    retrieved_pages: list[str] = field(default_factory=list)
    cited_pages: list[str] = field(default_factory=list)
    key_facts: list[str] = field(default_factory=list)
    fact_hits: list[bool] = field(default_factory=list)
    latency_ms: float = 0.0
    pre_llm_ms: float = 0.0
    llm_called: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)  # the chain's own, per step
    error: str | None = None

    @property
    def correct(self) -> bool:
        if self.error:
            return False
        if self.kind == "answerable":
            return not self.abstained and bool(self.fact_hits) and all(self.fact_hits)
        if self.kind == "out_of_scope":
            return self.abstained
        return self.route == self.expected_route

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "correct": self.correct}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _by_group(items: Sequence[ItemResult], hit) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ItemResult]] = defaultdict(list)
    for it in items:
        groups[it.group or "-"].append(it)
    out = {}
    for name in sorted(groups):
        n, k = len(groups[name]), sum(1 for it in groups[name] if hit(it))
        out[name] = {"n": n, "hits": k, "rate": _rate(k, n)}
    return out


def _overall(items: Sequence[ItemResult], hit) -> dict[str, Any]:
    k = sum(1 for it in items if hit(it))
    return {"n": len(items), "hits": k, "rate": _rate(k, len(items))}


def summarise(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Every figure of a run, from its per-question results."""
    answerable = [r for r in results if r.kind == "answerable"]
    oos = [r for r in results if r.kind == "out_of_scope"]
    routing = [r for r in results if r.kind == "routing"]
    with_pages = [r for r in answerable if r.gold_pages]
    with_facts = [r for r in answerable if r.key_facts]

    def fact_match(r: ItemResult) -> bool:
        return not r.abstained and not r.error and all(r.fact_hits)

    def refused(r: ItemResult) -> bool:
        return r.abstained

    def routed(r: ItemResult) -> bool:
        return r.route == r.expected_route

    pairs = [r for r in routing if r.pair]
    latencies = [r.latency_ms for r in results if not r.error]
    pre_llm = [r.pre_llm_ms for r in results if not r.error]
    return {
        "counts": {
            "answerable": len(answerable),
            "out_of_scope": len(oos),
            "routing": len(routing),
            "errors": sum(1 for r in results if r.error),
        },
        "retrieval": {
            "retrieved": retrieval_figures([first_gold_rank(r.retrieved_pages, r.gold_pages) for r in with_pages]),
            "cited": retrieval_figures([first_gold_rank(r.cited_pages, r.gold_pages) for r in with_pages]),
        },
        "key_facts": {"overall": _overall(with_facts, fact_match), "by_category": _by_group(with_facts, fact_match)},
        "refusals": {
            "answerable": {"overall": _overall(answerable, refused), "by_category": _by_group(answerable, refused)},
            "out_of_scope": {
                "overall": _overall(oos, refused),
                "by_category": _by_group(oos, refused),
                "without_llm": _overall(oos, lambda r: r.abstained and not r.llm_called),
            },
        },
        "routing": {
            "overall": _overall(routing, routed),
            "by_variant": _by_group(routing, routed),
            "pair_matched": _overall(pairs, lambda r: routed(r) and r.matched_question == r.pair),
        },
        "calibration": calibration([r.confidence for r in results], [r.correct for r in results]),
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "pre_llm_p50": percentile(pre_llm, 50),
            "pre_llm_p95": percentile(pre_llm, 95),
        },
    }


# The figures `--compare` and the quality gate look at, with the direction that is better.
HEADLINE: dict[str, tuple[tuple[str, ...], int]] = {
    "retrieved recall@1": (("retrieval", "retrieved", "recall@1"), +1),
    "retrieved recall@5": (("retrieval", "retrieved", "recall@5"), +1),
    "retrieved recall@10": (("retrieval", "retrieved", "recall@10"), +1),
    "retrieved MRR@10": (("retrieval", "retrieved", "mrr@10"), +1),
    "cited recall@5": (("retrieval", "cited", "recall@5"), +1),
    "cited MRR@10": (("retrieval", "cited", "mrr@10"), +1),
    "key-fact match": (("key_facts", "overall", "rate"), +1),
    "answerable refused": (("refusals", "answerable", "overall", "rate"), -1),
    "out-of-scope refused": (("refusals", "out_of_scope", "overall", "rate"), +1),
    "routing accuracy": (("routing", "overall", "rate"), +1),
    "ECE": (("calibration", "ece"), -1),
    "latency p50 ms": (("latency_ms", "p50"), -1),
    "latency p95 ms": (("latency_ms", "p95"), -1),
}


def lookup(summary: dict[str, Any], path: Sequence[str]) -> Any:
    node: Any = summary
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def headline(summary: dict[str, Any]) -> dict[str, float | None]:
    return {name: lookup(summary, path) for name, (path, _) in HEADLINE.items()}


def compare(current: dict[str, Any], previous: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline figures side by side, with the delta and whether it is better, worse or the same."""
    rows = []
    for name, (path, direction) in HEADLINE.items():
        now, before = lookup(current, path), lookup(previous, path)
        delta = round(now - before, 4) if isinstance(now, int | float) and isinstance(before, int | float) else None
        verdict = (
            "" if delta is None else "same" if abs(delta) < 1e-9 else ("better" if delta * direction > 0 else "worse")
        )
        rows.append({"metric": name, "previous": before, "current": now, "delta": delta, "verdict": verdict})
    return rows
