"""Extractive answers, follow-ups and other languages through the whole chain, over a small index.

The embedder is the toy bag-of-words one, with "minor" and "major" made alike (as a real model
has them) so the follow-up substitution can be seen; the LLM for the translate path is scripted."""

from __future__ import annotations

import re

import numpy as np
import pytest

from chain.language import detect_language, unsupported_language_message
from chain.pipeline import ChainOptions, DocentChain
from chain.router import Router
from config.prompts import NOT_FOUND
from index.embedded import EmbeddedIndex
from index.retrieval import HybridRetriever
from tests.contract.index_contract import make_source
from tests.fixtures.qa import MemoryQA
from tests.fixtures.toy_embedder import ToyEmbedder

SLA_ROWS = (
    "Severity: Critical | Meaning: Docent is down | First response: 30 minutes, 24/7 | Resolution target: 4 hours\n"
    "Severity: Major | Meaning: A wrong answer | First response: 4 business hours | Resolution target: 2 business days\n"
    "Severity: Minor | Meaning: Small inaccuracy | First response: 1 business day | Resolution target: 10 business days"
)
QUEUE = (
    "Review queue\nThe Review answers page shows a queue of answers, newest first, with the number of answers "
    "in the queue above it.\nThe queue shows at most 200 answers. Narrow the dates if you expect more."
)


class AlikeEmbedder(ToyEmbedder):
    """Toy embedder where a few words share most of their vector, as related words do in a real model."""

    ALIKE = {"minor": "severity", "major": "severity"}

    def _word(self, word: str) -> np.ndarray:
        base = super()._word(word)
        if word in self.ALIKE:
            return 0.9 * super()._word(self.ALIKE[word]) + 0.3 * base
        return base


EMB = AlikeEmbedder()


class ScriptedLLM:
    backend, model = "fake", "scripted"

    def __init__(self, *replies):
        self.replies, self.calls = list(replies), []

    def stream(self, messages, params):
        self.calls.append(messages)
        yield self.replies.pop(0) if self.replies else "Die Warteschlange zeigt höchstens 200 Antworten [1]."


@pytest.fixture
def index(tmp_path):
    idx = EmbeddedIndex(tmp_path / "idx")
    idx.ensure_model(EMB.model_id, EMB.dim)
    sources = {
        "support.xlsx": ([("SLA", SLA_ROWS)], "xlsx"),
        "reviewer-guide.html": ([("The review queue", QUEUE)], "html"),
        "hr/leave.md": ([("Annual leave", "Employees get 25 days of annual leave per calendar year.")], "markdown"),
    }
    for source, (sections, kind) in sources.items():
        record, parents, children, _ = make_source(source, sections, kind=kind)
        idx.replace_source(record, parents, children, EMB.embed_documents([c.embedding_text() for c in children]))
    idx.flush()
    return idx


def make_chain(index, llm=None, **options):
    return DocentChain(
        HybridRetriever(index, EMB), Router(MemoryQA(), EMB), rag_llm=llm, options=ChainOptions(top_k=3, **options)
    )


def test_spreadsheet_question_gets_the_cells_asked_for(index):
    result = make_chain(index).answer_sync("first response time for a critical issue?")
    assert not result.abstained
    assert result.answer.startswith("Critical: first response 30 minutes, 24/7 [1]")
    assert "|" not in result.answer
    assert result.references[0].source == "support.xlsx" and result.references[0].n == 1


def test_limit_question_gets_the_sentence_with_the_limit_not_the_heading(index):
    result = make_chain(index).answer_sync("how many answers does the review queue show at most")
    assert "200" in result.answer
    assert not result.answer.startswith("Review queue")
    cited = {r.n: r.source for r in result.references}
    assert all(cited[int(n)] == "reviewer-guide.html" for n in re.findall(r"\[(\d)\]", result.answer))


def test_follow_up_gets_its_own_answer(index):
    chain = make_chain(index)
    first = chain.answer_sync("whats the resolution target for a major docent issue")
    assert "2 business days" in first.answer
    follow = chain.answer_sync("and for minor ones?", history=[(first.question, first.answer)])
    assert follow.standalone_question == "whats the resolution target for a minor docent issue"
    assert "10 business days" in follow.answer and follow.answer != first.answer


def test_question_in_another_language_without_llm_gets_a_message_in_that_language(index):
    result = make_chain(index).answer_sync("wie viele Antworten zeigt die Warteschlange höchstens?")
    assert result.abstained and not result.llm_called
    assert result.answer == unsupported_language_message("de", "en")
    assert "Englisch" in result.answer and NOT_FOUND not in result.answer


def test_question_in_another_language_with_llm_is_translated_and_answered_in_it(index):
    llm = ScriptedLLM(
        "how many answers does the review queue show at most", "Die Warteschlange zeigt höchstens 200 Antworten [1]."
    )
    result = make_chain(index, llm).answer_sync("wie viele Antworten zeigt die Warteschlange höchstens?")
    assert result.standalone_question == "how many answers does the review queue show at most"
    translate, answer = llm.calls
    assert "German" not in translate[0].content and "English" in translate[0].content  # into the documents' language
    assert "wie viele Antworten" in translate[-1].content
    assert "write the answer in German" in answer[0].content
    assert result.answer.startswith("Die Warteschlange") and result.references[0].source == "reviewer-guide.html"


def test_documents_in_another_language_are_configurable(index):
    chain = make_chain(index, documents_language="de")
    result = chain.answer_sync("how many answers does the review queue show at most")
    assert result.abstained and result.answer == unsupported_language_message("en", "de")


def test_english_chat_questions_are_not_mistaken_for_another_language():
    for q in [
        "default opensearch index name?",
        "and for minor ones?",
        "who do i email about gpu quotas",
        "got a phishing mail, which team handles that",
        "whats the default value of the confidence below filter",
    ]:
        assert detect_language(q) == "en", q
    assert detect_language("comment est-ce que je peux noter une réponse ?") == "fr"
    assert detect_language("¿cómo apruebo una corrección en la página de revisión?") == "es"
    assert detect_language("レビューキューには最大何件表示されますか") == "ja"
    assert detect_language("如何导出反馈？") == "zh"
