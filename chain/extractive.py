"""Extractive answers that answer: the sentence, list item or table cells that state what was asked.

Without a language model Docent quotes the documents. Quoting the passage's best-matching *topic*
sentence is not enough ("Known issues", a whole spreadsheet row, a sentence about the feature
instead of its limit), so each candidate (chain/candidates.py) is scored on
- meaning: cosine between the question and the candidate, with the embedder the chain already
  loaded (all candidates embedded in one batch by the caller);
- lexical evidence: the share of the question's distinctive terms the candidate (or its section
  heading) contains, weighted by how rare each term is among the candidates;
- the kind of answer asked for: numbers and units for "how many / max / limit / how long",
  the word "default" for defaults, an address for "who / which team / email", a version for
  "which version / release", a date or day for "when"; a candidate that lacks the value while the
  heading above it has it ("Docent 1.1 release notes" over a bullet) counts, and is quoted with it;
- where the retrievers matched: inside the best chunk of a better-ranked passage.
Day and month names match their short forms ("saturdays" ~ "Sat", "Mon-Fri" holds Wednesday).
Headings and labels are never the whole answer. A table row answers with the columns the question
names ("Critical: first response 30 minutes, 24/7"). Pure functions; the caller embeds.

>>> from chain.candidates import split_candidates
>>> cands = [Scored(0, c) for c in split_candidates("Leave\\nStaff get 25 days of leave. The canteen opens at 8.")]
>>> pick(score("how many days of leave do i get", cands)).text
'Staff get 25 days of leave. [1]'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chain.candidates import Candidate, split_candidates
from index.retrieval import Passage
from index.text import query_terms, tokens

_QUANTITY_Q = re.compile(
    r"\b(how (many|much|long|often|big|large|fast|soon)|max(imum)?|min(imum)?|limit|at most|"
    r"at least|size|timeout|quota|number of|percent(age)?|how quickly|response time|hours?)\b",
    re.I,
)
_DEFAULT_Q = re.compile(
    r"\b(default|by default|if i (do not|don'?t|dont) (set|pick|change|choose)|unset|otherwise)\b", re.I
)
_WHO_Q = re.compile(r"\b(who|whom|which team|contact|e-?mail|reach|whose)\b", re.I)
_NUMBER = re.compile(r"\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_DEFAULT_A = re.compile(r"\bdefault", re.I)

# Day and month names with their common short forms; each form stands for the full name.
_CALENDAR_FORMS = {
    "monday": ("mon",), "tuesday": ("tue", "tues"), "wednesday": ("wed", "weds"), "thursday": ("thu", "thur", "thurs"),
    "friday": ("fri",), "saturday": ("sat",), "sunday": ("sun",),
    "january": ("jan",), "february": ("feb",), "march": ("mar",), "april": ("apr",), "may": (), "june": ("jun",),
    "july": ("jul",), "august": ("aug",), "september": ("sep", "sept"), "october": ("oct",), "november": ("nov",),
    "december": ("dec",),
}  # fmt: skip
_CALENDAR = {f: full for full, forms in _CALENDAR_FORMS.items() for f in (full, full + "s", *forms)}
_WEEK = list(_CALENDAR_FORMS)[:7]
_DAY_NAMES = "|".join(f for f, full in _CALENDAR.items() if full in _WEEK)
_MONTH_NAMES = "|".join(f for f, full in _CALENDAR.items() if full not in _WEEK and full != "may")
_DAY_RANGE = re.compile(rf"\b({_DAY_NAMES})\s*(?:-|–|to|through|until)\s*({_DAY_NAMES})\b", re.I)

# Kinds of value a question can ask for: (asked, how the value looks, weight when only the heading
# above the candidate holds it). A heading's bare number is seldom the amount asked for.
_VERSION_V = r"\bv?\d+\.\d+(?:\.\d+)*\b"
_DAY_V = rf"\b(?:{_DAY_NAMES})\b"
_DATE_V = rf"{_DAY_V}|\b(?:{_MONTH_NAMES})\b|\bmay \d|\d may\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}:\d\d\b|{_VERSION_V}"
VALUE_KINDS = (
    (re.compile(r"\b(which|what)\s+(\w+\s+)?(version|release)s?\b|\bsince (which|what|when)\b", re.I),
     re.compile(_VERSION_V, re.I), 1.0),
    (re.compile(r"\bwhen\b|\b(what|which) (date|year|month|time)\b", re.I), re.compile(_DATE_V, re.I), 1.0),
    (re.compile(r"\b(what|which) days?\b|\bon (what|which) days?\b", re.I), re.compile(_DAY_V, re.I), 1.0),
    (_QUANTITY_Q, _NUMBER, 0.0),
)  # fmt: skip

# Weights of the candidate score; chosen on the demo questions and the guide's tune half (bench/bench_answers.py).
W_DENSE = 1.0
W_LEXICAL = 0.9
W_TYPE = 0.3
W_PHRASE = 0.3
W_KEY = 0.25
W_MATCHED = 0.08
RANK_DECAY = 0.06
HEADING_FACTOR = 0.35
ADJACENT_RUNNER_UP = 0.70  # the sentence just before or after the best one joins it from this share of its score


@dataclass
class Scored:
    passage: int  # index into the retrieved passages
    candidate: Candidate
    similarity: float = 0.0  # cosine with the question (0 when not embedded)
    heading_terms: frozenset[str] = frozenset()  # terms of the passage title and section: they scope it
    in_best_chunk: bool = False
    context: tuple[str, ...] = ()  # the headings above it, nearest first (passage section and title last)
    score: float = 0.0
    lexical: float = 0.0


@dataclass
class Choice:
    text: str
    used: list[int] = field(default_factory=list)  # passages cited, in citation order
    support: float = 0.0  # best candidate's score: how directly the quote answers


def calendar_names(text: str) -> set[str]:
    """The full day and month names a text mentions, short forms and day ranges included.

    >>> sorted(calendar_names("Open Mon-Wed 9:00-17:00, Sat 10:00-12:00"))
    ['monday', 'saturday', 'tuesday', 'wednesday']
    """
    out = {_CALENDAR[w] for w in tokens(text) if w in _CALENDAR and w != "may"}
    for start, end in _DAY_RANGE.findall(text):
        i, j = _WEEK.index(_CALENDAR[start.lower()]), _WEEK.index(_CALENDAR[end.lower()])
        out.update(_WEEK[i : j + 1] if i <= j else _WEEK[i:] + _WEEK[: j + 1])
    return out


def _stems(words: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for w in words:
        out.add(w)
        if w in _CALENDAR:
            out.add(_CALENDAR[w])
        if len(w) > 4:
            out.add(w[:-1] if w.endswith("s") else w)
            out.add(w[: max(4, len(w) - 3)])
    return out


def _has(term: str, stems: set[str]) -> bool:
    if term in stems or _CALENDAR.get(term, term) in stems:
        return True
    if len(term) > 4 and (term[:-1] in stems or term[: max(4, len(term) - 3)] in stems):
        return True
    return False


def _asked_values(question: str):
    return [(value, weight) for asked, value, weight in VALUE_KINDS if asked.search(question)]


def value_heading(question: str, text: str, context: Sequence[str]) -> str:
    """The nearest heading holding the kind of value the question asks for when `text` lacks it
    ("which version added X?" over a bullet under "Docent 1.1 release notes"), else ""."""
    for value, _ in _asked_values(question):
        if value.search(text):
            return ""
    for value, weight in _asked_values(question):
        if not weight:
            continue
        for line in context:
            if value.search(line):
                return line
    return ""


def answer_type_bonus(question: str, cand: Candidate, context: Sequence[str] = ()) -> float:
    """1 when the candidate holds the kind of fact the question asks for (less when only the heading
    above it does), 0 otherwise."""
    text = cand.text
    bonus = 0.0
    for value, weight in _asked_values(question):
        if value.search(text):
            bonus = 1.0
        elif any(value.search(line) for line in context):
            bonus = max(bonus, weight)
    if _DEFAULT_Q.search(question) and _DEFAULT_A.search(text):
        bonus = max(bonus, 1.0)
    if _WHO_Q.search(question) and _EMAIL.search(text):
        bonus = max(bonus, 1.0)
    return bonus


def _bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
    cut = [w[:5] for w in words]  # "shows at most" ~ "show at most"
    return set(zip(cut, cut[1:]))


def score(question: str, cands: Sequence[Scored]) -> list[Scored]:
    """Score every candidate in place (and return them)."""
    terms = query_terms(question)
    q_pairs = _bigrams(tokens(question))
    toks = [
        _stems(tokens(c.candidate.text) + query_terms(c.candidate.text)) | calendar_names(c.candidate.text)
        for c in cands
    ]
    n = max(len(cands), 1)
    idf = {t: math.log(1 + n / (1 + sum(1 for s in toks if _has(t, s)))) for t in terms}
    mass = sum(idf.values()) or 1.0
    for c, stems in zip(cands, toks):
        scope = _stems(list(c.heading_terms))
        own = sum(idf[t] for t in terms if _has(t, stems))
        scoped = sum(idf[t] for t in terms if not _has(t, stems) and _has(t, scope))
        c.lexical = (own + 0.5 * scoped) / mass
        value = (
            W_DENSE * c.similarity
            + W_LEXICAL * c.lexical
            + W_TYPE * answer_type_bonus(question, c.candidate, c.context)
        )
        if q_pairs:  # word pairs in the question's order ("at most", "first response") are stronger evidence
            value += W_PHRASE * len(q_pairs & _bigrams(tokens(c.candidate.text))) / len(q_pairs)
        value += W_MATCHED if c.in_best_chunk else 0.0
        cells = c.candidate.cells
        if cells and any(_has(t, _stems(query_terms(cells[0][1]))) for t in terms):
            value += W_KEY  # the question names the row by its key ("major", "facilities")
        value -= RANK_DECAY * c.passage
        if c.candidate.is_heading:
            value *= HEADING_FACTOR
        c.score = value
    return list(cands)


MAX_CANDIDATES = 48  # embedded per question: bounds the answer step's cost on long passages


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


def _is_label(cand: Candidate) -> bool:
    """A heading, or a short line that names what follows ("Docent 1.1 release notes (May 2026)")."""
    text = cand.text
    return cand.is_heading or (
        cand.kind == "sentence" and len(text.split()) <= 10 and not text.endswith((".", "!", "?", ":", ";", ","))
    )


def contexts(cands: Sequence[Candidate], title: str = "", section: str = "") -> list[tuple[str, ...]]:
    """For each candidate, the headings above it in the passage, nearest first, then the passage's
    section path (deepest first) and title."""
    outer = [part.strip() for part in reversed(section.split(" > ")) if part.strip()]
    if title and title not in outer:
        outer.append(title)
    above: list[str] = []
    out = []
    for cand in cands:
        out.append(tuple(above[::-1] + outer))
        if _is_label(cand):
            above.append(cand.text)
    return out


def gather(question: str, passages: Sequence[Passage], max_candidates: int = MAX_CANDIDATES) -> list[Scored]:
    """The candidates of the passages, with what the retrievers said about where they sit.

    Past `max_candidates`, the ones sharing the fewest question terms are dropped before embedding."""
    out: list[Scored] = []
    for i, p in enumerate(passages):
        scope = frozenset(query_terms(f"{p.parent.title} {p.parent.section}"))
        best_chunk = _squash(p.matched_children[0].text) if p.matched_children else ""
        cands = split_candidates(p.parent.text)
        for cand, context in zip(cands, contexts(cands, p.parent.title, p.parent.section)):
            inside = bool(best_chunk) and _squash(cand.text)[:60] in best_chunk
            out.append(Scored(i, cand, heading_terms=scope, in_best_chunk=inside, context=context))
    if len(out) > max_candidates:
        terms = set(query_terms(question))
        overlap = [len(terms & set(query_terms(c.candidate.text))) - 0.01 * c.passage for c in out]
        keep = sorted(range(len(out)), key=lambda k: -overlap[k])[:max_candidates]
        out = [out[k] for k in sorted(keep)]
    return out


def _cap(label: str) -> str:
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def row_answer(question: str, cand: Candidate) -> str:
    """The cells a question asks for, named: "Critical: first response 30 minutes, 24/7".

    The row is introduced by its first cell (its key); the columns shown are those whose name the
    question uses, else the cells the question does not already state, so the row is never dumped
    whole with `|` between cells.

    >>> c = Candidate("", "row", (("Severity", "Critical"), ("First response", "30 minutes, 24/7"),
    ...                           ("Resolution target", "4 hours")))
    >>> row_answer("first response time for a critical issue?", c)
    'Critical: first response 30 minutes, 24/7'
    >>> team = Candidate("", "row", (("Team", "Legal"), ("Email", "legal@example.com"), ("Hours", "Mon-Fri 09:00-17:00")))
    >>> row_answer("when is the legal team available", team)
    'Legal: hours Mon-Fri 09:00-17:00'
    """
    cells = list(cand.cells)
    if not cells:
        return cand.text
    key_col, key = cells[0]
    rest = cells[1:]
    q_stems = _stems(query_terms(question))
    asked = [(h, v) for h, v in rest if any(_has(t, q_stems) for t in query_terms(h))]
    if _WHO_Q.search(question):
        asked += [(h, v) for h, v in rest if _EMAIL.search(v) and (h, v) not in asked]
    if not asked:  # "when is X available": the cells holding the kind of value asked (times, days, dates)
        kinds = [value for value, weight in _asked_values(question) if weight]
        asked = [(h, v) for h, v in rest if any(value.search(v) for value in kinds)]
    if any(_has(t, q_stems) for t in query_terms(key_col)) and not asked:
        asked = [(h, v) for h, v in rest if _EMAIL.search(v)]  # "which team": name it and how to reach it
    if not asked:  # no column named: show what the question does not already say
        asked = [(h, v) for h, v in rest if not any(_has(t, q_stems) for t in query_terms(v))] or rest
    days = calendar_names(question)
    return f"{key}: " + "; ".join(f"{_cap(h)} {_narrow(v, days)}" for h, v in asked)


def _narrow(value: str, days: set[str]) -> str:
    """The parts of a cell for the days or months asked ("Sat 09:00-13:00" of "Mon-Fri ..., Sat ...")."""
    if not days:
        return value
    parts = [p.strip() for p in re.split(r"[;,]", value) if p.strip()]
    named = [p for p in parts if calendar_names(p) & days]
    return ", ".join(named) if named and len(named) < len(parts) else value


def _render(question: str, c: Scored) -> str:
    text = c.candidate.text
    if c.candidate.kind == "row" and c.candidate.cells:
        text = row_answer(question, c.candidate)
    heading = value_heading(question, text, c.context)
    return f"{heading}: {text}" if heading else text


def pick(
    cands: Sequence[Scored],
    question: str = "",
    avoid: Sequence[str] = (),
    max_parts: int = 2,
    runner_up: float = 0.92,
    adjacent_runner_up: float = ADJACENT_RUNNER_UP,
    max_chars: int = 700,
) -> Choice:
    """The best-scoring candidate that is not a heading (plus a close runner-up from elsewhere),
    each followed by its citation. `avoid`: texts already given (the previous answer of a follow-up);
    skipped only when they do not already state every term of the question (a follow-up that the
    previous answer covers, "and on saturdays?" after opening hours with "Sat", is answered from it)."""
    ranked = sorted((c for c in cands if not c.candidate.is_heading and c.score > 0), key=lambda c: -c.score)
    given = " ".join(avoid)
    given_stems = _stems(tokens(given) + query_terms(given)) | calendar_names(given)
    if avoid and not all(_has(t, given_stems) for t in query_terms(question)):
        fresh = [
            c for c in ranked if not any(c.candidate.text[:80] in a or _render(question, c)[:80] in a for a in avoid)
        ]
        ranked = fresh or ranked
    if not ranked:
        return Choice("")
    best = ranked[0]
    chosen = [best]
    for c in ranked[1:]:
        if len(chosen) >= max_parts:
            break
        adjacent = c.passage == best.passage and abs(c.candidate.position - best.candidate.position) == 1
        if c.score < (adjacent_runner_up if adjacent else runner_up) * best.score:
            continue
        if c.candidate.kind == "row" and best.candidate.kind == "row":
            continue  # one row answers; two rows read as a dump
        if sum(len(x.candidate.text) for x in chosen) + len(c.candidate.text) > max_chars:
            continue
        chosen.append(c)
    chosen.sort(key=lambda c: (c.passage, c.candidate.position))
    used: list[int] = []
    parts: list[str] = []
    for c in chosen:
        if c.passage not in used:
            used.append(c.passage)
        parts.append(f"{_render(question, c)} [{c.passage + 1}]")
    return Choice(" ".join(parts), used, round(best.score, 4))
