"""LangChain prompt templates built from config/prompts.py, and the context block they read."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.prompts import ChatPromptTemplate

from config import prompts
from index.retrieval import Passage
from llm.protocol import ChatMessage

RAG_PROMPT = ChatPromptTemplate.from_messages([("system", prompts.RAG_SYSTEM), ("human", prompts.RAG_USER)])
CONDENSE_PROMPT = ChatPromptTemplate.from_messages(
    [("system", prompts.CONDENSE_SYSTEM), ("human", prompts.CONDENSE_USER)]
)
TRANSLATE_PROMPT = ChatPromptTemplate.from_messages(
    [("system", prompts.TRANSLATE_SYSTEM), ("human", prompts.TRANSLATE_USER)]
)

_ROLE = {"system": "system", "human": "user", "ai": "assistant"}


def to_messages(prompt_value) -> list[ChatMessage]:
    """LangChain messages -> the LLM Protocol's ChatMessages."""
    return [ChatMessage(_ROLE.get(m.type, "user"), str(m.content)) for m in prompt_value.to_messages()]


def context_block(passages: Sequence[Passage], texts: Sequence[str]) -> str:
    """Numbered context: `[n] Title — locator` then the (compressed) passage text."""
    blocks = []
    for i, (p, text) in enumerate(zip(passages, texts), 1):
        where = p.parent.locator()
        blocks.append(f"[{i}] {p.parent.title}{' — ' + where if where else ''}\n{text}")
    return "\n\n".join(blocks)


def history_block(history: Sequence[tuple[str, str]], max_turns: int = 4) -> str:
    lines = []
    for q, a in list(history)[-max_turns:]:
        lines.append(f"User: {q}")
        lines.append(f"Assistant: {a[:500]}")
    return "\n".join(lines)
