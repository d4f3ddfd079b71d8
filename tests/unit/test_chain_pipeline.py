"""The answer chain end to end over a small embedded index, with a toy embedder and fake LLMs."""

from __future__ import annotations

import pytest

from chain.pipeline import ChainOptions, DocentChain, InvalidQuestion, cited_passages, clean_question
from chain.router import Router
from index.retrieval import HybridRetriever
from llm.protocol import LLMError
from tests.contract.index_contract import EMB
from tests.fixtures.qa import MemoryQA
from tests.fixtures.small_index import small_index


class ScriptedLLM:
    backend, model = "fake", "scripted"

    def __init__(self, pieces, fail=False):
        self.pieces, self.fail, self.calls = pieces, fail, []

    def stream(self, messages, params):
        self.calls.append(messages)
        if self.fail:
            raise LLMError("endpoint down")
        yield from self.pieces


@pytest.fixture
def index(tmp_path):
    return small_index(tmp_path / "idx")


@pytest.fixture
def qa():
    return MemoryQA()


def make_chain(index, qa, **kw):
    return DocentChain(HybridRetriever(index, EMB), Router(qa, EMB), options=ChainOptions(top_k=3), **kw)


def test_extractive_rag_answer_cites_the_right_page(index, qa):
    result = make_chain(index, qa).answer_sync("How many days of annual leave do employees get?")
    assert result.route == "rag" and not result.abstained and not result.llm_called
    assert "25 days" in result.answer
    assert result.references[0].source == "hr/leave.md"
    assert result.references[0].url == "hr/leave.md#page=1"
    assert result.backend == "extractive"
    assert 0 <= result.confidence <= 1 and result.confidence_band in ("high", "medium", "low")
    assert set(result.timings_ms) >= {"route", "retrieve", "generate", "total"}
    assert result.index_version == index.info().version


def test_retrieved_lists_passages_considered_beyond_the_ones_used(index, qa):
    chain = DocentChain(HybridRetriever(index, EMB), Router(qa, EMB), options=ChainOptions(top_k=1, retrieved_k=4))
    result = chain.answer_sync("How many days of annual leave do employees get?")
    assert result.retrieved[0].source == "hr/leave.md" and result.retrieved[0].locator
    assert 1 < len(result.retrieved) <= 4
    assert [r.score for r in result.retrieved] == sorted((r.score for r in result.retrieved), reverse=True)
    assert {r.source for r in result.references} <= {r.source for r in result.retrieved[:1]}
    assert result.to_dict()["retrieved"][0] == {
        "source": "hr/leave.md",
        "locator": result.retrieved[0].locator,
        "score": result.retrieved[0].score,
        "title": result.retrieved[0].title,
    }


def test_events_stream_route_then_tokens_then_final(index, qa):
    events = list(make_chain(index, qa).answer("how do I submit expense claims"))
    kinds = [e.kind for e in events]
    assert kinds[0] == "route" and kinds[-1] == "final" and "token" in kinds
    assert "".join(e.text for e in events if e.kind == "token").strip() == events[-1].result.answer


def test_out_of_scope_question_abstains_without_llm(index, qa):
    llm = ScriptedLLM(["should not be called"])
    result = make_chain(index, qa, rag_llm=llm).answer_sync("What is the kubernetes helm chart rollback procedure?")
    assert result.abstained and result.route == "rag"
    assert not result.llm_called and llm.calls == []
    assert result.answer.startswith("I could not find this in the documents.")
    assert result.confidence <= 0.25


def test_finetuned_route_returns_stored_answer_with_match(index, qa):
    qa.add("How do I reset my badge PIN?", "Visit the security desk with photo ID.")
    result = make_chain(index, qa).answer_sync("How do I reset my badge PIN?")
    assert result.route == "finetuned"
    assert result.answer == "Visit the security desk with photo ID."
    assert result.matched_question == "How do I reset my badge PIN?"
    assert result.match_similarity > 0.99
    assert result.references[0].source.startswith("qa:")


def test_finetuned_route_streams_from_endpoint_when_configured(index, qa):
    qa.add("How do I reset my badge PIN?", "Visit the security desk with photo ID.")
    ft = ScriptedLLM(["Go to ", "the security desk."])
    result = make_chain(index, qa, finetuned_llm=ft).answer_sync("How do I reset my badge PIN?")
    assert result.answer == "Go to the security desk." and result.llm_called and result.backend == "fake"
    assert ft.calls[0][0].content == "How do I reset my badge PIN?"


def test_router_uses_new_pairs_immediately(index, qa):
    chain = make_chain(index, qa)
    assert chain.answer_sync("Where do I pick up a parking permit?").route == "rag"
    qa.add("Where do I pick up a parking permit?", "At reception, building B.")
    assert chain.answer_sync("Where do I pick up a parking permit?").route == "finetuned"


def test_llm_answer_keeps_only_cited_references(index, qa):
    llm = ScriptedLLM(["Employees get 25 days [2]."])
    result = make_chain(index, qa, rag_llm=llm).answer_sync("annual leave days and sick leave reporting")
    assert result.llm_called and result.backend == "fake"
    assert [r.n for r in result.references] == [2]
    prompt = llm.calls[0][-1].content
    assert "[1]" in prompt and "Question: annual leave days and sick leave reporting" in prompt


def test_llm_failure_falls_back_to_extractive_with_notice(index, qa):
    result = make_chain(index, qa, rag_llm=ScriptedLLM([], fail=True)).answer_sync("annual leave days per year")
    assert "25 days" in result.answer and result.backend == "extractive"
    assert "endpoint down" in result.notice


def test_follow_up_uses_history_without_llm(index, qa):
    chain = make_chain(index, qa)
    first = chain.answer_sync("How do I set up the VPN client?")
    follow = chain.answer_sync("and what if it drops?", history=[(first.standalone_question, first.answer)])
    assert "vpn" in follow.standalone_question.lower()
    assert follow.references[0].source == "it/vpn.md"


@pytest.mark.parametrize("bad", ["", "   \n\t ", "\x00\x01"])
def test_empty_questions_get_a_clear_message(index, qa, bad):
    with pytest.raises(InvalidQuestion, match="empty"):
        list(make_chain(index, qa).answer(bad))


def test_overlong_question_names_the_limit(index, qa):
    chain = make_chain(index, qa)
    with pytest.raises(InvalidQuestion, match="limit is 2000"):
        chain.answer_sync("leave " * 500)


def test_control_characters_are_stripped():
    assert clean_question("annual\x00 leave\u200b days\x07?", 100) == "annual leave days ?"


def test_cited_passages_ignores_out_of_range_numbers():
    assert cited_passages("a [2] b [9] c [1][2]", 3) == [1, 0]


def test_qa_set_path_seeds_an_empty_set_once(tmp_path):
    from config.settings import Settings
    from feedback.factory import open_store
    from feedback.qa_seed import seed_qa_set

    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("instruction,response\nWhere is the canteen?,Building C.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "d", qa_set_path=csv_path)
    store = open_store(settings)
    assert seed_qa_set(settings, store) == 1
    assert seed_qa_set(settings, store) == 0
    assert [p.answer for p in store.list_qa_pairs()] == ["Building C."]


def test_dynamodb_without_region_is_refused_with_the_fix():
    from config.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="DOCENT_AWS_REGION"):
        load_settings(store_backend="dynamodb")
