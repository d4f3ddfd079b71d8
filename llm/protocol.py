"""The LLM Protocol every generator backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from config.errors import DocentError


@dataclass
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 0.9
    stop: tuple[str, ...] = ()
    seed: int | None = None  # LMI/TGI `seed`: repeatable sampling (issue 11)


class LLMError(DocentError):
    """A generator failed; the message is fit to show a person (no traceback, what to do)."""


class LLM(Protocol):
    """A streaming text generator.

    `backend` names the kind ("sagemaker", "local", ...); `model` the model or endpoint id, both
    stored with each answer so it can be reproduced.
    """

    backend: str
    model: str

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        """Yield text pieces as they are generated. Raises LLMError on failure."""
        ...
