"""The `local` backend end to end: a tiny transformers model answers through the chain, and a model
that cannot be loaded leaves Docent running with extractive answers and a visible notice."""

from __future__ import annotations

import pytest

from chain.service import build_chain
from config.settings import Settings
from llm.factory import build_generators
from tests.contract.index_contract import EMB
from tests.fixtures.qa import MemoryQA
from tests.fixtures.small_index import small_index
from tests.fixtures.tiny_models import tiny_mistral_dir


@pytest.fixture
def index(tmp_path):
    return small_index(tmp_path / "idx")


def test_unloadable_local_model_falls_back_with_a_notice(tmp_path, index):
    settings = Settings(data_dir=tmp_path, llm_backend="local", local_model=str(tmp_path / "no-such-model"))
    gens = build_generators(settings)
    assert gens.rag is None
    assert "could not be loaded" in gens.notice and "no-such-model" in gens.notice
    chain = build_chain(settings, MemoryQA(), embedder=EMB, index=index, generators=gens)
    result = chain.answer_sync("how many days of annual leave")
    assert result.backend == "extractive" and "25 days" in result.answer
    assert result.notice == gens.notice


def test_tiny_local_model_answers_through_the_chain(tmp_path, index):
    import torch

    torch.set_num_threads(1)
    settings = Settings(
        data_dir=tmp_path, llm_backend="local", local_model=str(tiny_mistral_dir()), max_new_tokens=12, temperature=0.0
    )
    gens = build_generators(settings)
    assert gens.rag is not None and gens.notice is None
    chain = build_chain(settings, MemoryQA(), embedder=EMB, index=index, generators=gens)
    events = list(chain.answer("how many days of annual leave do employees get"))
    result = events[-1].result
    assert result.llm_called and result.backend == "local" and result.route == "rag"
    assert any(e.kind == "token" for e in events[1:-1])
    assert result.references and result.references[0].source == "hr/leave.md"
