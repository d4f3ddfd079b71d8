"""Pure text helpers shared by the lexical side of every index backend.

Employees type identifiers in many shapes ("CreateTrainingJob", "create training job",
"ml.p3.2xlarge"); `searchable_text` adds the split forms so BM25 matches all of them.

>>> searchable_text("Call CreateTrainingJob with max_runtime")
'Call CreateTrainingJob with max_runtime create training job max runtime'
>>> query_terms("How do I call CreateTrainingJob?")
['call', 'createtrainingjob', 'create', 'training', 'job']
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_TOKEN = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he her here hers herself him
    himself his how i if in into is isn't it it's its itself let's me more most mustn't my myself no nor not
    of off on once only or other ought our ours ourselves out over own same she should shouldn't so some
    such than that that's the their theirs them themselves then there there's these they this those through
    to too under until up very was wasn't we were weren't what what's when where which while who whom why
    with won't would wouldn't you your yours yourself yourselves s t just also get got use using used want
    need please hi hello thanks thank tell know like way ways whats hows wheres im ive id youre dont doesnt
    cant isnt arent wont""".split()
)


def _split_identifier(word: str) -> list[str]:
    parts: list[str] = []
    for piece in re.split(r"[_.\-/]+", word):
        parts.extend(p.lower() for p in _CAMEL.findall(piece))
    return parts


def identifier_parts(text: str) -> list[str]:
    """Split forms of the camelCase / snake_case / dotted identifiers in `text`."""
    extra: list[str] = []
    for word in _WORD.findall(text):
        if len(word) < 4:
            continue
        parts = _split_identifier(word)
        if len(parts) > 1:
            extra.extend(parts)
    return extra


def searchable_text(text: str) -> str:
    """The text plus the split forms of its identifiers (what the BM25 side indexes)."""
    extra = identifier_parts(text)
    return f"{text} {' '.join(extra)}" if extra else text


def tokens(text: str) -> list[str]:
    """Lowercase alphanumeric tokens, the way FTS5's unicode61 tokenizer sees them."""
    return _TOKEN.findall(text.lower())


def query_terms(question: str) -> list[str]:
    """Distinct content terms of a question, in order, identifiers split as in the index."""
    seen: dict[str, None] = {}
    for tok in tokens(question) + identifier_parts(question):
        if tok not in STOPWORDS and (len(tok) > 1 or tok.isdigit()):
            seen.setdefault(tok, None)
    return list(seen)
