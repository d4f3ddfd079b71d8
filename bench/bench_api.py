"""HTTP API benchmark: /v1/ask (extractive) over `docent api` against the same chain called in-process.

Builds the small test knowledge base (tests/fixtures/app_corpus.py, MiniLM embeddings, ONNX by default) in a temporary
data dir, starts `docent api` on a free loopback port (a separate process, as deployed), then prints:
- in-process: ChatSession.ask (chain + turn saved), one at a time: p50/p95 and requests/s;
- over HTTP at concurrency 1, 8 and 32: p50/p95 and requests/s;
- the API's p50 overhead at concurrency 1 (difference and ratio; target <= 5 ms).

    .venv/bin/python bench/bench_api.py [--requests 100] [--concurrency 1,8,32] [--runtime onnx|torch]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.api_server import start_api  # noqa: E402
from tests.fixtures.app_corpus import build_app_data  # noqa: E402

QUESTIONS = [
    "How do I book annual leave?",
    "How many leave days carry over to next year?",
    "How much does a parking permit cost?",
    "Where do I apply for a parking permit?",
    "When do unused leave days expire?",
    "Who approves my leave request?",
    "How far ahead should I book long leave?",
    "Who issues parking permits?",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def in_process(settings, embedder, n: int) -> list[float]:
    from chain.service import build_chain
    from feedback.factory import open_store
    from feedback.session import ChatSession

    store = open_store(settings)
    chain = build_chain(settings, store, embedder=embedder)
    for q in QUESTIONS:  # warm caches the same way the server's first requests do
        list(ChatSession(chain, store, uuid.uuid4().hex, user="bench").ask(q))
    times = []
    for i in range(n):
        session = ChatSession(chain, store, uuid.uuid4().hex, user="bench")
        t = time.perf_counter()
        for _ in session.ask(QUESTIONS[i % len(QUESTIONS)]):
            pass
        times.append((time.perf_counter() - t) * 1000)
    store.close()
    return times


def over_http(base: str, n: int, concurrency: int) -> tuple[list[float], float]:
    import httpx

    clients = [httpx.Client(base_url=base, timeout=120, trust_env=False) for _ in range(concurrency)]
    for c in clients:  # open the connections before timing
        c.get("/healthz")

    def one(i: int) -> float:
        client = clients[i % concurrency]
        t = time.perf_counter()
        resp = client.post("/v1/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
        elapsed = (time.perf_counter() - t) * 1000
        resp.raise_for_status()
        return elapsed

    for i in range(len(QUESTIONS)):
        one(i)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        times = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    for c in clients:
        c.close()
    return times, n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per measurement")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx", help="MiniLM's runtime, both sides")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    from config.settings import Settings
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder

    # Both sides embed the same way: the same runtime, and on ONNX the same export (kept across runs).
    embedding_env = {
        "DOCENT_EMBEDDINGS_RUNTIME": args.runtime,
        "DOCENT_EMBEDDINGS_ONNX_CACHE_DIR": str(ROOT / "bench" / "out" / "onnx-cache"),
    }
    with tempfile.TemporaryDirectory(prefix="docent-bench-api-") as tmp:
        data = Path(tmp) / "data"
        minilm = make_embedder(
            Settings(
                data_dir=data,
                embeddings_runtime=args.runtime,
                embeddings_onnx_cache_dir=Path(embedding_env["DOCENT_EMBEDDINGS_ONNX_CACHE_DIR"]),
            )
        )
        settings = build_app_data(data, minilm)
        embedder = CachedEmbeddings(minilm, settings.cache_dir / "embeddings.sqlite3")
        proc, base = start_api(data, Path(tmp) / "api.log", {"DOCENT_API_RATE_LIMIT_PER_MINUTE": "0", **embedding_env})
        try:
            local = in_process(settings, embedder, args.requests)
            local_rps = 1000 / statistics.mean(local)
            print(f"{'':24}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}")
            print(f"{'in-process (chain+save)':24}{local_rps:8.1f}{pct(local, 50):9.1f}{pct(local, 95):9.1f}")
            results = {}
            for c in levels:
                times, rps = over_http(base, args.requests, c)
                results[c] = times
                print(f"{f'HTTP /v1/ask, c={c}':24}{rps:8.1f}{pct(times, 50):9.1f}{pct(times, 95):9.1f}")
            if 1 in results:
                diff = pct(results[1], 50) - pct(local, 50)
                ratio = pct(results[1], 50) / pct(local, 50)
                print(f"API p50 overhead at c=1: {diff:+.1f} ms ({ratio:.2f}x the in-process p50; target <= 5 ms)")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
