"""Retrieval benchmark on the SageMaker Developer Guide (../shared/corpora/sagemaker-dg).

Prints page-level recall@1/5/10 and MRR@10 for hybrid vs dense-only vs BM25-only, the seed's
dense top-3 with a 0.5 score threshold, pre-LLM query latency p50/p95 (embed + retrieve +
parents), and ingestion figures. The index is built once into bench/out/dg (embeddings cached in
bench/out/dg/cache), so later runs only measure.

    .venv/bin/python bench/bench_retrieval.py [--ingest-sample N] [--reingest]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.embeddings import CachedEmbeddings  # noqa: E402
from index.factory import make_embedder  # noqa: E402
from index.fusion import FusionWeights  # noqa: E402
from index.retrieval import HybridRetriever  # noqa: E402
from ingest.sync import SyncOptions, sync_paths  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "sagemaker-dg" / "doc_source"
OUT = ROOT / "bench" / "out" / "dg"
DEV = ROOT / "bench" / "data" / "retrieval_dev.jsonl"


def options() -> SyncOptions:
    s = Settings(data_dir=OUT)
    return SyncOptions(
        child_chars=s.child_chunk_chars, overlap=s.child_overlap_chars, parent_chars=s.parent_chunk_chars
    )


def pct(values, q):
    return float(np.percentile(np.array(values), q))


def page_ranks(passages, want: set[str]) -> int | None:
    pages: list[str] = []
    for p in passages:
        if p.parent.source not in pages:
            pages.append(p.parent.source)
    for i, page in enumerate(pages):
        if page in want:
            return i
    return None


def evaluate(name, retrieve, items, k=10):
    r1 = r5 = r10 = mrr = 0.0
    for it in items:
        rank = page_ranks(retrieve(it), set(it["pages"]))
        if rank is not None:
            r1 += rank < 1
            r5 += rank < 5
            r10 += rank < 10
            mrr += 1.0 / (rank + 1) if rank < 10 else 0.0
    n = len(items)
    print(f"  {name:28s} recall@1 {r1 / n:.3f}  recall@5 {r5 / n:.3f}  recall@10 {r10 / n:.3f}  MRR@10 {mrr / n:.3f}")
    return r5 / n


def ingest_figures(embedder, sample: int) -> None:
    """Cold ingest of a sample of pages (fresh index, fresh cache) vs the raw embedding time of the
    same chunks, and an unchanged re-ingest of the full corpus."""
    files = sorted(CORPUS.glob("*.md"))[:sample]
    tmp = OUT.parent / "ingest-sample"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "docs").mkdir(parents=True)
    for f in files:
        os.link(f, tmp / "docs" / f.name) if hasattr(os, "link") else shutil.copy(f, tmp / "docs" / f.name)
    idx = EmbeddedIndex(tmp / "index")
    t0 = time.perf_counter()
    summary = sync_paths([tmp / "docs"], idx, embedder, options())
    cold = time.perf_counter() - t0
    texts = [
        c.embedding_text()
        for rows in idx.parent_children([r[0] for r in idx._db().execute("SELECT id FROM parents")]).values()
        for c in rows
    ]
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    raw = time.perf_counter() - t0
    print(
        f"ingest of {len(files)} pages ({summary.children} chunks): {cold:.1f} s; raw embedding of the same "
        f"chunks {raw:.1f} s; ratio {cold / raw:.2f}x"
    )
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest-sample", type=int, default=0, help="measure a cold ingest of N pages vs raw embedding")
    args = ap.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing: this benchmark needs ../shared beside the repo.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    local = make_embedder(Settings(data_dir=OUT))  # as the product embeds: ONNX Runtime when installed
    embedder = CachedEmbeddings(local, OUT / "cache" / "embeddings.sqlite3")
    index = EmbeddedIndex(OUT / "index")
    t0 = time.perf_counter()
    summary = sync_paths([CORPUS], index, embedder, options())
    print(
        f"corpus sync: {summary.describe()}; wall {time.perf_counter() - t0:.1f} s "
        f"(embedding {summary.embed_seconds:.1f} s, cache hits {embedder.hits})"
    )
    stats = index.stats()
    print(f"index: {stats.sources} pages, {stats.parents} parents, {stats.children} chunks")
    t0 = time.perf_counter()
    again = sync_paths([CORPUS], index, embedder, options())
    print(f"unchanged re-ingest: {time.perf_counter() - t0:.2f} s ({again.count('unchanged')} unchanged)")

    items = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    print(f"dev questions: {len(items)}")
    vectors = {it["id"]: v for it, v in zip(items, local.embed_documents([it["question"] for it in items]))}
    hybrid = HybridRetriever(index, local)
    index._vectors()

    print("page-level retrieval (top 10 passages):")
    evaluate("hybrid (Docent)", lambda it: hybrid.retrieve(it["question"], 10, vector=vectors[it["id"]]), items)
    dense_only = HybridRetriever(index, local, weights=FusionWeights(lexical=0.0))
    evaluate("dense only", lambda it: dense_only.retrieve(it["question"], 10, vector=vectors[it["id"]]), items)
    lex_only = HybridRetriever(index, local, weights=FusionWeights(dense=0.0))
    evaluate("BM25 only", lambda it: lex_only.retrieve(it["question"], 10, vector=vectors[it["id"]]), items)

    def seed(it):  # the seed: dense top-3 chunks, keep those scoring >= 0.5
        _, dense = index.candidates(it["question"], vectors[it["id"]], 3)
        keep = [h for h in dense if h.score >= 0.5]
        parents = index.get_parents([h.parent_id for h in keep])
        return [type("P", (), {"parent": parents[h.parent_id]}) for h in keep if h.parent_id in parents]

    seed_r = evaluate("seed: dense top-3, >= 0.5", seed, items)
    hyb_r5 = evaluate(
        "hybrid top-5 (for ratio)", lambda it: hybrid.retrieve(it["question"], 5, vector=vectors[it["id"]]), items
    )
    print(f"  hybrid recall@5 / seed recall: {hyb_r5 / max(seed_r, 1e-9):.2f}x")

    latencies = []
    for it in items * 3:
        t = time.perf_counter()
        hybrid.retrieve(it["question"], 5)
        latencies.append((time.perf_counter() - t) * 1000)
    print(
        f"pre-LLM query latency (embed + retrieve + parents), {len(latencies)} queries: "
        f"p50 {pct(latencies, 50):.1f} ms, p95 {pct(latencies, 95):.1f} ms"
    )
    search_only = []
    for it in items:
        t = time.perf_counter()
        hybrid.retrieve(it["question"], 5, vector=vectors[it["id"]])
        search_only.append((time.perf_counter() - t) * 1000)
    print(f"  of which search + parents: p50 {pct(search_only, 50):.1f} ms, p95 {pct(search_only, 95):.1f} ms")
    if args.ingest_sample:
        ingest_figures(local, args.ingest_sample)


if __name__ == "__main__":
    main()
