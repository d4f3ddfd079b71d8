"""Does search time stay flat as the embedded index grows? (issue 14)

Indexes a sample of the SageMaker guide (the dev set's answer pages first, then others) 1x and Nx
(N copies of every page under copyK/ folders), with vectors from an embedding cache so only the
first build embeds anything (or `--vectors hash`: cheap deterministic vectors, for the lexical
side alone). Then, for the 80 dev questions, prints per-stage p50/p95 (lexical, dense, and the
whole search + fusion + parents path with the query vector given), where the lexical time goes
(terms kept, rows matched), the Nx/1x ratio, and page-level recall@5 / MRR@10 at each size
(copies folded onto their page), so a speed-up that costs quality shows. "First ask" figures time each
question once on a fresh index object, so per-term caches start empty; the others repeat the questions.

    .venv/bin/python bench/bench_scale.py [--pages 150] [--copies 1,4] [--vectors cache|hash] [--rounds 3]
        [--row-budget 0,1000]   # LEXICAL_MAX_ROWS values compared on the same indexes
        [--term-cache 2000000,0] # LEXICAL_CACHE_ROWS values compared (0: one FTS5 query a question)

Timings are wall-clock and, for the whole path, thread CPU time (steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import index.embedded as embedded  # noqa: E402
from config.settings import Settings  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.embeddings import CachedEmbeddings  # noqa: E402
from index.retrieval import HybridRetriever  # noqa: E402
from index.text import tokens  # noqa: E402
from ingest.sync import SyncOptions, sync_paths  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "sagemaker-dg" / "doc_source"
OUT = ROOT / "bench" / "out" / "scale"
DEV = ROOT / "bench" / "data" / "retrieval_dev.jsonl"


class HashVectors:
    """Deterministic bag-of-words vectors (no model): enough to exercise FAISS for lexical profiling."""

    model_id, dim = "hash-bow-384", 384

    def embed_documents(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in tokens(text):
                out[i, int(hashlib.md5(tok.encode()).hexdigest()[:6], 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def sample_pages(items: list[dict], n: int) -> list[Path]:
    wanted = sorted({p for it in items for p in it["pages"]})
    pages = [CORPUS / p for p in wanted if (CORPUS / p).exists()]
    others = [p for p in sorted(CORPUS.glob("*.md")) if p.name not in set(wanted)]
    step = max(1, len(others) // max(1, n - len(pages)))
    pages += others[::step][: max(0, n - len(pages))]
    return pages[:n] if n >= len(wanted) else pages


def build(pages: list[Path], copies: int, embedder, tag: str) -> EmbeddedIndex:
    folder = OUT / f"{tag}-{len(pages)}p-{copies}x"
    index_dir = folder / "index"
    if index_dir.exists():
        return EmbeddedIndex(index_dir)
    docs = folder / "docs"
    for k in range(copies):
        (docs / f"copy{k}").mkdir(parents=True, exist_ok=True)
        for page in pages:
            target = docs / f"copy{k}" / page.name
            if not target.exists():
                os.link(page, target)
    s = Settings(data_dir=OUT)
    opts = SyncOptions(
        child_chars=s.child_chunk_chars, overlap=s.child_overlap_chars, parent_chars=s.parent_chunk_chars
    )
    index = EmbeddedIndex(index_dir)
    t0 = time.perf_counter()
    summary = sync_paths([docs], index, embedder, opts)
    print(
        f"  built {copies}x: {summary.children} chunks in {time.perf_counter() - t0:.1f} s "
        f"(embedding {summary.embed_seconds:.1f} s)",
        flush=True,
    )
    shutil.rmtree(docs, ignore_errors=True)
    return index


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def fold(source: str) -> str:
    return source.split("/", 1)[1] if source.startswith("copy") else source


def first_asks(path: Path, embedder, items, vectors) -> tuple[list[float], list[float]]:
    """Each question once, in dev-set order, on fresh index objects (no term statistics or scores cached
    yet; the vector file loaded beforehand): the lexical side alone on one, the whole path on another."""
    lexical, total = [], []
    index = EmbeddedIndex(path)
    index.warm_up()
    for it in items:
        t0 = time.perf_counter()
        index.lexical(it["question"], 50)
        lexical.append((time.perf_counter() - t0) * 1000)
    index = EmbeddedIndex(path)
    index.warm_up()
    retriever = HybridRetriever(index, embedder)
    for it in items:
        t0 = time.perf_counter()
        retriever.retrieve(it["question"], 5, vector=vectors[it["id"]])
        total.append((time.perf_counter() - t0) * 1000)
    return lexical, total


def measure(index: EmbeddedIndex, retriever: HybridRetriever, items, vectors, rounds: int) -> dict:
    lexical, dense, total, rows, cpu = [], [], [], [], []
    r5 = mrr = 0.0
    first_lexical, first_total = first_asks(index.path, retriever.embedder, items, vectors)
    for it in items:  # warm caches (FAISS load, term document frequencies) outside the timings
        retriever.retrieve(it["question"], 10, vector=vectors[it["id"]])
    for _ in range(rounds):
        for it in items:
            q, v = it["question"], vectors[it["id"]]
            t0 = time.perf_counter()
            index.lexical(q, retriever.candidates)
            t1 = time.perf_counter()
            index.dense(v, retriever.candidates)
            t2, c2 = time.perf_counter(), time.thread_time()
            retriever.retrieve(q, 5, vector=v)
            t3, c3 = time.perf_counter(), time.thread_time()
            cpu.append((c3 - c2) * 1000)
            lexical.append((t1 - t0) * 1000)
            dense.append((t2 - t1) * 1000)
            total.append((t3 - t2) * 1000)
    for it in items:
        pages: list[str] = []
        for p in retriever.retrieve(it["question"], 10, vector=vectors[it["id"]]):
            if fold(p.parent.source) not in pages:
                pages.append(fold(p.parent.source))
        rank = next((i for i, p in enumerate(pages) if p in set(it["pages"])), None)
        if rank is not None:
            r5 += rank < 5
            mrr += 1 / (rank + 1) if rank < 10 else 0
        plan = index.lexical_plan(it["question"]) if hasattr(index, "lexical_plan") else None
        if plan is not None:
            rows.append(plan.get("rows", 0))
    n = len(items)
    return {
        "lexical": lexical,
        "first_lexical": first_lexical,
        "first_total": first_total,
        "dense": dense,
        "total": total,
        "cpu": cpu,
        "recall5": r5 / n,
        "mrr": mrr / n,
        "rows": rows,
        "chunks": index.stats().children,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=150)
    ap.add_argument("--copies", default="1,4")
    ap.add_argument("--vectors", choices=["cache", "hash"], default="cache")
    ap.add_argument(
        "--runtime",
        choices=["auto", "onnx", "torch"],
        default="auto",
        help="embedder for --vectors cache (fp32 onnx and torch share one cache)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--row-budget",
        default=str(embedded.LEXICAL_MAX_ROWS),
        help="LEXICAL_MAX_ROWS values to compare on the same indexes (0: no budget), e.g. 0,1000",
    )
    ap.add_argument(
        "--term-cache",
        default=str(embedded.LEXICAL_CACHE_ROWS),
        help="LEXICAL_CACHE_ROWS values to compare on the same indexes (0: off), e.g. 2000000,0",
    )
    args = ap.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing: this benchmark needs ../shared beside the repo.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    items = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    pages = sample_pages(items, args.pages)
    items = [it for it in items if any((CORPUS / p) in set(pages) for p in it["pages"])]
    if args.vectors == "hash":
        embedder, tag = HashVectors(), "hash"
    else:
        from index.factory import make_embedder

        settings = Settings(data_dir=OUT, embeddings_runtime=args.runtime)
        embedder = CachedEmbeddings(make_embedder(settings), OUT / "cache" / "embeddings.sqlite3")
        tag = "real"
    print(f"sample: {len(pages)} pages; {len(items)} dev questions answered in it; vectors: {tag}", flush=True)
    vectors = dict(zip([it["id"] for it in items], embedder.embed_documents([it["question"] for it in items])))
    variants = [(int(b), int(c)) for b in args.row_budget.split(",") for c in args.term_cache.split(",")]
    results: dict[tuple[int, int], dict[int, dict]] = {v: {} for v in variants}
    for copies in [int(c) for c in args.copies.split(",")]:
        index = build(pages, copies, embedder, tag)
        index.warm_up()
        for budget, cache_rows in variants:  # the same index and load for every variant
            embedded.LEXICAL_MAX_ROWS, embedded.LEXICAL_CACHE_ROWS = budget, cache_rows
            index = EmbeddedIndex(index.path)
            index.warm_up()
            res = measure(index, HybridRetriever(index, embedder), items, vectors, args.rounds)
            results[(budget, cache_rows)][copies] = res
            rows = f", lexical rows scored p50 {pct(res['rows'], 50):.0f}" if res["rows"] else ""
            print(
                f"{copies}x ({res['chunks']} chunks), row budget {budget}, term cache {cache_rows}: lexical p50 "
                f"{pct(res['lexical'], 50):.2f} ms p95 {pct(res['lexical'], 95):.2f}; dense p50 "
                f"{pct(res['dense'], 50):.2f} ms; search + fusion + parents p50 {pct(res['total'], 50):.2f} ms "
                f"p95 {pct(res['total'], 95):.2f} (CPU p50 {pct(res['cpu'], 50):.2f} ms){rows}; "
                f"recall@5 {res['recall5']:.3f} MRR@10 {res['mrr']:.3f}",
                flush=True,
            )
            print(
                f"    first ask of each question (fresh index object): lexical p50 "
                f"{pct(res['first_lexical'], 50):.2f} ms p95 {pct(res['first_lexical'], 95):.2f}; "
                f"search + fusion + parents p50 {pct(res['first_total'], 50):.2f} ms "
                f"p95 {pct(res['first_total'], 95):.2f}",
                flush=True,
            )
    for (budget, cache_rows), by_size in results.items():
        sizes = sorted(by_size)
        if len(sizes) > 1:
            lo, hi = by_size[sizes[0]], by_size[sizes[-1]]
            for stage in ("first_lexical", "first_total", "lexical", "dense", "total", "cpu"):
                ratio = pct(hi[stage], 50) / pct(lo[stage], 50)
                print(
                    f"  row budget {budget}, term cache {cache_rows}: {stage:13s} "
                    f"{sizes[-1]}x / {sizes[0]}x p50: {ratio:.2f}x"
                )


if __name__ == "__main__":
    main()
