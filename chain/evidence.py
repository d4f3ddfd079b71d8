"""Is the retrieved evidence strong enough to answer? Pure functions over retrieval results.

A threshold on the best dense similarity alone misses out-of-scope questions asked in the
documents' own vocabulary ("does the feature store work with Databricks Unity Catalog?"): the
passage about the feature store is close, but nothing mentions Databricks. So we also ask whether
the question's *distinctive* terms occur in the evidence at all, weighting each term by how rare it
is in the whole index (rare = distinctive), and forgiving typos of indexed words.

>>> feats = EvidenceFeatures(top_dense=0.62, coverage=0.95, unknown_specific=0.0)
>>> decide_abstain(feats).abstain
False
>>> decide_abstain(EvidenceFeatures(top_dense=0.55, coverage=0.4, unknown_specific=0.5)).abstain
True
>>> decide_abstain(EvidenceFeatures(top_dense=0.36, coverage=1.0, unknown_specific=0.0)).abstain
False
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chain.abstain_model import AbstainModel, shipped_model
from index.retrieval import Passage
from index.text import query_terms, tokens


@dataclass
class EvidenceFeatures:
    top_dense: float  # best cosine between the question and any matched chunk
    coverage: float  # share of the question's specificity mass found in the evidence (0..1)
    unknown_specific: float  # share of specificity mass from terms the whole index lacks (0..1)
    missing_terms: tuple[str, ...] = ()
    missing_names: bool = True  # a missing term is a name (not an everyday word), or the collection is large
    tabular: bool = False  # the best passage is spreadsheet rows (questions sit further from records)
    second_dense: float | None = None  # cosine of the second-ranked passage (None: unknown)
    # the best passage's BM25 over the BM25 weight (IDF) of all the question's terms: how much of the
    # question the best passage matches, comparable across index sizes (None: no index statistics)
    lexical_fraction: float | None = None
    chunks: int | None = None  # chunks in the whole index (None: no index statistics)

    def model_values(self) -> dict[str, float] | None:
        """The values the fitted refusal model reads, or None when some are unknown."""
        if self.second_dense is None or self.lexical_fraction is None:
            return None
        return {
            "top_dense": self.top_dense,
            "coverage": self.coverage,
            "unknown_specific": self.unknown_specific,
            "missing_names": float(self.missing_names),
            "tabular": float(self.tabular),
            "missing_terms": min(len(self.missing_terms), 5) / 5,
            "second_dense": self.second_dense,
            "lexical_fraction": self.lexical_fraction,
        }


@dataclass
class AbstainDecision:
    abstain: bool
    reason: str
    # a clear-cut refusal (terms the index never mentions carry the question): no quote can overturn it
    clear_cut: bool = False


@dataclass
class AbstainPolicy:
    """Thresholds chosen with bench/bench_chain.py on the dev sets (see docs/benchmarks.md)."""

    evidence_passages: int = 1  # judge the best passage: an answer lives in one place, not spread over five
    # the fitted model (chain/abstain_model.json) decides between the clear-cut rules; None: the hand-set rules
    model: AbstainModel | None = field(default_factory=shipped_model)
    hard_min_dense: float = 0.25  # below: nothing in the index is about this
    min_dense: float = 0.35  # below, only a passage containing every distinctive term may answer
    min_coverage: float = 0.50  # below: the evidence lacks the names the question asks about
    min_coverage_any: float = 0.40  # below: the evidence lacks most of the question, everyday words or not
    max_unknown: float = (
        0.40  # above: the question is mostly about things the index never mentions (bench/fit_abstain.py)
    )
    full_coverage: float = 0.95
    tabular_offset: float = 0.15  # cosine thresholds are this much lower for spreadsheet rows
    # A refusal that is not clear-cut ("nothing close" included) is overturned when one sentence, list item
    # or row of the passages answers the question this directly (chain/extractive.py's candidate score:
    # meaning, lexical evidence, the kind of value asked). Chunk-level cosine undersells an answer that is
    # one bullet of a long list. Chosen by bench/fit_rescue.py on the tune halves; None: never.
    rescue_support: float | None = 1.3
    # A quoted answer (no LLM) whose best sentence scores below this is a refusal instead: the passages share
    # words with the question, but nothing in them answers it. bench/fit_rescue.py: per collection size, the
    # highest value at which the tune half refuses at most 5 % of its answerable questions; None: never.
    min_support: float | None = 0.65  # collections under LARGE_COLLECTION chunks (the small knowledge bases)
    min_support_large: float | None = 0.85  # from LARGE_COLLECTION chunks on (the whole guide)

    def support_floor(self, chunks: int | None) -> float | None:
        """The floor under quoted answers for a collection of `chunks` chunks (None: size unknown)."""
        return self.min_support_large if (chunks or 0) >= LARGE_COLLECTION else self.min_support


TABULAR_KINDS = frozenset({"xlsx", "csv"})
COMMON_WORD_WEIGHT = 0.35  # without index statistics, a missing everyday word says less than a missing name
LARGE_COLLECTION = 10_000  # chunks; from here on a missing everyday word counts fully


@lru_cache(maxsize=1)
def word_ranks() -> dict[str, int]:
    """Everyday English words with their frequency rank (1 = most frequent): the whole-word entries of the
    packaged MiniLM's WordPiece vocabulary, which BERT's vocabulary lists roughly by how often each occurs
    in its training text (Wikipedia and books: "the", "of", "and", ...).

    Names of products and features the documents never mention ("databricks", "kubernetes") are
    split into pieces by that vocabulary, so they are not in it."""
    from index.embeddings import packaged_minilm_path

    path = packaged_minilm_path()
    if not path:
        return {}
    try:
        with open(f"{path}/vocab.txt", encoding="utf-8") as fh:
            entries = (line.strip() for line in fh)
            words = [w for w in entries if w.isalpha() and w.islower() and len(w) > 1]
    except OSError:
        return {}
    ranks: dict[str, int] = {}
    for word in words:
        ranks.setdefault(word, len(ranks) + 1)
    return ranks


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Everyday English words (see `word_ranks`)."""
    return frozenset(word_ranks())


@dataclass(frozen=True)
class GeneralPrior:
    """What a small collection's own counts cannot tell: how common a word is in language at large.

    A word of frequency rank r (`word_ranks`) occurs in about `scale * r ** -exponent` of all chunks
    (Zipf's law, fitted to the SageMaker guide's document frequencies by bench/fit_small_abstain.py);
    a word outside the vocabulary is as rare as its last entry. A collection of n chunks counts as n
    chunks of its own plus `strength` chunks of general text, so in a 77-chunk collection an absent
    everyday word ("says", "twice") is not taken for a rare, distinctive one, while from a few thousand
    chunks on the collection's own counts decide (strength fitted on the small-collection dev set).

    >>> prior = GeneralPrior(scale=0.5, exponent=0.5, strength=100)
    >>> prior.chunk_share(4, {"the": 1, "says": 4}) == 0.25
    True
    >>> ranks = {"the": 1, "says": 4}
    >>> prior.specificity("the", 0, 77, ranks) < prior.specificity("says", 0, 77, ranks)  # both absent
    True
    """

    scale: float = 0.69
    exponent: float = 0.60
    strength: float = 300.0

    def chunk_share(self, rank: int | None, ranks: dict[str, int]) -> float:
        last = len(ranks) + 1
        return min(1.0, self.scale * float(rank or last) ** -self.exponent)

    def specificity(self, term: str, df: int, chunks: int, ranks: dict[str, int]) -> float:
        """IDF of the term over the collection plus the general-text pseudo-chunks."""
        expected = self.strength * self.chunk_share(ranks.get(term), ranks)
        return -math.log((df + expected + 0.5) / (chunks + self.strength + 1.0))


GENERAL_PRIOR = GeneralPrior()


def _prior(term: str, words: frozenset[str], chunks: int) -> float:  # no statistics, or a large collection
    """An everyday word missing from a small collection says little; from a large one, as much as a
    name does (a 20k-chunk guide that never says "azure" is not about Azure)."""
    if term not in words:
        return 1.0
    return COMMON_WORD_WEIGHT + (1.0 - COMMON_WORD_WEIGHT) * min(1.0, chunks / LARGE_COLLECTION)


def _looks_like_identifier(term: str) -> bool:
    return any(ch.isdigit() for ch in term) and any(ch.isalpha() for ch in term)


def _edit_distance_le(a: str, b: str, limit: int) -> bool:
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > limit:
            return False
        prev = cur
    return prev[-1] <= limit


def _near_miss_of(term: str, indexed: str) -> bool:
    """A typo ("permisions") or an abbreviation ("infra") of an indexed (stemmed) term."""
    if len(term) >= 4 and indexed.startswith(term):
        return True
    limit = 2 if len(term) > 6 else 1
    return _edit_distance_le(term, indexed, limit) or _edit_distance_le(term[: len(indexed) + 1], indexed, limit)


def _evidence_tokens(passages: Sequence[Passage]) -> set[str]:
    have: set[str] = set()
    for p in passages:
        text = f"{p.parent.title} {p.parent.section} {p.parent.text}"
        have.update(tokens(text))
        have.update(query_terms(text))
    return have


# Grammar, not vocabulary: "never" is said with any negation ("do not paste" answers "what should i never
# paste"), and "kind"/"sort" in "what kind of" only make the question word longer.
_NEGATION = frozenset({"never", "not", "no", "nor", "cannot", "t"})  # "t": the tail of "don't", "isn't"
_QUESTION_PHRASE = re.compile(r"\b(?:what|which|any|some|all|the)\s+(kinds?|sorts?)\s+of\b", re.I)


def evidence_terms(question: str) -> list[str]:
    """The question's terms the evidence is checked for (query_terms less the question-phrase words).

    >>> evidence_terms("what kind of stuff should i never paste")
    ['stuff', 'never', 'paste']
    """
    phrase = {m.group(1).lower() for m in _QUESTION_PHRASE.finditer(question)}
    kept = _QUESTION_PHRASE.sub(" ", question)
    return [t for t in query_terms(question) if t not in phrase or t in query_terms(kept)]


def _in_evidence(term: str, have: set[str]) -> bool:
    if term == "never" and have & _NEGATION:
        return True
    if term in have or any(term + suffix in have for suffix in ("s", "es", "ed", "ing", "d")):
        return True
    # crude stemming both ways: "deploying" ~ "deploy", "endpoints" ~ "endpoint"
    for cut in (3, 2, 1):
        if len(term) - cut >= 4 and term[:-cut] in have:
            return True
    if len(term) >= 5:
        stem = term[: max(4, len(term) - 3)]
        return any(t.startswith(stem) and abs(len(t) - len(term)) <= 3 for t in have)
    return False


def evidence_features(
    question: str,
    passages: Sequence[Passage],
    term_stats: Callable[[Sequence[str]], tuple[dict[str, int], int]] | None = None,
    similar_terms: Callable[[str], list[str]] | None = None,
    ranked: Sequence[Passage] | None = None,
    prior: GeneralPrior | None = GENERAL_PRIOR,
) -> EvidenceFeatures:
    """Compute the evidence features for one question and its retrieved passages (`passages`: the evidence
    judged; `ranked`: every passage retrieved, best first, for the model's second-passage feature;
    `prior`: how small collections weigh terms, None for the earlier fixed weight of everyday words)."""
    if not passages:
        return EvidenceFeatures(0.0, 0.0, 1.0, tuple(query_terms(question)))
    top_dense = max(p.dense_score for p in passages)
    ranked = ranked or passages
    second = ranked[1].dense_score if len(ranked) > 1 else 0.0
    terms = evidence_terms(question)
    if not terms:
        return EvidenceFeatures(top_dense, 1.0, 0.0, second_dense=second, lexical_fraction=1.0)
    df, total = term_stats(terms) if term_stats else ({}, 0)
    n = max(total, 1)
    fraction = None
    if term_stats and total:  # BM25's own IDF (FTS5's formula), summed over the question's terms
        idf = sum(math.log((total - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5) + 1) for t in terms)
        fraction = (ranked[0].lexical_score or 0.0) / idf if idf > 0 else 0.0

    def specificity(term: str) -> float:
        count = df.get(term)
        if count is None:  # no index statistics: treat every content term alike
            return 1.0
        return math.log(1 + n / (1 + count)) / math.log(1 + n)

    have = _evidence_tokens(passages)
    words = common_words()
    ranks = word_ranks()
    if prior is not None and ranks and term_stats and 0 < total < LARGE_COLLECTION:
        # a small collection: its own counts smoothed by how common each word is in general use
        weights = {t: prior.specificity(t, df.get(t, 0), total, ranks) for t in terms}
    else:
        weights = {t: specificity(t) * _prior(t, words, total) for t in terms}
    mass = sum(weights.values()) or 1.0
    missing = [t for t in terms if not _in_evidence(t, have)]
    # A missing term that is a typo of a word the index has is not "missing" knowledge.
    unknown: list[str] = []
    for t in missing:
        if df.get(t, 1) == 0 and (t not in words or total >= LARGE_COLLECTION):
            # "inf2" next to an indexed "inf1" is another product, not a typo
            near = [] if _looks_like_identifier(t) or not similar_terms else similar_terms(t)
            if not any(_near_miss_of(t, cand) for cand in near):
                unknown.append(t)
    typo_forgiven = {t for t in missing if df.get(t, 1) == 0 and t not in unknown and t not in words}
    missing_mass = sum(weights[t] for t in missing if t not in typo_forgiven)
    coverage = 1.0 - missing_mass / mass
    unknown_mass = sum(weights[t] for t in unknown) / mass
    names = any(t not in words or total >= LARGE_COLLECTION for t in missing if t not in typo_forgiven)
    tabular = passages[0].parent.kind in TABULAR_KINDS
    return EvidenceFeatures(
        top_dense,
        coverage,
        unknown_mass,
        tuple(missing),
        names,
        tabular,
        second,
        fraction,
        total if term_stats else None,
    )


def decide_abstain(f: EvidenceFeatures, policy: AbstainPolicy | None = None) -> AbstainDecision:
    p = policy or AbstainPolicy()
    terms = ", ".join(f.missing_terms[:3])
    offset = p.tabular_offset if f.tabular else 0.0
    if f.top_dense < p.hard_min_dense - offset:
        return AbstainDecision(True, "nothing in the documents is close to this question")
    if f.unknown_specific > p.max_unknown:
        return AbstainDecision(True, f"the documents never mention {terms}", clear_cut=True)
    values = f.model_values() if p.model is not None and p.model.applies(f.chunks) else None
    if p.model is not None and values is not None:
        if p.model.probability(values) < p.model.threshold:
            return AbstainDecision(False, "the passages cover the question")
        if f.missing_terms:
            return AbstainDecision(True, f"the passages found do not mention {terms}")
        return AbstainDecision(True, "the closest passages are only loosely related")
    if f.coverage < p.min_coverage_any or (f.coverage < p.min_coverage and f.missing_names):
        return AbstainDecision(True, f"the passages found do not mention {terms}")
    if f.top_dense < p.min_dense - offset and f.coverage < p.full_coverage:
        return AbstainDecision(True, "the closest passages are only loosely related")
    return AbstainDecision(False, "the passages cover the question")


def rescued(decision: AbstainDecision, support: float | None, policy: AbstainPolicy | None = None) -> bool:
    """Whether the best quotable candidate's score (`support`, None: not computed) overturns a refusal.

    >>> rescued(AbstainDecision(True, "loosely related"), 1.5), rescued(AbstainDecision(True, "x", True), 1.5)
    (True, False)
    """
    p = policy or AbstainPolicy()
    return (
        decision.abstain
        and not decision.clear_cut
        and p.rescue_support is not None
        and support is not None
        and support >= p.rescue_support
    )
