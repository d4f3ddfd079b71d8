"""Assemble the answer chain from settings: the one place the CLI, batch and the app build it."""

from __future__ import annotations

from chain.embeddings import CachedEmbeddings, make_embedder
from chain.index.factory import open_index
from chain.index.retrieval import HybridRetriever
from chain.llm.factory import build_generators
from chain.llm.protocol import GenerationParams
from chain.pipeline import ChainOptions, DocentChain
from chain.router import Router
from config.settings import Settings


def seed_qa_set(settings: Settings, store) -> int:
    """Import DOCENT_QA_SET_PATH when the fine-tuning set is empty (a fresh deployment). Returns pairs added."""
    if not settings.qa_set_path or store.list_qa_pairs():
        return 0
    from feedback.records import QAPair
    from finetune.dataset import load_pairs

    pairs, report = load_pairs(settings.qa_set_path)
    if not pairs:
        raise ValueError(f"DOCENT_QA_SET_PATH={settings.qa_set_path}: no pairs could be read.\n{report.render()}")
    result = store.add_qa_pairs([QAPair.new(p.instruction, p.response, context=p.context, images=list(p.images))
                                 for p in pairs])
    return result.added


def build_chain(settings: Settings, qa_source, embedder=None, index=None, generators=None) -> DocentChain:
    """A ready DocentChain. `qa_source` is the fine-tuning set's store (feedback store)."""
    if hasattr(qa_source, "add_qa_pairs"):
        seed_qa_set(settings, qa_source)
    embedder = embedder or CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")
    index = index or open_index(settings)
    retriever = HybridRetriever(index, embedder, candidates=settings.retrieval_candidates)
    router = Router(qa_source, embedder, threshold=settings.router_threshold)
    gens = generators or build_generators(settings)
    options = ChainOptions(
        top_k=settings.retrieval_top_k, context_token_budget=settings.context_token_budget,
        max_question_chars=settings.max_question_chars,
        generation=GenerationParams(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature))
    return DocentChain(retriever, router, gens.rag, gens.finetuned, options, gens.notice)
