"""Extractive answers: key-fact match before/after, wrong answers badged High, and the answer step's cost.

Two question sets:
- the demo knowledge base (assets/demo/docs, ingested into a throw-away index): the hand-written
  questions of bench/data/demo_answers.jsonl (follow-ups carry their `history`) and the answerable
  rows of the demo gold set (bench/data/demo_gold.jsonl, when present);
- with --guide N: N answerable questions of the guide's *tune* half (bench/data/gold/answerable.jsonl,
  or the build/ parts split the same way), over the whole-guide index in bench/out/dg.
"Before" is the previous extractive answer (the best-scoring sentences of the passages, kept below
as `previous_answer` for this comparison); "after" is the chain's answer. Prints figures only.

    .venv/bin/python bench/bench_answers.py [--guide 60]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.compression import score_sentences  # noqa: E402
from chain.pipeline import ChainOptions, DocentChain  # noqa: E402
from chain.router import Router  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.embeddings import CachedEmbeddings, LocalEmbeddings  # noqa: E402
from index.retrieval import HybridRetriever  # noqa: E402
from tests.fixtures.qa import MemoryQA  # noqa: E402

DATA = ROOT / "bench" / "data"
DEMO = ROOT / "assets" / "demo"


def normalise(text: str) -> str:
    return " ".join(text.replace("*", "").replace("`", "").split()).casefold()


def has_facts(answer: str, facts) -> bool:
    return bool(facts) and all(normalise(f) in normalise(answer) for f in facts)


def previous_answer(question, passages) -> str:
    """The extractive answer before issue 10: top sentences by term overlap, up to four."""
    scored = [s for s in score_sentences(question, passages) if s.score > 0]
    if not scored:
        return passages[0].parent.text[:600] if passages else ""
    best = max(s.score for s in scored)
    picked = [s for s in sorted(scored, key=lambda s: -s.score) if s.score >= 0.6 * best][:4]
    return " ".join(f"{s.text} [{s.passage + 1}]" for s in sorted(picked, key=lambda s: (s.passage, s.position)))


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_set(chain: DocentChain, rows: list[dict], show: bool) -> dict:
    before = after = high_wrong = 0
    answer_ms = []
    for row in rows:
        history = []
        for q in row.get("history") or []:
            history.append((q, chain.answer_sync(q, history=list(history)).answer))
        state = chain.prepare({"question": row["question"], "history": history})
        state = chain.route(chain.retrieve(state))
        old = previous_answer(state["standalone"], state["passages"]) if state["decision"].route == "rag" else ""
        t = time.perf_counter()
        result = chain.answer_sync(row["question"], history=history)
        answer_ms.append(result.timings_ms.get("generate", 0.0))
        _ = t
        ok_old, ok_new = has_facts(old, row["key_facts"]), has_facts(result.answer, row["key_facts"])
        ok_new = ok_new and not result.abstained
        before += ok_old
        after += ok_new
        if not ok_new and result.confidence_band == "high":
            high_wrong += 1
        if show:
            mark = "ok " if ok_new else "MISS"
            print(
                f"{mark} [{result.confidence_band} {result.confidence:.2f}] {row['question']!r}"
                f"{' -> ' + repr(result.standalone_question) if result.standalone_question != row['question'] else ''}"
                f"\n      {result.answer[:220]!r}"
            )
    n = max(len(rows), 1)
    return {
        "n": len(rows),
        "before": before / n,
        "after": after / n,
        "high_wrong": high_wrong,
        "answer_ms_p50": float(np.percentile(answer_ms, 50)) if answer_ms else math.nan,
    }


def demo_chain(workdir: Path, emb) -> DocentChain:
    from ingest.sync import SyncOptions, sync_paths

    index = EmbeddedIndex(workdir / "index")
    sync_paths([DEMO / "docs"], index, emb, SyncOptions())
    qa = MemoryQA()
    with (DEMO / "qa_pairs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            qa.add(row["instruction"], row["response"])
    return DocentChain(HybridRetriever(index, emb), Router(qa, emb), options=ChainOptions())


def split_of(key: str) -> str:
    return "test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 else "tune"


def guide_rows(n: int) -> list[dict]:
    gold = DATA / "gold" / "answerable.jsonl"
    if gold.exists():
        rows = [r for r in load(gold) if r.get("split") == "tune"]
    else:
        rows = [
            r
            for p in sorted((DATA / "build").glob("answerable_part*.jsonl"))
            for r in load(p)
            if split_of(r["page"]) == "tune"
        ]
    rows = [r for r in rows if r.get("key_facts")]
    rows.sort(key=lambda r: hashlib.sha256(r["question"].encode()).hexdigest())  # a fixed, seeded sample
    return rows[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guide", type=int, default=0, help="also N tune-half guide questions (bench/out/dg)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    emb = CachedEmbeddings(LocalEmbeddings(), ROOT / "bench" / "out" / "cache" / "answers.sqlite3")
    with tempfile.TemporaryDirectory() as tmp:
        chain = demo_chain(Path(tmp), emb)
        mine = load(DATA / "demo_answers.jsonl")
        gold = (
            [r for r in load(DATA / "demo_gold.jsonl") if r.get("kind") == "answerable"]
            if (DATA / "demo_gold.jsonl").exists()
            else []
        )
        for name, rows in (
            ("demo questions (bench/data/demo_answers.jsonl)", mine),
            ("demo gold set, answerable (bench/data/demo_gold.jsonl)", gold),
        ):
            if rows:
                print(f"== {name}")
                r = run_set(chain, rows, not args.quiet)
                print(
                    f"key-fact match: before {r['before']:.2f}, after {r['after']:.2f} (n={r['n']}); "
                    f"wrong answers badged High: {r['high_wrong']}; answer step p50 {r['answer_ms_p50']:.1f} ms"
                )
    if args.guide:
        index_dir = ROOT / "bench" / "out" / "dg" / "index"
        if not (index_dir / "index.sqlite3").exists():
            sys.exit("No whole-guide index: run bench/bench_retrieval.py first (it builds bench/out/dg).")
        chain = DocentChain(
            HybridRetriever(EmbeddedIndex(index_dir), emb), Router(MemoryQA(), emb), options=ChainOptions()
        )
        rows = guide_rows(args.guide)
        print(f"== guide, tune half, {len(rows)} answerable questions")
        r = run_set(chain, rows, not args.quiet)
        print(
            f"key-fact match: before {r['before']:.2f}, after {r['after']:.2f} (n={r['n']}); "
            f"wrong answers badged High: {r['high_wrong']}; answer step p50 {r['answer_ms_p50']:.1f} ms"
        )


if __name__ == "__main__":
    main()
