"""Small knowledge bases drawn from the SageMaker guide: a dev set for refusals on small collections (issue 10).

A deployment's knowledge base is often a few dozen documents, not a 20,000-chunk guide, and refusal
decisions that work on the guide do not carry over (see docs/benchmarks.md, "Refusal model"). This
draws, with fixed seeds, a few knowledge bases of 15-80 guide pages (about 200-1,300 chunks): half
the pages are gold pages of bench/data/gold/answerable.jsonl, half any other page of the guide. Rows:

- answerable: a gold question with a gold page inside the knowledge base (label: answer);
- elsewhere: a gold question whose gold pages are all outside it (label: refuse; a sample per KB);
- out_of_scope: every bench/data/gold/out_of_scope.jsonl question (label: refuse).

Each row keeps its gold split (tune/test). The draw (seeds, page names; no text) is saved in
bench/data/small_kb.json; the indexes are built into bench/out/small_kb/<kb>/ with the whole-guide
embedding cache (bench/out/dg/cache, built by bench/bench_retrieval.py), so a build costs seconds.

    .venv/bin/python bench/build_small_kb.py [--redraw]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpora" / "sagemaker-dg" / "doc_source"
GOLD = ROOT / "bench" / "data" / "gold"
DRAW = ROOT / "bench" / "data" / "small_kb.json"
OUT = ROOT / "bench" / "out" / "small_kb"
CACHE = ROOT / "bench" / "out" / "dg" / "cache" / "embeddings.sqlite3"
SIZES = (15, 30, 45, 60, 80)  # pages per knowledge base
SEED = 20261130
ELSEWHERE_PER_KB = 40  # answerable-elsewhere questions sampled per knowledge base


def gold(name: str) -> list[dict]:
    return [json.loads(line) for line in (GOLD / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]


def draw() -> dict:
    """Seeded page lists: half gold pages of answerable questions, half other pages of the guide."""
    everything = sorted(p.name for p in CORPUS.glob("*.md"))
    gold_pages = sorted({item["pages"][0] for item in gold("answerable")})
    others = sorted(set(everything) - set(gold_pages))
    kbs = []
    for i, size in enumerate(SIZES):
        rng = random.Random(SEED + i)
        pages = rng.sample(gold_pages, size // 2) + rng.sample(others, size - size // 2)
        answerable = [it for it in gold("answerable") if set(it["pages"]) & set(pages)]
        outside = [it["id"] for it in gold("answerable") if not set(it["pages"]) & set(pages)]
        kbs.append(
            {
                "name": f"kb{i + 1}-{size}p",
                "seed": SEED + i,
                "pages": sorted(pages),
                "answerable": len(answerable),
                "elsewhere": sorted(rng.sample(outside, ELSEWHERE_PER_KB)),
            }
        )
    return {"seed": SEED, "corpus": "sagemaker-dg/doc_source", "kbs": kbs}


def load_draw(redraw: bool = False) -> dict:
    if redraw or not DRAW.exists():
        DRAW.write_text(json.dumps(draw(), indent=1) + "\n", encoding="utf-8")
    return json.loads(DRAW.read_text(encoding="utf-8"))


def rows(kb: dict) -> Iterator[dict]:
    """The gold rows of one knowledge base, each with `refuse` (the label) and `group`."""
    pages, elsewhere = set(kb["pages"]), set(kb["elsewhere"])
    for item in gold("answerable"):
        if set(item["pages"]) & pages:
            yield {**item, "refuse": False, "group": "answerable", "kb": kb["name"]}
        elif item["id"] in elsewhere:
            yield {**item, "refuse": True, "group": "elsewhere", "kb": kb["name"]}
    for item in gold("out_of_scope"):
        yield {**item, "refuse": True, "group": "out_of_scope", "kb": kb["name"]}


def build(kb: dict):
    """The knowledge base's embedded index (built once; later calls only open it) and its embedder."""
    from config.settings import Settings
    from index.embedded import EmbeddedIndex
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder
    from ingest.sync import SyncOptions, sync_paths

    settings = Settings(data_dir=OUT / kb["name"])
    embedder = CachedEmbeddings(make_embedder(settings), CACHE)
    index = EmbeddedIndex(OUT / kb["name"] / "index")
    if not index.list_sources():
        options = SyncOptions(
            child_chars=settings.child_chunk_chars,
            overlap=settings.child_overlap_chars,
            parent_chars=settings.parent_chunk_chars,
        )
        summary = sync_paths([CORPUS / page for page in kb["pages"]], index, embedder, options)
        print(f"{kb['name']}: {summary.describe()} (cache hits {embedder.hits})")
    return settings, index, embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redraw", action="store_true", help=f"draw the pages again into {DRAW.relative_to(ROOT)}")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing: this benchmark needs ../shared beside the repo.")
    if not CACHE.exists():
        print(f"note: no {CACHE.relative_to(ROOT)} (bench/bench_retrieval.py builds it); every chunk is embedded")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for kb in load_draw(args.redraw)["kbs"]:
        _, index, _ = build(kb)
        stats = index.stats()
        labelled = list(rows(kb))
        counts = {
            f"{g} {s}": sum(r["group"] == g and r["split"] == s for r in labelled)
            for g in ("answerable", "elsewhere", "out_of_scope")
            for s in ("tune", "test")
        }
        print(
            f"{kb['name']}: {stats.sources} pages, {stats.children} chunks; "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )


if __name__ == "__main__":
    main()
