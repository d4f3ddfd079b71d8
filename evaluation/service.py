"""One evaluation run end to end: open (or build) a knowledge base, run the chain, summarise.

The CLI (`docent eval`) and the quality gate test both call `evaluate()`.

>>> # report, items = evaluate(load_settings(), load_gold(path, "test"), gold=str(path), split="test")
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evaluation.gold import GoldItem
from evaluation.runner import fresh_knowledge_base, run_items
from evaluation.scoring import summarise


def evaluate(
    settings,
    items: Sequence[GoldItem],
    gold: str,
    split: str,
    kb: Path | None = None,
    qa: Path | None = None,
    embedding_cache: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run `items` through the chain built from `settings`; with `kb`, on a fresh index of that folder
    (and `qa` as the Q&A set) instead of the configured one. Returns (report, per-question rows)."""
    from chain.service import build_chain
    from feedback.factory import open_store
    from feedback.qa_seed import seed_qa_set

    with contextlib.ExitStack() as stack:
        embedder = None
        if kb is not None:
            settings, embedder = stack.enter_context(fresh_knowledge_base(settings, kb, qa, embedding_cache))
        store = open_store(settings)
        if hasattr(store, "close"):
            stack.callback(store.close)
        seed_qa_set(settings, store)
        chain = build_chain(settings, store, embedder=embedder)
        results = run_items(chain, items, progress)
        index_version = chain._index_version()
    report = {
        "gold": gold,
        "split": split,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "backend": settings.llm_backend,
        "index_version": index_version,
        "kb": str(kb) if kb else None,
        "summary": summarise(results),
    }
    return report, [r.to_dict() for r in results]
