"""The source viewer's logic: find the passage a reference cites, and the sentences the answer used.

Pure functions over plain data (and the index, passed in): the app shows what they return.

- `find_passage(index, reference)`  the cited page, section or sheet rows as the index holds them now
                                    (every parent with the reference's locator, joined), or None when
                                    the document was removed or re-ingested without that place.
- `highlight_spans(text, answer, n)` (start, end) of the passage sentences most like the answer's
                                    sentences citing [n], by shared content words.
- `table_rows(text, spans)`         for a spreadsheet, the highlighted records as {column: value} rows.

>>> text = "Staff get 25 days of leave. The canteen opens at 8."
>>> [text[a:b] for a, b in highlight_spans(text, "You get 25 days of leave a year. [1]", 1)]
['Staff get 25 days of leave.']
>>> table_rows("Plan: Basic | Price: 10\\nPlan: Pro | Price: 30", [(24, 47)])
[{'Plan': 'Pro', 'Price': '30'}]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chain.candidates import record_cells
from chain.types import Reference
from index.protocol import KnowledgeIndex, Parent
from index.text import STOPWORDS, tokens

SPREADSHEET_KINDS = frozenset({"xlsx", "csv"})
# a passage sentence ends at . ! ? (then a space) or at a line break: a spreadsheet record is one line
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CITATIONS = re.compile(r"(?:\s*\[\d{1,2}\])+")
_NUMBER = re.compile(r"\[(\d{1,2})\]")
# an answer sentence is highlighted where a passage sentence holds this share of its content words
MIN_SHARE = 0.4
MIN_SHARED_WORDS = 2


@dataclass
class CitedPassage:
    """The place a reference cites, as the index holds it now.

    text: the whole page, section or sheet rows at that locator (its parents joined in order).
    changed: the answer quoted text (the reference's snippet) that is no longer there: the document
    was re-ingested since, so the highlights may point elsewhere than when it was answered.
    """

    source: str
    title: str
    locator: str
    kind: str
    text: str
    url: str | None = None
    sheet: str | None = None
    rows: tuple[int, int] | None = None
    changed: bool = False

    @property
    def is_spreadsheet(self) -> bool:
        return self.kind in SPREADSHEET_KINDS or self.sheet is not None


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def find_passage(index: KnowledgeIndex, reference: Reference | dict) -> CitedPassage | None:
    """The page, section or rows `reference` cites, read from `index`; None where it cannot be found.

    Q&A-set references ("qa:...") are not in the index: None. A long section is stored as several
    parents with one locator; all of them are joined so the viewer shows the section whole.
    """
    ref = Reference.from_dict(reference)
    if not ref.source or ref.source.startswith("qa:"):
        return None
    parents = index.source_parents(ref.source)
    if not parents:
        return None
    snippet = _flat(ref.snippet)[:120]
    same = [p for p in parents if p.locator() == ref.locator]
    if not same and snippet:  # the place was renamed (new headings) but the cited text is still there
        holding = next((p for p in parents if snippet in _flat(p.text)), None)
        if holding is not None:
            same = [p for p in parents if p.locator() == holding.locator()]
    if not same:
        return None
    first: Parent = same[0]
    text = "\n".join(p.text.strip("\n") for p in same)
    return CitedPassage(
        source=first.source,
        title=first.title or ref.title,
        locator=first.locator(),
        kind=first.kind,
        text=text,
        url=first.url,
        sheet=first.sheet,
        rows=first.rows,
        changed=bool(snippet) and snippet not in _flat(text),
    )


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of `text`, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        if m is not None:
            start = m.end()
    return spans


def _words(text: str) -> set[str]:
    """Content words, lightly stemmed (plural and past endings), so 'claims' meets 'claim'."""
    out = set()
    for tok in tokens(text):
        if tok in STOPWORDS or (len(tok) < 2 and not tok.isdigit()):
            continue
        for suffix in ("es", "s", "ed"):
            if tok.endswith(suffix) and len(tok) - len(suffix) >= 3:
                tok = tok[: -len(suffix)]
                break
        out.add(tok)
    return out


def answer_sentences(answer: str, n: int = 0) -> list[str]:
    """The answer's sentences that cite [n]; all of them when none does (or n is 0): an answer without
    markers, or a Q&A-style answer, is attributed to its references as a whole."""
    claims: list[tuple[str, set[int]]] = []
    pos = 0
    for m in _CITATIONS.finditer(answer):
        claims.append((answer[pos : m.start()], {int(x) for x in _NUMBER.findall(m.group(0))}))
        pos = m.end()
    claims.append((answer[pos:], set()))
    citing = [text for text, cited in claims if n and n in cited]
    chosen = citing or [text for text, _ in claims]
    out: list[str] = []
    for claim in chosen:
        out += [claim[a:b] for a, b in sentence_spans(claim)]
    return out


def highlight_spans(passage_text: str, answer_text: str, n: int = 0) -> list[tuple[int, int]]:
    """(start, end) of the passage sentences the answer used, in order, without overlaps.

    For each answer sentence (those citing [n], see `answer_sentences`) the passage sentence holding
    the largest share of its content words is taken, if that share is at least MIN_SHARE and at
    least MIN_SHARED_WORDS words (one for a one- or two-word sentence) are shared.
    """
    spans = sentence_spans(passage_text)
    words = [_words(passage_text[a:b]) for a, b in spans]
    chosen: set[int] = set()
    for sentence in answer_sentences(answer_text, n):
        wanted = _words(sentence)
        if not wanted:
            continue
        best, best_key = None, (0.0, 0.0)
        for i, have in enumerate(words):
            shared = len(wanted & have)
            if not shared:
                continue
            key = (shared / len(wanted), shared / len(have))  # then the tighter sentence
            if key > best_key:
                best, best_key = i, key
        if best is None:
            continue
        shared = len(wanted & words[best])
        if best_key[0] >= MIN_SHARE and shared >= min(MIN_SHARED_WORDS, len(wanted)):
            chosen.add(best)
    return [spans[i] for i in sorted(chosen)]


def split_highlighted(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, highlighted) runs, for a renderer that escapes each piece itself."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for a, b in sorted(spans):
        a, b = max(a, pos), min(b, len(text))
        if a >= b:
            continue
        if a > pos:
            out.append((text[pos:a], False))
        out.append((text[a:b], True))
        pos = b
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def record(line: str) -> dict[str, str]:
    """'Plan: Pro | Price: 30' (ingest's record_line) -> {'Plan': 'Pro', 'Price': '30'}; a line without
    'column: value' cells (a header-only sheet) becomes {'Row': line}."""
    cells = record_cells(line)
    if cells is None:
        return {"Row": line.strip()}
    out: dict[str, str] = {}
    for name, value in cells:
        key, k = name, 2
        while key in out:  # repeated column names stay apart
            key, k = f"{name} ({k})", k + 1
        out[key] = value
    return out


def table_rows(text: str, spans: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
    """The spreadsheet records (lines of `text`) that the highlighted spans touch, in order."""
    rows: list[dict[str, str]] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        if line.strip() and any(a < end and b > start for a, b in spans):
            rows.append(record(line))
        start = end + 1
    return rows
