"""Any Docent LLM backend as a LangChain chat model, so it plugs into LangChain chains and tools.

The adapter only translates: LangChain messages -> ChatMessage, stop/temperature/max_tokens ->
GenerationParams, streamed text -> AIMessageChunk. The backend keeps its own errors (LLMError).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from llm.protocol import ChatMessage, GenerationParams


def to_chat_messages(messages: list[BaseMessage]) -> list[ChatMessage]:
    """LangChain messages as Docent ChatMessages (tool and other messages count as user turns)."""
    out = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, AIMessage):
            role = "assistant"
        else:
            role = "user"
        out.append(ChatMessage(role, message.text))  # type: ignore[arg-type]
    return out


class DocentChatModel(BaseChatModel):
    """A LangChain chat model over any backend implementing llm.protocol.LLM.

    >>> from langchain_core.messages import HumanMessage
    >>> chat = DocentChatModel(llm=LocalLLM("/models/tiny"), max_tokens=32)   # doctest: +SKIP
    >>> chat.invoke([HumanMessage("Where is the VPN guide?")]).content      # doctest: +SKIP
    'The VPN guide is on the IT wiki.'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: Any = Field(description="A Docent LLM backend: has `backend`, `model` and `stream(messages, params)`.")
    max_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 0.9
    stop: list[str] | None = None

    @property
    def model_name(self) -> str:
        return str(getattr(self.llm, "model", ""))

    @property
    def _llm_type(self) -> str:
        return f"docent-{getattr(self.llm, 'backend', 'llm')}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "backend": getattr(self.llm, "backend", None),
            "model": self.model_name,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=f"docent-{getattr(self.llm, 'backend', 'llm')}",
            ls_model_name=str(kwargs.get("model") or self.model_name),
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> GenerationParams:
        return GenerationParams(
            max_new_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=float(kwargs.get("top_p", self.top_p)),
            stop=tuple(stop or self.stop or ()),
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self.llm.stream(to_chat_messages(messages), self._params(stop, kwargs)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                chunk_position="last",
                response_metadata={"model_name": self.model_name, "model_provider": self._llm_type},
            )
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self.llm.stream(to_chat_messages(messages), self._params(stop, kwargs)))
        message = AIMessage(
            content=text, response_metadata={"model_name": self.model_name, "model_provider": self._llm_type}
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


__all__ = ["DocentChatModel", "to_chat_messages"]
