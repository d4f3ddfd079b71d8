"""Sentence-level relevance: contextual compression of passages and extractive answers.

Both keep what is relevant to the question: sentences that share its (specific) terms, and the
chunks the retrievers matched (the dense side finds meaning that shares no words). Pure functions.

>>> from index.protocol import Parent
>>> from index.retrieval import Passage
>>> p = Passage(Parent("p", "a.md", "Leave", "Staff get 25 days of leave. The canteen opens at 8."),
...             1.0, 0, 0.8, 3.0, 0, 0)
>>> extractive_answer("how many days of leave", [p]).text
'Staff get 25 days of leave. [1]'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.retrieval import Passage
from index.text import query_terms, tokens

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_LIST_MARKER = re.compile(r"^\s*([-*+•]|\d+[.)])\s+")
_BLOCK_START = re.compile(r"^\s*([-*+•]|\d+[.)]|\||#|>|```)")
CHARS_PER_TOKEN = 4  # budgets are in tokens; ~4 characters a token for English with BPE tokenizers


def _unwrap(text: str) -> str:
    """Join hard-wrapped prose lines (the next line goes on in lower case); keep list items, table
    rows, spreadsheet records and headings apart."""
    out: list[str] = []
    for line in text.split("\n"):
        prev = out[-1].rstrip() if out else ""
        head = line.lstrip()[:1]
        if (
            prev
            and (head.islower() or head == "(")
            and not prev.endswith((".", "!", "?", ":", ";", "|"))
            and " | " not in line
            and " | " not in prev
            and not _BLOCK_START.match(line)
        ):
            out[-1] = prev + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def sentences(text: str) -> list[str]:
    r"""Sentences, list items and table rows of a passage (hard-wrapped lines joined first).

    >>> sentences("Book two weeks ahead for leave\nlonger than five days. Ask HR.\n- item one\n- item two")
    ['Book two weeks ahead for leave longer than five days.', 'Ask HR.', '- item one', '- item two']
    """
    return [s.strip() for s in _SPLIT.split(_unwrap(text)) if s and s.strip()]


def _matches(term: str, toks: set[str]) -> bool:
    if term in toks:
        return True
    return len(term) >= 5 and any(t.startswith(term[:-2]) for t in toks if len(t) >= len(term) - 2)


@dataclass
class ScoredSentence:
    passage: int  # index into the passages list
    position: int  # index within the passage
    text: str
    score: float


def score_sentences(question: str, passages: Sequence[Passage]) -> list[ScoredSentence]:
    terms = query_terms(question)
    # Specificity within the retrieved evidence: a term in every sentence says little.
    all_sents = [(i, j, s) for i, p in enumerate(passages) for j, s in enumerate(sentences(p.parent.text))]
    sent_tokens = [set(tokens(s)) | set(query_terms(s)) for _, _, s in all_sents]
    n = max(len(all_sents), 1)
    idf = {t: math.log(1 + n / (1 + sum(1 for toks in sent_tokens if _matches(t, toks)))) for t in terms}
    out: list[ScoredSentence] = []
    for (i, j, sent), toks in zip(all_sents, sent_tokens):
        p = passages[i]
        lexical = sum(idf[t] for t in terms if _matches(t, toks))
        length = max(len(toks), 8)  # a short line is not a better answer for being short
        score = lexical / math.sqrt(length)
        if len(toks) < 6 and not sent.rstrip().endswith((".", "!", "?", ")")) and " | " not in sent:
            score *= 0.3  # a heading or label, not an answer
        if any(sent[:60] in c.text for c in p.matched_children[:1]):
            score += 0.35  # inside the chunk the retrievers ranked best for this passage
        elif any(sent[:60] in c.text for c in p.matched_children):
            score += 0.15
        score *= 1.0 / (1.0 + 0.25 * i)  # prefer better-ranked passages
        if len(sent) < 25 and lexical == 0:
            score = 0.0  # headings, labels
        out.append(ScoredSentence(i, j, sent, score))
    return out


def compress(question: str, passages: Sequence[Passage], token_budget: int) -> list[str]:
    """Per passage, the relevant sentences in their original order, within a total token budget.

    Every passage keeps at least its best sentence; a passage whose every sentence fits is kept whole
    when the budget allows (the surrounding sentences often carry the condition or the unit)."""
    budget = token_budget * CHARS_PER_TOKEN
    scored = score_sentences(question, passages)
    by_passage: dict[int, list[ScoredSentence]] = {}
    for s in scored:
        by_passage.setdefault(s.passage, []).append(s)
    keep: dict[int, set[int]] = {i: set() for i in range(len(passages))}
    used = 0
    # best sentence of each passage first, then the rest by score
    firsts = [max(by_passage[i], key=lambda s: s.score) for i in sorted(by_passage)]
    rest = sorted((s for s in scored if s not in firsts and s.score > 0), key=lambda s: -s.score)
    for s in firsts + rest:
        if used + len(s.text) + 1 > budget and keep[s.passage]:
            continue
        keep[s.passage].add(s.position)
        used += len(s.text) + 1
    out: list[str] = []
    for i in range(len(passages)):
        sents = by_passage.get(i, [])
        chosen = [s.text for s in sents if s.position in keep[i]]
        out.append(" ".join(chosen) if chosen else passages[i].parent.text[: budget // max(len(passages), 1)])
    return out


@dataclass
class ExtractiveAnswer:
    text: str
    used: list[int] = field(default_factory=list)  # indices of the passages cited, in citation order


def extractive_answer(
    question: str, passages: Sequence[Passage], max_sentences: int = 4, max_chars: int = 900
) -> ExtractiveAnswer:
    """The most relevant sentences of the evidence, each followed by its citation [n]."""
    scored = [s for s in score_sentences(question, passages) if s.score > 0]
    if not scored:
        return ExtractiveAnswer("")
    best = max(s.score for s in scored)
    picked: list[ScoredSentence] = []
    per_passage: dict[int, int] = {}
    for s in sorted(scored, key=lambda s: -s.score):
        if len(picked) >= max_sentences or s.score < 0.6 * best:
            break
        if per_passage.get(s.passage, 0) >= 2 or sum(len(p.text) for p in picked) + len(s.text) > max_chars:
            continue
        picked.append(s)
        per_passage[s.passage] = per_passage.get(s.passage, 0) + 1
    picked.sort(key=lambda s: (s.passage, s.position))
    used: list[int] = []
    parts: list[str] = []
    for s in picked:
        if s.passage not in used:
            used.append(s.passage)
        parts.append(f"{_LIST_MARKER.sub('', s.text)} [{s.passage + 1}]")
    return ExtractiveAnswer(" ".join(parts) if len(parts) <= 2 else "\n".join(f"- {p}" for p in parts), used)
