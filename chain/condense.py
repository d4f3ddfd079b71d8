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
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.text import query_terms

_FOLLOW_UP_OPENERS = re.compile(r"^\s*(and|also|but|so|what about|how about|and what|what if|then|same for|or)\b", re.I)
_PRONOUNS = re.compile(r"\b(it|its|it's|that|this|these|those|they|them|their|there|one|ones|such|above)\b", re.I)


def looks_like_follow_up(question: str) -> bool:
    if _FOLLOW_UP_OPENERS.search(question):
        return True
    terms = query_terms(question)
    return len(terms) < 3 and bool(_PRONOUNS.search(question)) or len(terms) <= 1


def condense_fallback(question: str, previous_questions: Sequence[str]) -> str:
    if not previous_questions or not looks_like_follow_up(question):
        return question
    have = set(query_terms(question))
    carry = [t for t in query_terms(previous_questions[-1]) if t not in have]
    return f"{question} ({' '.join(carry)})" if carry else question
