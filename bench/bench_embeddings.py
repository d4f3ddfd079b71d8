"""Embedding throughput per backend, and ingest time next to raw encoding time (issue 14), in one run.

For each backend (torch = sentence-transformers, onnx = fp32 on onnxruntime, int8 = dynamically
quantised ONNX) prints chunks/s over real chunks of the SageMaker guide, one-query latency p50, the
cosine of its vectors to torch's, and process start-up to the first query vector with a cached
export (onnx never imports torch). Then a cold ingest of a sample of pages (fresh index, no
embedding cache) with the chosen backend next to that backend's raw encoding of the same chunks,
and (when torch is among the backends) PyTorch's raw encoding of those chunks too: the issue's
"ingest at least 1.5x faster than PyTorch encoding alone".

    .venv/bin/python bench/bench_embeddings.py [--chunks 600] [--pages 40] [--backends torch,onnx,int8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.embeddings import LocalEmbeddings  # noqa: E402
from index.onnx_embeddings import OnnxEmbeddings  # noqa: E402
from ingest.converters import convert_file  # noqa: E402
from ingest.splitter import split_document  # noqa: E402
from ingest.sync import SyncOptions, sync_paths  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "sagemaker-dg" / "doc_source"
OUT = ROOT / "bench" / "out" / "embeddings"
QUERIES = [
    "how do i rotate keys",
    "serverless endpoint max memory",
    "whats the max payload for async inference",
    "num_round for xgboost",
    "spot training checkpoints",
]


def options() -> SyncOptions:
    s = Settings(data_dir=OUT)
    return SyncOptions(
        child_chars=s.child_chunk_chars, overlap=s.child_overlap_chars, parent_chars=s.parent_chunk_chars
    )


def chunk_texts(n: int) -> list[str]:
    texts: list[str] = []
    opts = options()
    for page in sorted(CORPUS.glob("*.md"))[::7]:
        doc = convert_file(page, CORPUS)
        for _, kids in split_document(
            doc, child_chars=opts.child_chars, overlap=opts.overlap, parent_chars=opts.parent_chars
        ):
            texts.extend(k.embedding_text() for k in kids)
        if len(texts) >= n:
            return texts[:n]
    return texts


def make(backend: str, cache_dir: Path):
    if backend == "torch":
        return LocalEmbeddings()
    return OnnxEmbeddings(cache_dir=cache_dir, quantize="int8" if backend == "int8" else "none")


def startup(backend: str, cache_dir: Path) -> float:
    """Seconds from a fresh interpreter to the first query vector (export cached beforehand)."""
    if backend == "torch":
        make_it = "from index.embeddings import LocalEmbeddings as E; e = E()"
    else:
        quantize = "int8" if backend == "int8" else "none"
        make_it = f"from index.onnx_embeddings import OnnxEmbeddings as E; e = E(cache_dir={str(cache_dir)!r}, quantize={quantize!r})"
    code = f"import time; t = time.perf_counter(); {make_it}; e.embed_query('warm'); print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def ingest(embedder, pages: int, torch_embedder=None) -> tuple[float, float, int, float | None]:
    """Cold ingest of `pages` pages (fresh index), the raw encoding of the same chunk texts, and
    (given a torch embedder) PyTorch's raw encoding of them too."""
    tmp = OUT / "ingest-sample"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "docs").mkdir(parents=True)
    for f in sorted(CORPUS.glob("*.md"))[:pages]:
        os.link(f, tmp / "docs" / f.name)
    index = EmbeddedIndex(tmp / "index")
    t0 = time.perf_counter()
    summary = sync_paths([tmp / "docs"], index, embedder, options())
    cold = time.perf_counter() - t0
    ids = [r[0] for r in index._db().execute("SELECT id FROM parents")]
    texts = [c.embedding_text() for rows in index.parent_children(ids).values() for c in rows]
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    raw = time.perf_counter() - t0
    torch_raw = None
    if torch_embedder is not None:
        t0 = time.perf_counter()
        torch_embedder.embed_documents(texts)
        torch_raw = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return cold, raw, summary.children, torch_raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=600)
    ap.add_argument("--pages", type=int, default=40, help="pages in the cold-ingest sample (0: skip)")
    ap.add_argument("--backends", default="torch,onnx,int8")
    ap.add_argument("--ingest-backend", default="onnx")
    ap.add_argument("--cache-dir", type=Path, default=OUT / "onnx")
    args = ap.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing: this benchmark needs ../shared beside the repo.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = chunk_texts(args.chunks)
    print(f"{len(texts)} chunks of the guide, mean {np.mean([len(t) for t in texts]):.0f} characters", flush=True)
    reference = None
    seconds: dict[str, float] = {}
    embedders: dict[str, object] = {}
    for backend in args.backends.split(","):
        emb = embedders[backend] = make(backend, args.cache_dir)
        t0 = time.perf_counter()
        emb.embed_query("warm up")  # loads (and, first time, exports) outside the timings
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = emb.embed_documents(texts)
        seconds[backend] = time.perf_counter() - t0
        latencies = []
        for _ in range(5):
            for q in QUERIES:
                t0 = time.perf_counter()
                emb.embed_query(q)
                latencies.append((time.perf_counter() - t0) * 1000)
        if reference is None and backend == "torch":
            reference = vectors
        cosine = ""
        if reference is not None and backend != "torch":
            cos = (vectors * reference).sum(axis=1)
            cosine = f"; cosine to torch mean {cos.mean():.4f} min {cos.min():.4f}"
        print(
            f"{backend:6s}: {len(texts) / seconds[backend]:6.1f} chunks/s; one query p50 "
            f"{np.percentile(latencies, 50):.1f} ms; first load {load:.1f} s; start-up to first query "
            f"{startup(backend, args.cache_dir):.1f} s{cosine}",
            flush=True,
        )
    if args.pages:
        emb = make(args.ingest_backend, args.cache_dir)
        emb.embed_query("warm up")
        torch_emb = embedders.get("torch") if args.ingest_backend != "torch" else None
        cold, raw, n, torch_raw = ingest(emb, args.pages, torch_emb)
        line = (
            f"cold ingest of {args.pages} pages ({n} chunks) with {args.ingest_backend}: {cold:.1f} s; "
            f"raw {args.ingest_backend} encoding of the same chunks {raw:.1f} s ({cold / raw:.2f}x)"
        )
        if torch_raw is not None:
            line += f"; torch encoding of the same chunks {torch_raw:.1f} s: ingest is {torch_raw / cold:.2f}x faster"
        print(line)


if __name__ == "__main__":
    main()
