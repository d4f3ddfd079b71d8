"""The `local` LLM backend: a transformers causal LM on this machine (a hub id, a folder, or a PEFT
adapter folder from `docent finetune train`). `docent serve-model` serves it over the SageMaker protocol.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker_protocol import StopTrimmer, merge_for_alternation, mistral_prompt

log = logging.getLogger(__name__)


def adapter_base_model(path: str | Path) -> str | None:
    """The base model a PEFT adapter folder was trained on, or None when `path` is not an adapter."""
    config = Path(path) / "adapter_config.json"
    if not config.is_file():
        return None
    try:
        base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except ValueError as exc:
        raise LLMError(f"The adapter config {config} is not valid JSON ({exc}). Re-export the adapter.") from None
    if not base:
        raise LLMError(f"The adapter config {config} does not name its base model (base_model_name_or_path).")
    return str(base)


class LocalLLM:
    """A transformers model generating on this machine, streamed token by token.

    Loads lazily (first call) and once, even from many threads. A folder holding adapter_config.json
    is loaded as its base model plus the PEFT adapter.

    >>> llm = LocalLLM("/models/docent-mistral-lora")                                   # doctest: +SKIP
    >>> "".join(llm.stream([ChatMessage("user", "Hi?")], GenerationParams(max_new_tokens=20)))  # doctest: +SKIP
    'Hello! How can I help?'
    """

    backend = "local"

    def __init__(self, model_id_or_path: str | Path, device: str | None = None):
        self.model = str(model_id_or_path)
        self._device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    # --- loading ------------------------------------------------------------------------------------
    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loading them on first use. Raises LLMError when that fails."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, Any]:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LLMError(
                f"The local model needs torch and transformers ({exc}). pip install -r requirements.txt."
            ) from None
        base = adapter_base_model(self.model) if Path(self.model).is_dir() else None
        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = AutoModelForCausalLM.from_pretrained(base or self.model)
            if base:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.model)
            tokenizer_source = (
                self.model if (Path(self.model) / "tokenizer_config.json").is_file() else (base or self.model)
            )
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
        except Exception as exc:  # OSError, ValueError, ImportError, safetensors errors...
            what = (
                f"the PEFT adapter {self.model!r} (base model {base!r})" if base else f"the local model {self.model!r}"
            )
            raise LLMError(
                f"Could not load {what}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. "
                "Set DOCENT_LOCAL_MODEL to a transformers model id available offline or a local folder."
            ) from None
        model.to(device)
        model.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        log.info("Loaded local model %s on %s", self.model, device)
        return model, tokenizer

    # --- limits (docent serve-model checks requests against them; issue 11) ---------------------------
    def context_limit(self) -> int | None:
        """Tokens the model can attend to (prompt + generated), from its config; None when unknown."""
        model, tokenizer = self.load()
        for value in (
            getattr(model.config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        ):
            if isinstance(value, int) and 0 < value < 10**7:  # tokenizers say 1e30 when they do not know
                return value
        return None

    def count_tokens(self, prompt: str) -> int:
        _, tokenizer = self.load()
        has_bos = bool(tokenizer.bos_token) and prompt.startswith(tokenizer.bos_token)
        return len(tokenizer(prompt, add_special_tokens=not has_bos)["input_ids"])

    # --- prompts ------------------------------------------------------------------------------------
    def build_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The tokenizer's chat template when it has one, else Mistral's instruction format."""
        _, tokenizer = self.load()
        if getattr(tokenizer, "chat_template", None):
            for turns in (messages, merge_for_alternation(messages)):  # some templates refuse a system role
                try:
                    return tokenizer.apply_chat_template(
                        [{"role": m.role, "content": m.content} for m in turns],
                        tokenize=False,
                        add_generation_prompt=True,
                    )
                except Exception as exc:
                    log.debug("chat template refused the messages: %s", exc)
        return mistral_prompt(messages, bos=tokenizer.bos_token or "", eos=tokenizer.eos_token or "")

    # --- generation ---------------------------------------------------------------------------------
    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        yield from self.stream_prompt(self.build_prompt(messages), params)

    def generate_prompt(self, prompt: str, params: GenerationParams) -> str:
        return "".join(self.stream_prompt(prompt, params))

    def stream_prompt(self, prompt: str, params: GenerationParams) -> Iterator[str]:
        """Stream the continuation of an already formatted prompt (what `docent serve-model` receives)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.load()
        has_bos = bool(tokenizer.bos_token) and prompt.startswith(tokenizer.bos_token)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=not has_bos).to(model.device)
        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs: dict[str, Any] = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=params.max_new_tokens,
            stopping_criteria=StoppingCriteriaList([_Cancel()]),
            pad_token_id=tokenizer.pad_token_id,
        )
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p or 1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                if params.seed is not None:  # LMI/TGI `seed`: the same seed samples the same text
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # handed to the consumer below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="docent-local-generate", daemon=True)
        thread.start()
        try:
            yield from StopTrimmer(params.stop).apply(streamer)
            if failure:
                raise LLMError(f"The local model {self.model!r} failed while generating: {failure[0]}")
        finally:
            cancelled.set()  # also when the caller stops reading early
