"""Build the configured generators from settings, falling back visibly when one cannot load."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from llm.protocol import LLM, LLMError


@dataclass
class Generators:
    rag: LLM | None  # None: extractive answers
    finetuned: LLM | None  # None: the stored answer of the matched pair
    notice: str | None = None  # shown with every answer when a configured model is unavailable


def build_generators(settings: Settings, sagemaker_client=None) -> Generators:
    rag: LLM | None = None
    notice = None
    if settings.llm_backend == "local":
        from llm.local import LocalLLM

        llm = LocalLLM(settings.local_model)
        try:
            llm.load()
            rag = llm
        except LLMError as exc:
            notice = (
                f"The local model '{settings.local_model}' could not be loaded ({exc}). "
                "Docent is answering with quotes from the documents instead."
            )
    elif settings.llm_backend == "sagemaker":
        from llm.sagemaker import SageMakerLLM

        rag = SageMakerLLM.from_settings(settings, "rag", client=sagemaker_client)
    elif settings.llm_backend in ("bedrock", "openai"):
        # Generation settings (DOCENT_TEMPERATURE, DOCENT_MAX_NEW_TOKENS) travel per call as GenerationParams.
        try:
            if settings.llm_backend == "bedrock":
                from llm.bedrock import BedrockLLM

                rag = BedrockLLM.from_settings(settings)
            else:
                from llm.openai_compat import OpenAICompatLLM

                rag = OpenAICompatLLM.from_settings(settings)
        except LLMError as exc:
            notice = (
                f"The {settings.llm_backend} model could not be set up ({exc}) "
                "Docent is answering with quotes from the documents instead."
            )
    finetuned: LLM | None = None
    if settings.sagemaker_finetuned_endpoint:
        from llm.sagemaker import SageMakerLLM

        finetuned = SageMakerLLM.from_settings(settings, "finetuned", client=sagemaker_client)
    return Generators(rag, finetuned, notice)
