"""Answer-chain benchmark: abstention rates and pre-LLM latency of the whole chain.

Index: the DG corpus built by bench/bench_retrieval.py (bench/out/dg). Fine-tuning set:
../shared/corpora/sagemaker-faq/faq_pairs.csv. Prints:
- out-of-scope questions refused (bench/data/abstain_dev.jsonl) and answerable ones refused
  (bench/data/retrieval_dev.jsonl), with the top-dense-threshold baseline at 5% answerable refused;
- the answer-page hit rate of non-refused answerable questions (is the cited page a right page?);
- pre-LLM latency p50/p95 of the whole chain (clean + embed once + retrieve + route + evidence),
  and the end-to-end extractive answer time.

    .venv/bin/python bench/bench_chain.py
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.pipeline import ChainOptions, DocentChain  # noqa: E402
from chain.router import Router  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.embeddings import LocalEmbeddings  # noqa: E402
from index.retrieval import HybridRetriever  # noqa: E402
from tests.fixtures.qa import MemoryQA  # noqa: E402

FAQ = ROOT.parent / "shared" / "corpora" / "sagemaker-faq" / "faq_pairs.csv"
INDEX = ROOT / "bench" / "out" / "dg" / "index"
DATA = ROOT / "bench" / "data"


def load(name):
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def main() -> None:
    if not (INDEX / "index.sqlite3").exists() or not FAQ.exists():
        sys.exit("Run bench/bench_retrieval.py first (it builds bench/out/dg), with ../shared beside the repo.")
    emb = LocalEmbeddings()
    index = EmbeddedIndex(INDEX)
    qa = MemoryQA()
    with FAQ.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            qa.add(row["instruction"], row["response"])
    chain = DocentChain(HybridRetriever(index, emb), Router(qa, emb), options=ChainOptions())
    chain.router.refresh()
    index._vectors()
    outside = load("abstain_dev.jsonl")
    answerable = load("retrieval_dev.jsonl")

    def run(q):
        state = chain.prepare({"question": q, "history": []})
        state = chain.retrieve(state)
        return chain.route(state)

    refused_out, refused_in, hits, total_in = 0, 0, 0, 0
    top_out, top_in = [], []
    missed = []
    for it in outside:
        s = run(it["question"])
        top_out.append(max((p.dense_score for p in s["passages"]), default=0.0))
        if s["decision"].route == "rag" and s["verdict"].abstain:
            refused_out += 1
        else:
            missed.append(("answered out-of-scope", it["question"], s.get("evidence")))
    for it in answerable:
        s = run(it["question"])
        top_in.append(max((p.dense_score for p in s["passages"]), default=0.0))
        if s["decision"].route == "rag":
            total_in += 1
            if s["verdict"].abstain:
                refused_in += 1
                missed.append(("refused answerable", it["question"], s["evidence"]))
            elif s["passages"] and s["passages"][0].parent.source in it["pages"]:
                hits += 1
    print(f"out-of-scope refused: {refused_out}/{len(outside)} = {refused_out / len(outside):.3f}")
    print(
        f"answerable refused:   {refused_in}/{total_in} = {refused_in / max(total_in, 1):.3f} "
        f"(answered with a right top page: {hits}/{total_in - refused_in})"
    )
    thr = float(np.percentile(top_in, 5))
    base = float(np.mean(np.array(top_out) < thr))
    print(f"baseline, top dense similarity < {thr:.3f} (5% of answerable refused): refuses {base:.3f} of out-of-scope")
    shown = [m for m in missed if m[0] == "refused answerable"][:12] + [
        m for m in missed if m[0] != "refused answerable"
    ][:12]
    for kind, q, ev in shown:
        detail = (
            (
                f"dense {ev.top_dense:.2f} coverage {ev.coverage:.2f} unknown {ev.unknown_specific:.2f} "
                f"missing {ev.missing_terms}"
            )
            if ev
            else "routed to fine-tuned"
        )
        print(f"  {kind}: {q!r} [{detail}]")

    latencies, full = [], []
    questions = [it["question"] for it in answerable + outside]
    for q in questions * 2:
        t = time.perf_counter()
        run(q)
        latencies.append((time.perf_counter() - t) * 1000)
    for q in questions:
        t = time.perf_counter()
        chain.answer_sync(q)
        full.append((time.perf_counter() - t) * 1000)
    print(
        f"pre-LLM chain latency ({len(latencies)} questions): p50 {np.percentile(latencies, 50):.1f} ms, "
        f"p95 {np.percentile(latencies, 95):.1f} ms"
    )
    print(f"full extractive answer: p50 {np.percentile(full, 50):.1f} ms, p95 {np.percentile(full, 95):.1f} ms")


if __name__ == "__main__":
    main()
