"""`TrainConfig`: every hyperparameter of a LoRA fine-tuning run, with its default and the reason.

Defaults target Mistral-7B-Instruct-v0.2 on one 24 GB GPU (see docs/decisions.md for why each
value was chosen over the seed notebook's). A config file (YAML or JSON) and command-line flags
override them, flags last.

Example::

    from finetune.train_config import TrainConfig, load_train_config

    config = load_train_config("finetune.yaml", {"num_epochs": 5})
    assert config.lora_r == 16
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_BASE_MODEL = "mistralai/Mistral-7B-Instruct-v0.2"


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Hyperparameters of one fine-tuning run (stored verbatim as train_config.json)."""

    data: str = _f("", "Fine-tuning set: CSV or JSONL with instruction,response (optional context, images).")
    output_dir: str = _f("finetune-out", "Where the adapter (or merged model), tokenizer, metrics and log go.")
    base_model: str = _f(DEFAULT_BASE_MODEL, "Hugging Face id or local directory of the base causal LM.")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA scaling alpha (effective scale alpha/r).")
    lora_dropout: float = _f(0.05, "Dropout on the LoRA branch.")
    target_modules: list[str] = _f(["all-linear"], "Modules that get LoRA ('all-linear' = every linear projection).")
    learning_rate: float = _f(2e-4, "Peak learning rate (AdamW).")
    num_epochs: float = _f(3.0, "Passes over the training split.")
    batch_size: int = _f(4, "Examples per device per step.")
    gradient_accumulation_steps: int = _f(4, "Steps accumulated before each optimiser update.")
    max_length: int = _f(1024, "Longest tokenised prompt+answer; longer pairs are reported by validation.")
    warmup_ratio: float = _f(0.03, "Fraction of steps spent warming the learning rate up.")
    lr_scheduler_type: str = _f("cosine", "Learning-rate schedule (transformers SchedulerType name).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    held_out_fraction: float = _f(0.1, "Share of pairs kept out of training to measure exact match and F1.")
    seed: int = _f(42, "Seed for the split, LoRA init and data order.")
    quantization: str = _f("none", "'none' or '4bit' (QLoRA; needs CUDA and bitsandbytes).", choices=["none", "4bit"])
    gradient_checkpointing: bool = _f(True, "Trade compute for memory (used on GPU only).")
    merge: bool = _f(False, "Merge the adapter into the base weights and save a full model.")
    eval_max_new_tokens: int = _f(256, "Longest generated answer when measuring the held-out split.")
    eval_batch_size: int = _f(8, "Prompts generated at once during evaluation.")
    logging_steps: int = _f(10, "Log loss every N optimiser steps.")
    device: str = _f("auto", "'auto', 'cpu' or 'cuda'.", choices=["auto", "cpu", "cuda"])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def config_fields() -> list[tuple[str, type, Any, str, list[str] | None]]:
    """(name, type, default, help, choices) for every TrainConfig field: drives the CLI flags."""
    out = []
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out.append((f.name, f.type, default, f.metadata["help"], f.metadata.get("choices")))
    return out


def _coerce(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(default, list):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]
        return type(default)(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"config value {name}={value!r} is not a valid {type(default).__name__}; fix it in the config file or flag"
        ) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping of TrainConfig fields."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} not found; pass a YAML or JSON file of training settings")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of setting: value, got {type(data).__name__}")
    return data


def load_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the config file, then non-None ``overrides``; unknown keys are refused."""
    values: dict[str, Any] = dict(read_config_file(path)) if path else {}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {name: default for name, _, default, _, _ in config_fields()}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    config = TrainConfig(**{k: _coerce(k, v, known[k]) for k, v in values.items()})
    for name, _, _, _, choices in config_fields():
        if choices and getattr(config, name) not in choices:
            raise ValueError(f"{name}={getattr(config, name)!r} is not one of {', '.join(choices)}")
    if not 0.0 <= config.held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction={config.held_out_fraction} must be in [0, 1)")
    return config
