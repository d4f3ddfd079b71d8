"""Fit the support a quote needs to overturn a refusal (chain/evidence.py AbstainPolicy.rescue_support).

A refusal that is not clear-cut (chain/evidence.py `decide_abstain`) is overturned when the best sentence,
list item or row of the top passages scores at least S as an answer (chain/extractive.py `score`: meaning,
lexical evidence, the kind of value asked). Rows: both development sets, each with its own collection:
- the whole guide (bench/data/gold over bench/out/dg, built by bench/bench_retrieval.py): answerable
  questions and in-scope hard negatives (answer) and out-of-scope questions (refuse);
- the small knowledge bases (bench/build_small_kb.py): answerable, answerable-elsewhere and out-of-scope.
On the TUNE half, S is the grid value with the lowest summed cost (answerable refused + questions to refuse
that are answered, per set); ties go to the higher S (fewer overturned refusals). Then the TEST half once.

Then the floor under quoted answers (AbstainPolicy.min_support, .min_support_large): with the shipped S, a
quoted answer whose best candidate scores below F is refused; per set (small KBs: small collections; the guide:
large ones), F is the highest grid value at which its tune half refuses at most 5 % of its answerable questions
(the issue's target as the operating point). Then the TEST half once.

    .venv/bin/python bench/fit_rescue.py
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.evidence import AbstainPolicy, decide_abstain, evidence_features, rescued  # noqa: E402
from chain.extractive import gather, pick, score  # noqa: E402
from chain.pipeline import ChainOptions  # noqa: E402

GRID: list[float | None] = [None] + [float(round(v, 2)) for v in np.arange(1.0, 1.81, 0.05)]
SHOWN = {None, 1.0, 1.1, 1.2, 1.25, 1.3, 1.35, 1.4, 1.5, 1.6}


def support(question: str, passages, embedder, vector) -> float:
    """The pipeline's extractive choice over the passages an answer reads: its best candidate's score."""
    cands = gather(question, passages[: ChainOptions().answer_passages])
    if not cands:
        return 0.0
    for c, sim in zip(cands, embedder.embed_documents([c.candidate.text for c in cands]) @ vector):
        c.similarity = float(sim)
    return pick(score(question, cands), question).support


def guide_rows() -> list[tuple[dict, object, float]]:
    from bench.fit_abstain import DG, rows
    from config.settings import Settings
    from index.embedded import EmbeddedIndex
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder
    from index.retrieval import HybridRetriever

    settings = Settings(data_dir=DG)
    index = EmbeddedIndex(DG / "index")
    embedder = CachedEmbeddings(make_embedder(settings), ROOT / "bench" / "out" / "cache" / "rescue.sqlite3")
    retriever = HybridRetriever(index, embedder, candidates=settings.retrieval_candidates)
    out = []
    for item in rows():
        q, vector = item["question"], embedder.embed_query(item["question"])
        passages = retriever.retrieve(q, settings.retrieval_top_k, vector=vector)
        f = evidence_features(q, passages[:1], index.term_stats, index.similar_terms, ranked=passages)
        group = "out_of_scope" if item["refuse"] else "answerable"
        out.append(({**item, "group": group}, f, support(q, passages, embedder, vector)))
    return out


def small_rows() -> list[tuple[dict, object, float]]:
    from bench.build_small_kb import build, load_draw
    from bench.fit_small_abstain import retrieve_all

    embedders = {kb["name"]: build(kb)[2] for kb in load_draw()["kbs"]}
    out = []
    for item, passages, index in retrieve_all():
        embedder = embedders[item["kb"]]
        q, vector = item["question"], embedders[item["kb"]].embed_query(item["question"])
        f = evidence_features(q, passages[:1], index.term_stats, index.similar_terms, ranked=passages)
        out.append((item, f, support(q, passages, embedder, vector)))
    return out


def table(data, split: str) -> dict:
    """{S: (cost, rates by group)} on one half of one set."""
    sub = [d for d in data if d[0]["split"] == split]
    policy = replace(AbstainPolicy(), rescue_support=None)
    verdicts = [decide_abstain(f, policy) for _, f, _ in sub]
    refused = np.array([v.abstain for v in verdicts])
    soft = np.array([v.abstain and not v.clear_cut for v in verdicts])
    sup = np.array([s for _, _, s in sub])
    groups = np.array([d[0]["group"] for d in sub])
    out = {}
    for s in GRID:
        r = refused if s is None else refused & ~(soft & (sup >= s))
        rates = {
            g: float(r[groups == g].mean()) for g in ("answerable", "elsewhere", "out_of_scope") if (groups == g).any()
        }
        to_refuse = np.mean([v for g, v in rates.items() if g != "answerable"])
        out[s] = (rates["answerable"] + 1 - to_refuse, rates)
    return out


FLOORS: list[float | None] = [None] + [float(round(v, 2)) for v in np.arange(0.5, 1.01, 0.05)]
MAX_ANSWERABLE_REFUSED = 0.05  # the target


def floor_table(data, split: str) -> dict:
    """{F: rates by group} with the shipped rescue and quoted answers scoring below F refused."""
    sub = [d for d in data if d[0]["split"] == split]
    policy = AbstainPolicy()
    verdicts = [decide_abstain(f, policy) for _, f, _ in sub]
    sup = np.array([s for _, _, s in sub])
    refused = np.array([v.abstain and not rescued(v, s, policy) for v, s in zip(verdicts, sup)])
    groups = np.array([d[0]["group"] for d in sub])
    out = {}
    for floor in FLOORS:
        r = refused if floor is None else refused | (sup < floor)
        out[floor] = {
            g: float(r[groups == g].mean()) for g in ("answerable", "elsewhere", "out_of_scope") if (groups == g).any()
        }
    return out


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sets = {"guide": guide_rows(), "small KBs": small_rows()}
    shipped = AbstainPolicy().rescue_support
    for split in ("tune", "test"):
        tables = {name: table(data, split) for name, data in sets.items()}
        print(f"{split.upper()} half (S None: no rescue; shipped S {shipped}):")
        for s in GRID:
            if s not in SHOWN and s != shipped:
                continue
            total = sum(t[s][0] for t in tables.values())
            parts = " | ".join(
                f"{name} " + " ".join(f"{g} {v:.3f}" for g, v in t[s][1].items()) for name, t in tables.items()
            )
            print(f"  S {s!s:5s} cost {total:.3f} | {parts}")
        if split == "tune":
            costs = {s: round(sum(t[s][0] for t in tables.values()), 6) for s in GRID}
            low = min(costs.values())
            chosen = max((s for s in GRID if s is not None and costs[s] == low), default=None)
            print(f"chosen on the tune half: S {chosen} (cost {low:.3f}; without rescue {costs[None]:.3f})")
    # the floor under quoted answers, per collection size (the guide is the large collection, the small KBs the
    # small ones): the highest F whose tune half refuses at most 5 % of answerable questions (the issue's
    # operating point), then the test half once
    policy = AbstainPolicy()
    shipped_floor = {"guide": policy.min_support_large, "small KBs": policy.min_support}
    for name, data in sets.items():
        tables = {split: floor_table(data, split) for split in ("tune", "test")}
        ok = [f for f in FLOORS if f is not None and tables["tune"][f]["answerable"] <= MAX_ANSWERABLE_REFUSED]
        chosen_floor = max(ok, default=None)
        print(f"{name}: floor under quoted answers (shipped F {shipped_floor[name]}), with the shipped rescue:")
        for split in ("tune", "test"):
            for f in FLOORS:
                if split == "test" and f not in (None, chosen_floor):
                    continue
                print(f"  {split} F {f!s:5s} " + " ".join(f"{g} {v:.3f}" for g, v in tables[split][f].items()))
        print(f"  chosen on the tune half: F {chosen_floor}")


if __name__ == "__main__":
    main()
