"""The answer chain: clean -> condense -> embed once -> retrieve -> route -> (fine-tuned | RAG) -> result.

Each step is a plain function over a dict state; `as_runnable()` composes them with LangChain
Runnables, and `answer()` streams ChainEvents from that composition. The app, the CLI and batch
all call `answer()`.

>>> # chain = build_chain(settings, store)          (chain/service.py)
>>> # for event in chain.answer("how do I book leave?", history=[]): ...
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from chain import prompts
from chain.calibration import Calibration
from chain.compression import compress
from chain.condense import condense_fallback, looks_like_follow_up
from chain.confidence import band, finetuned_confidence, rag_confidence
from chain.evidence import AbstainDecision, AbstainPolicy, decide_abstain, evidence_features, rescued
from chain.extractive import Choice, gather, pick, score
from chain.language import ENGLISH_NAMES, detect_language, unsupported_language_message
from chain.router import Router
from chain.types import AnswerResult, ChainEvent, Reference, Retrieved
from config.errors import DocentError
from config.prompts import ANSWER_LANGUAGE, NOT_FOUND
from index.retrieval import HybridRetriever, Passage
from index.text import query_terms
from llm.protocol import LLM, ChatMessage, GenerationParams, LLMError


class InvalidQuestion(DocentError, ValueError):
    """The question cannot be answered as typed; the message says what to change."""


# controls, zero-width characters and bidirectional overrides/isolates (issue 11: U+202A-202E and
# U+2066-2069 showed reversed text to reviewers); the same set as config/text.py
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]"
)


def clean_question(question: str, max_chars: int) -> str:
    if question is None:
        raise InvalidQuestion("The question is empty: type a question and send it again.")
    text = unicodedata.normalize("NFKC", str(question))
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InvalidQuestion("The question is empty: type a question and send it again.")
    if len(text) > max_chars:
        raise InvalidQuestion(
            f"The question is {len(text)} characters long; the limit is {max_chars}. Shorten it "
            "(ask about one thing at a time) or raise DOCENT_MAX_QUESTION_CHARS."
        )
    return text


@dataclass
class ChainOptions:
    top_k: int = 5
    retrieved_k: int = 10  # passages ranked and reported in AnswerResult.retrieved; the first top_k are used
    context_token_budget: int = 1800
    max_question_chars: int = 2000
    generation: GenerationParams = field(default_factory=GenerationParams)
    abstain: AbstainPolicy = field(default_factory=AbstainPolicy)
    # issue 10 (answers): the documents' language (ISO 639-1) and how many passages an extractive answer reads
    documents_language: str = "en"
    answer_passages: int = 3
    # issue 10 (confidence): raw score -> probability the answer is right; identity until fitted
    calibration: Calibration = field(default_factory=Calibration)


_CITATION = re.compile(r"\[(\d{1,2})\]")


def cited_passages(answer: str, n: int) -> list[int]:
    """0-based indices of the passages an answer cites, in order of first citation."""
    seen: list[int] = []
    for m in _CITATION.finditer(answer):
        i = int(m.group(1)) - 1
        if 0 <= i < n and i not in seen:
            seen.append(i)
    return seen


def references_for(passages: Sequence[Passage], indices: Sequence[int]) -> list[Reference]:
    refs = []
    for i in indices:
        p = passages[i]
        refs.append(
            Reference(
                source=p.parent.source,
                title=p.parent.title,
                locator=p.parent.locator(),
                url=p.parent.url,
                score=round(float(p.score), 6),
                snippet=p.parent.text[:300],
                n=i + 1,
            )
        )
    return refs


def retrieved_list(passages: Sequence[Passage]) -> list[Retrieved]:
    return [
        Retrieved(
            source=p.parent.source, locator=p.parent.locator(), score=round(float(p.score), 6), title=p.parent.title
        )
        for p in passages
    ]


class DocentChain:
    def __init__(
        self,
        retriever: HybridRetriever,
        router: Router,
        rag_llm: LLM | None = None,
        finetuned_llm: LLM | None = None,
        options: ChainOptions | None = None,
        notice: str | None = None,
    ):
        self.retriever = retriever
        self.router = router
        self.rag_llm = rag_llm
        self.finetuned_llm = finetuned_llm
        self.options = options or ChainOptions()
        self.notice = notice
        self._runnable = self.as_runnable()

    # -- steps (plain functions over a state dict) ---------------------------------------------
    def prepare(self, state: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        question = clean_question(state["question"], self.options.max_question_chars)
        history: Sequence[tuple[str, str]] = state.get("history") or ()
        standalone = question
        docs_language = self.options.documents_language
        language = detect_language(question, default=docs_language)
        if language != docs_language and self.rag_llm is not None:
            # the condense step translates: retrieval, routing and the evidence check read the documents' language
            standalone = self._condense_with_llm(question, history, translate_to=docs_language) or question
        elif history:
            if self.rag_llm is not None:
                standalone = self._condense_with_llm(question, history) or question
            else:
                previous = [q for q, _ in history]
                related = self._word_similarity(question, previous[-1]) if looks_like_follow_up(question) else None
                standalone = condense_fallback(question, previous, related)
        vector = self.retriever.embedder.embed_query(standalone)
        return {
            **state,
            "question": question,
            "standalone": standalone,
            "vector": vector,
            "t0": t0,
            "language": language,
            "timings": {"embed": (time.perf_counter() - t0) * 1000},
        }

    def retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        ranked = self.retriever.retrieve(
            state["standalone"],
            max(self.options.top_k, self.options.retrieved_k),
            state.get("filters"),
            vector=state["vector"],
        )
        state["timings"]["retrieve"] = (time.perf_counter() - t) * 1000
        return {**state, "passages": ranked[: self.options.top_k], "retrieved": ranked[: self.options.retrieved_k]}

    def route(self, state: dict[str, Any]) -> dict[str, Any]:
        """Route with the question's vector (computed once, shared with retrieval)."""
        t = time.perf_counter()
        decision = self.router.route(state["standalone"], state["vector"])
        state["timings"]["route"] = (time.perf_counter() - t) * 1000
        if decision.route == "finetuned":
            return {**state, "decision": decision}
        index = self.retriever.index
        evidence = state["passages"][: self.options.abstain.evidence_passages]
        features = evidence_features(
            state["standalone"], evidence, index.term_stats, index.similar_terms, ranked=state["passages"]
        )
        verdict = decide_abstain(features, self.options.abstain)
        choice = None
        if verdict.abstain and not verdict.clear_cut and self.options.abstain.rescue_support is not None:
            # the chunks look weak: does one sentence of them answer directly? (only refusals pay for this)
            choice = self._extractive(state, state["passages"])
            if rescued(verdict, choice.support, self.options.abstain):
                verdict = AbstainDecision(False, "a sentence of the passages answers the question directly")
        state["timings"]["route"] = (time.perf_counter() - t) * 1000
        return {**state, "decision": decision, "evidence": features, "verdict": verdict, "choice": choice}

    def generate(self, states: Iterator[dict[str, Any]]) -> Iterator[ChainEvent]:
        for state in states:
            decision = state["decision"]
            yield ChainEvent(
                "route",
                data={
                    "route": decision.route,
                    "matched_question": getattr(decision.pair, "question", None),
                    "match_similarity": round(decision.similarity, 4),
                    "standalone_question": state["standalone"],
                },
            )
            if state["language"] != self.options.documents_language and self.rag_llm is None:
                yield from self._unsupported_language(state)
            elif decision.route == "finetuned":
                yield from self._finetuned(state)
            else:
                yield from self._rag(state)

    def as_runnable(self) -> Runnable:
        return (
            RunnableLambda(self.prepare)
            | RunnableLambda(self.retrieve)
            | RunnableLambda(self.route)
            | RunnableGenerator(self.generate)
        )

    # -- public entry ------------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[tuple[str, str]] = (), filters=None) -> Iterator[ChainEvent]:
        """Stream events: one "route", then "token"s, then one "final" carrying the AnswerResult.

        Raises InvalidQuestion (before any event) for an empty or over-long question."""
        clean_question(question, self.options.max_question_chars)  # fail fast, outside the runnable
        yield from self._runnable.stream({"question": question, "history": list(history), "filters": filters})

    def answer_sync(self, question: str, history: Sequence[tuple[str, str]] = (), filters=None) -> AnswerResult:
        result = None
        for event in self.answer(question, history, filters):
            if event.kind == "final":
                result = event.result
        assert result is not None
        return result

    # -- routes ------------------------------------------------------------------------------
    def _finetuned(self, state: dict[str, Any]) -> Iterator[ChainEvent]:
        decision = state["decision"]
        pair = decision.pair
        t = time.perf_counter()
        notice = self.notice
        llm_called = False
        backend, model = "qa-set", "stored answer"
        text = ""
        if self.finetuned_llm is not None:
            try:
                for piece in self.finetuned_llm.stream(
                    [ChatMessage("user", state["standalone"])], self.options.generation
                ):
                    llm_called = True
                    text += piece
                    yield ChainEvent("token", text=piece)
                backend, model = self.finetuned_llm.backend, self.finetuned_llm.model
            except LLMError as exc:
                notice = f"The fine-tuned model failed ({exc}); showing the stored answer instead."
                text = ""
        if not text.strip():
            text = pair.answer
            yield ChainEvent("token", text=text)
        ref = Reference(
            source=f"qa:{pair.pair_id}",
            title=f"Q&A set: {pair.question}",
            locator="fine-tuning pair",
            url=None,
            score=round(decision.similarity, 4),
            snippet=pair.answer[:300],
            n=1,
        )
        confidence = finetuned_confidence(decision.score)
        state["timings"]["generate"] = (time.perf_counter() - t) * 1000
        yield self._final(
            state,
            text.strip(),
            "finetuned",
            False,
            confidence,
            [ref],
            llm_called,
            backend,
            model,
            notice,
            images=list(getattr(pair, "images", None) or []),
        )

    def _rag(self, state: dict[str, Any]) -> Iterator[ChainEvent]:
        passages: list[Passage] = state["passages"]
        verdict = state["verdict"]
        t = time.perf_counter()
        notice = self.notice
        if verdict.abstain or not passages:
            state["timings"]["generate"] = 0.0
            yield from self._refuse(state, passages, verdict.reason, notice)
            return
        text, llm_called, backend, model = "", False, "extractive", "extractive"
        support = None  # the quote's score, when the answer is a quote
        if self.rag_llm is not None:
            try:
                texts = compress(state["standalone"], passages, self.options.context_token_budget)
                messages = prompts.to_messages(
                    prompts.RAG_PROMPT.invoke(
                        {"context": prompts.context_block(passages, texts), "question": state["standalone"]}
                    )
                )
                if state["language"] != self.options.documents_language:
                    name = ENGLISH_NAMES.get(state["language"], state["language"])
                    messages[0].content += "\n" + ANSWER_LANGUAGE.format(language=name)
                for piece in self.rag_llm.stream(messages, self.options.generation):
                    llm_called = True
                    text += piece
                    yield ChainEvent("token", text=piece)
                backend, model = self.rag_llm.backend, self.rag_llm.model
            except LLMError as exc:
                notice = f"The language model failed ({exc}); answering with quotes from the documents instead."
                text = ""
        if not text.strip():
            ext = state.get("choice") or self._extractive(state, passages)
            state["choice"] = ext
            floor = self.options.abstain.support_floor(getattr(state.get("evidence"), "chunks", None))
            if ext.text and floor is not None and ext.support < floor:
                # the passages share words with the question, but no sentence of them answers it
                state["timings"]["generate"] = (time.perf_counter() - t) * 1000
                yield from self._refuse(state, passages, "no sentence of the passages answers the question", notice)
                return
            support = ext.support if ext.text else None
            text, used = ext.text, ext.used
            if not text:
                text, used = passages[0].parent.text[:600], [0]
            yield ChainEvent("token", text=text)
        else:
            used = cited_passages(text, len(passages)) or list(range(len(passages)))
        text = text.strip()
        abstained = text.startswith(NOT_FOUND)
        conf = rag_confidence(state["evidence"], passages, abstained, support)
        state["timings"]["generate"] = (time.perf_counter() - t) * 1000
        yield self._final(
            state, text, "rag", abstained, conf, references_for(passages, used), llm_called, backend, model, notice
        )

    def _refuse(self, state: dict[str, Any], passages: Sequence[Passage], reason: str, notice) -> Iterator[ChainEvent]:
        """Say plainly that the documents do not answer, with the closest documents as references."""
        text = f"{NOT_FOUND} ({reason}.)"
        if passages:
            closest = "; ".join(dict.fromkeys(p.parent.title for p in passages[:3]))
            text += f" The closest documents are: {closest}."
        yield ChainEvent("token", text=text)
        conf = rag_confidence(state["evidence"], passages, abstained=True)
        refs = references_for(passages, range(min(3, len(passages))))
        yield self._final(state, text, "rag", True, conf, refs, False, "none", "", notice)

    def _final(
        self, state, text, route, abstained, confidence, refs, llm_called, backend, model, notice, images=None
    ) -> ChainEvent:
        decision = state["decision"]
        timings = state["timings"]
        timings["total"] = (time.perf_counter() - state["t0"]) * 1000
        raw = confidence
        if not abstained:  # an abstention's score says how weak the evidence was, not how right an answer is
            confidence = self.options.calibration.apply(route, raw)
        result = AnswerResult(
            question=state["question"],
            standalone_question=state["standalone"],
            answer=text,
            route=route,
            abstained=abstained,
            confidence=confidence,
            confidence_band=band(confidence),
            references=refs,
            matched_question=getattr(decision.pair, "question", None),
            match_similarity=round(decision.similarity, 4) if decision.pair is not None else None,
            llm_called=llm_called,
            backend=backend,
            model=model,
            index_version=self._index_version(),
            images=images or [],
            timings_ms={k: round(v, 2) for k, v in timings.items()},
            notice=notice,
            retrieved=retrieved_list(state.get("retrieved") or ()),
            raw_confidence=raw,
        )
        return ChainEvent("final", result=result)

    def _index_version(self) -> str:
        info = self.retriever.index.info()
        return info.version if info else ""

    def _extractive(self, state: dict[str, Any], passages: Sequence[Passage]) -> Choice:
        """Quote what answers: candidates of the best passages, embedded in one batch, scored, picked."""
        question = state["standalone"]
        cands = gather(question, passages[: self.options.answer_passages])
        if not cands:
            return Choice("")
        vectors = self.retriever.embedder.embed_documents([c.candidate.text for c in cands])
        for c, sim in zip(cands, vectors @ state["vector"]):
            c.similarity = float(sim)
        history = state.get("history") or ()
        avoid = [history[-1][1]] if history and question != state["question"] else []
        return pick(score(question, cands), question, avoid)

    def _word_similarity(self, question: str, previous: str):
        """Cosine between single words of the follow-up and the previous question (one embedding batch)."""
        words = list(dict.fromkeys(query_terms(question) + query_terms(previous)))
        if not words:
            return None
        table = dict(zip(words, self.retriever.embedder.embed_documents(words)))
        return lambda a, b: float(table[a] @ table[b]) if a in table and b in table else 0.0

    def _unsupported_language(self, state: dict[str, Any]) -> Iterator[ChainEvent]:
        """No language model to translate with: say so in the user's language, with the closest documents."""
        text = unsupported_language_message(state["language"], self.options.documents_language)
        yield ChainEvent("token", text=text)
        state["timings"]["generate"] = 0.0
        passages = state["passages"]
        refs = references_for(passages, range(min(3, len(passages))))
        yield self._final(state, text, "rag", True, 0.0, refs, False, "none", "", self.notice)

    def _condense_with_llm(
        self, question: str, history: Sequence[tuple[str, str]], translate_to: str | None = None
    ) -> str:
        assert self.rag_llm is not None
        if translate_to is not None:
            messages = prompts.to_messages(
                prompts.TRANSLATE_PROMPT.invoke(
                    {
                        "history": prompts.history_block(history) or "(none)",
                        "question": question,
                        "language": ENGLISH_NAMES.get(translate_to, translate_to),
                    }
                )
            )
        else:
            messages = prompts.to_messages(
                prompts.CONDENSE_PROMPT.invoke({"history": prompts.history_block(history), "question": question})
            )
        try:
            text = "".join(self.rag_llm.stream(messages, GenerationParams(max_new_tokens=96, temperature=0.0)))
        except LLMError:
            return condense_fallback(question, [q for q, _ in history])
        text = text.strip().strip('"').splitlines()[0].strip() if text.strip() else ""
        return text or condense_fallback(question, [q for q, _ in history])
