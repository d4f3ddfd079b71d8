"""Assemble the answer chain from settings: the one place the CLI, batch and the app build it."""

from __future__ import annotations

from chain.calibration import Calibration
from chain.pipeline import ChainOptions, DocentChain
from chain.router import Router
from config.settings import Settings
from index.embeddings import CachedEmbeddings
from index.factory import make_embedder, open_index
from index.retrieval import HybridRetriever
from llm.factory import build_generators
from llm.protocol import GenerationParams


def build_chain(settings: Settings, qa_source, embedder=None, index=None, generators=None) -> DocentChain:
    """A ready DocentChain. `qa_source` is the fine-tuning set's store (feedback store)."""
    embedder = embedder or CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")
    index = index or open_index(settings)
    retriever = HybridRetriever(index, embedder, candidates=settings.retrieval_candidates)
    router = Router(qa_source, embedder, threshold=settings.router_threshold)
    gens = generators or build_generators(settings)
    options = ChainOptions(
        top_k=settings.retrieval_top_k,
        context_token_budget=settings.context_token_budget,
        max_question_chars=settings.max_question_chars,
        documents_language=settings.documents_language,
        calibration=Calibration.load(settings.calibration_file),
        generation=GenerationParams(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature),
    )
    return DocentChain(retriever, router, gens.rag, gens.finetuned, options, gens.notice)
