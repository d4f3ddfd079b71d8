"""Turn a follow-up into a standalone question using this session's history.

With an LLM configured, the LLM rewrites it (CONDENSE prompt). Without one, a documented
fallback: when the question looks like a follow-up (a pronoun or "what about ..." opener, or
fewer than three content terms), the content terms of the previous standalone question that the
follow-up lacks are appended. "what about the limits for it?" after "How do I configure
autoscaling for an endpoint?" becomes "what about the limits for it? (configure autoscaling endpoint)".

>>> condense_fallback("what about the limits for it?", ["How do I configure autoscaling for an endpoint?"])
'what about the limits for it? (configure autoscaling endpoint)'
>>> condense_fallback("How do I rotate my VPN certificate?", ["How do I configure autoscaling?"])
'How do I rotate my VPN certificate?'

A follow-up that swaps one thing for another ("and for minor ones?" after "what is the resolution
target for a major issue?") must not carry the thing it replaces, or the search finds the previous
answer again. Given `related` (word similarity, from the chain's embedder), the previous question's
term closest to the follow-up's new term is replaced in place when they are alike enough:

>>> sim = lambda a, b: 0.8 if {a, b} == {"minor", "major"} else 0.1
>>> condense_fallback("and for minor ones?", ["what is the resolution target for a major issue?"], sim)
'what is the resolution target for a minor issue?'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.text import query_terms

_FOLLOW_UP_OPENERS = re.compile(r"^\s*(and|also|but|so|what about|how about|and what|what if|then|same for|or)\b", re.I)
_PRONOUNS = re.compile(r"\b(it|its|it's|that|this|these|those|they|them|their|there|one|ones|such|above)\b", re.I)


def looks_like_follow_up(question: str) -> bool:
    if _FOLLOW_UP_OPENERS.search(question):
        return True
    terms = query_terms(question)
    return len(terms) < 3 and bool(_PRONOUNS.search(question)) or len(terms) <= 1


SUBSTITUTE_MIN = 0.45  # word similarity from which a follow-up's term replaces one of the previous question
_FILLER = frozenset("ones one case cases kind kinds ok okay yes".split())


def substitution(question: str, previous: str, related: Callable[[str, str], float]) -> tuple[str, str] | None:
    """(previous term, new term) when the follow-up swaps one term of the previous question."""
    new = [t for t in query_terms(question) if t not in _FILLER and t not in query_terms(previous)]
    old = [t for t in query_terms(previous) if not t.isdigit()]
    if not new or not old or len(new) > 2:
        return None
    best = max(((related(n, o), o, n) for n in new for o in old), default=None)
    if best is None or best[0] < SUBSTITUTE_MIN:
        return None
    return best[1], best[2]


def condense_fallback(
    question: str, previous_questions: Sequence[str], related: Callable[[str, str], float] | None = None
) -> str:
    if not previous_questions or not looks_like_follow_up(question):
        return question
    previous = previous_questions[-1]
    if related is not None:
        swap = substitution(question, previous, related)
        if swap:
            replaced = re.sub(rf"\b{re.escape(swap[0])}\b", swap[1], previous, count=1, flags=re.I)
            if replaced != previous:
                return replaced
    have = set(query_terms(question))
    carry = [t for t in query_terms(previous) if t not in have]
    return f"{question} ({' '.join(carry)})" if carry else question
