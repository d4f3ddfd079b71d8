r"""Answer candidates of a passage: sentences, list items and table rows (with their cells).

An extractive answer quotes one of these, so they must read as the document does: hard-wrapped
lines joined back into sentences (PDF pages and Markdown wrap at a fixed width), list items kept
whole, a table row kept with its column names so the answer can name the columns asked for, and
headings or labels marked so they are never the whole answer. Pure functions over text.

>>> [c.text for c in split_candidates("Leave\nStaff get 25 days of leave a year, booked\nin the HR tool. Ask HR.")]
['Leave', 'Staff get 25 days of leave a year, booked in the HR tool.', 'Ask HR.']
>>> split_candidates("Severity: Critical | First response: 30 minutes, 24/7")[0].cells
(('Severity', 'Critical'), ('First response', '30 minutes, 24/7'))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*`])")
_LIST_MARKER = re.compile(r"^\s*([-*+•]|\d+[.)])\s+")
_BLOCK_START = re.compile(r"^\s*([-*+•]\s|\d+[.)]\s|\||#|>|```)")
_MD_RULE = re.compile(r"^\|?\s*:?-{3,}")
_RECORD_CELL = re.compile(r"^([^:|]{1,40}):\s+(.*)$")
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|incl)\.$", re.I)


@dataclass(frozen=True)
class Candidate:
    """One quotable unit of a passage."""

    text: str  # as shown in an answer (list marker and Markdown emphasis removed)
    kind: str = "sentence"  # "sentence" | "item" | "row" | "heading"
    cells: tuple[tuple[str, str], ...] = ()  # (column, value) for a table row or spreadsheet record
    position: int = 0  # order within the passage

    @property
    def is_heading(self) -> bool:
        return self.kind == "heading"


def _is_block_start(line: str) -> bool:
    return bool(_BLOCK_START.match(line))


def unwrap(text: str) -> str:
    r"""Join hard-wrapped lines: a line goes on the previous one when that one does not end a
    sentence and either this one starts in lower case or the previous one was wrapped (it is about
    as long as the longest line of the text). List items, table rows, records and headings stay apart.

    >>> unwrap("- Scanned PDFs are skipped; run them\nthrough OCR.\nKnown issues")
    '- Scanned PDFs are skipped; run them through OCR.\nKnown issues'
    """
    lines = [line.rstrip() for line in text.split("\n")]
    width = max((len(line) for line in lines), default=0)
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        prev = out[-1] if out else ""
        if not stripped or not prev.strip():
            out.append(stripped if not stripped else line.strip())
            continue
        ends = prev.endswith((".", "!", "?", ":", ";")) and not _ABBREVIATION.search(prev)
        table = " | " in stripped or " | " in prev or stripped.startswith("|") or prev.lstrip().startswith("|")
        wrapped = width >= 50 and len(prev) >= 0.72 * width
        lower = stripped[:1].islower() or stripped[:1] in "(`\"'*"
        if not ends and not table and not _is_block_start(stripped) and (lower or wrapped):
            out[-1] = prev + " " + stripped
        else:
            out.append(stripped)
    return "\n".join(out)


def _clean(text: str) -> str:
    text = _LIST_MARKER.sub("", text)
    text = text.replace("**", "").replace("__", "")
    return re.sub(r"\s+", " ", text).strip()


def _looks_like_heading(line: str) -> bool:
    """A title or label: short, no sentence punctuation, few words."""
    words = line.split()
    return line.startswith("#") or (
        len(words) <= 7
        and not line.rstrip().endswith((".", "!", "?", ")", ":"))
        and not any(ch.isdigit() for ch in line)
        and "@" not in line
    )


def _markdown_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def record_cells(line: str) -> tuple[tuple[str, str], ...] | None:
    """A spreadsheet or HTML-table record ('Plan: Pro | Price: 30', ingest's record line) as (column, value)
    pairs; None when the line is not one.

    >>> record_cells("Plan: Pro | Price: 30")
    (('Plan', 'Pro'), ('Price', '30'))
    """
    matched = [_RECORD_CELL.match(p.strip()) for p in line.strip().split(" | ")]
    if not all(matched):
        return None
    return tuple((m.group(1).strip(), m.group(2).strip()) for m in matched if m)


def split_candidates(text: str) -> list[Candidate]:
    """The candidates of one passage text, in reading order."""
    out: list[Candidate] = []
    header: list[str] | None = None
    for line in unwrap(text).split("\n"):
        stripped = line.strip()
        if not stripped:
            header = None
            continue
        if stripped.startswith("|") and stripped.count("|") >= 2:  # Markdown table
            if _MD_RULE.match(stripped):
                continue
            cells = _markdown_cells(stripped)
            if header is None:
                header = cells
                out.append(Candidate(_clean(" | ".join(cells)), "heading", position=len(out)))
                continue
            pairs = tuple((h, v) for h, v in zip(header, cells) if v)
            out.append(Candidate(_clean(" | ".join(cells)), "row", pairs, len(out)))
            continue
        header = None
        if " | " in stripped:  # spreadsheet or HTML table record: "Header: value | Header: value"
            record = record_cells(stripped)
            if record is not None:
                out.append(Candidate(_clean(stripped), "row", record, len(out)))
                continue
        if _LIST_MARKER.match(stripped):
            out.append(Candidate(_clean(stripped), "item", position=len(out)))
            continue
        for sentence in _SENTENCE_END.split(stripped):
            sentence = sentence.strip()
            if not sentence:
                continue
            kind = "heading" if _looks_like_heading(sentence.lstrip("# ")) else "sentence"
            out.append(
                Candidate(_clean(sentence.lstrip("# ") if kind == "heading" else sentence), kind, position=len(out))
            )
    return out
