"""Run the answer chain over gold questions, the same `answer()` path the app and `docent batch` use.

>>> # results = run_items(build_chain(settings, store), load_gold(path))
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from config.errors import DocentError
from evaluation.gold import GoldItem
from evaluation.scoring import ItemResult, key_fact_hits

PRE_LLM_STEPS = ("embed", "retrieve", "route")


def run_item(chain, item: GoldItem) -> ItemResult:
    """Ask `item` (after its conversation history, if any) and record what came back."""
    out = ItemResult(
        id=item.id,
        kind=item.kind,
        question=item.question,
        group=item.variant if item.kind == "routing" else item.category,
        expected_route=item.expected_route,
        pair=item.pair,
        gold_pages=list(item.pages),
        key_facts=list(item.key_facts),
    )
    try:
        history: list[tuple[str, str]] = []
        for earlier in item.history:
            history.append((earlier, chain.answer_sync(earlier, history=list(history)).answer))
        t0 = time.perf_counter()
        result = chain.answer_sync(item.question, history=history)
        wall_ms = (time.perf_counter() - t0) * 1000
    except DocentError as exc:  # e.g. an empty or over-long question: recorded, the run goes on
        out.error = str(exc)
        out.fact_hits = [False] * len(item.key_facts)
        return out
    out.answer, out.route, out.abstained = result.answer, result.route, result.abstained
    out.confidence, out.band = float(result.confidence), result.confidence_band
    out.raw_confidence = float(result.raw_confidence if result.raw_confidence is not None else result.confidence)
    out.matched_question, out.llm_called = result.matched_question, result.llm_called
    out.retrieved_pages = [r.source for r in getattr(result, "retrieved", [])]
    out.cited_pages = [r.source for r in result.references if not r.source.startswith("qa:")]
    out.fact_hits = key_fact_hits(result.answer, item.key_facts)
    out.latency_ms = round(result.timings_ms.get("total", wall_ms), 2)
    out.pre_llm_ms = round(sum(result.timings_ms.get(k, 0.0) for k in PRE_LLM_STEPS), 2)
    out.timings_ms = dict(result.timings_ms)
    return out


def run_items(chain, items: Sequence[GoldItem], progress: Callable[[int, int], None] | None = None) -> list[ItemResult]:
    results = []
    for i, item in enumerate(items, 1):
        results.append(run_item(chain, item))
        if progress:
            progress(i, len(items))
    return results


@contextlib.contextmanager
def fresh_knowledge_base(
    settings, docs: Path, qa_csv: Path | None = None, embedding_cache: Path | None = None
) -> Iterator:
    """Settings for a throw-away embedded index and SQLite store holding only `docs` (and `qa_csv` as
    the Q&A set), so a run is reproducible whatever the configured data dir holds."""
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder, open_index
    from ingest.sync import SyncOptions, sync_paths

    if not Path(docs).exists():
        raise DocentError(f"{docs}: no such folder of documents to evaluate on; pass an existing --kb folder.")
    if qa_csv is not None and not Path(qa_csv).exists():
        raise DocentError(f"{qa_csv}: no such Q&A file; pass an existing --qa CSV or leave it out.")
    tmp = Path(tempfile.mkdtemp(prefix="docent-eval-"))
    try:
        cache = embedding_cache or settings.cache_dir  # reused across runs: the same text embeds the same
        scoped = settings.model_copy(
            update={
                "data_dir": tmp / "data",
                "index_backend": "embedded",
                "store_backend": "sqlite",
                "qa_set_path": qa_csv,
            }
        )
        embedder = CachedEmbeddings(make_embedder(scoped), Path(cache) / "embeddings.sqlite3")
        options = SyncOptions(
            child_chars=scoped.child_chunk_chars,
            overlap=scoped.child_overlap_chars,
            parent_chars=scoped.parent_chunk_chars,
        )
        summary = sync_paths([Path(docs)], open_index(scoped), embedder, options)
        if summary.skipped:
            skipped = "; ".join(f"{s.source}: {s.reason}" for s in summary.skipped)
            raise DocentError(f"{docs}: some documents could not be ingested ({skipped}); fix them and run again.")
        yield scoped, embedder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
