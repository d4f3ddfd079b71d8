"""LoRA supervised fine-tuning of an instruction model (Mistral-7B-Instruct by default) with TRL + PEFT.

The loss is on the answer only: each pair becomes a prompt-completion record whose prompt is the
model's own chat template rendered up to the generation prompt (or ``<s>[INST] q [/INST]`` when
the tokenizer has none) and whose completion is the rest of the rendered conversation; TRL's
``completion_only_loss`` then masks the prompt tokens.

The output directory receives the adapter (or the merged model with ``merge``), the tokenizer,
``train_config.json``, ``data_hash``, ``metrics.json`` (exact match and token F1 on the held-out
split, greedy) and ``training_log.jsonl``.

Runs as ``docent finetune train ...``, as ``python -m finetune.train ...`` and as a SageMaker
training-job entry point (reads ``SM_CHANNEL_TRAIN`` / ``SM_MODEL_DIR`` when no paths are given).

Example::

    from finetune.train import run_training
    from finetune.train_config import TrainConfig

    result = run_training(TrainConfig(data="qa.csv", output_dir="out", base_model="/models/mistral"))
    print(result.metrics["token_f1"])
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (SageMaker entry point): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.errors import DocentError  # noqa: E402
from feedback.qa_file import QARow, Split, data_hash, load_pairs, split_pairs, validate_pairs  # noqa: E402
from finetune.evaluate import generate_answers, score  # noqa: E402
from finetune.progress import progress_callback  # noqa: E402
from finetune.train_config import TrainConfig, config_fields, load_train_config  # noqa: E402

log = logging.getLogger("docent.finetune")

FALLBACK_PROMPT = "<s>[INST] {question} [/INST]"
FALLBACK_COMPLETION = " {answer}</s>"


class TrainingError(DocentError, RuntimeError):
    """A problem the user can fix (bad data, missing GPU for QLoRA, ...); the message says how."""


@dataclass
class TrainResult:
    output_dir: Path
    metrics: dict[str, Any]
    data_hash: str
    seconds_per_epoch: float


# ---------------------------------------------------------------- prompt formatting (pure)


def user_message(pair: QARow) -> str:
    if pair.context:
        return f"{pair.context}\n\n{pair.instruction}"
    return pair.instruction


def format_prompt(tokenizer, pair: QARow) -> str:
    """The text the model sees before its answer, exactly as at inference time."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user_message(pair)}], tokenize=False, add_generation_prompt=True
        )
    return FALLBACK_PROMPT.format(question=user_message(pair))


def to_prompt_completion(tokenizer, pair: QARow) -> dict[str, str]:
    """One TRL prompt-completion record; the completion ends with the EOS token."""
    prompt = format_prompt(tokenizer, pair)
    if getattr(tokenizer, "chat_template", None):
        full = tokenizer.apply_chat_template(
            [{"role": "user", "content": user_message(pair)}, {"role": "assistant", "content": pair.response}],
            tokenize=False,
        )
        if full.startswith(prompt):
            return {"prompt": prompt, "completion": full[len(prompt) :]}
        log.warning("chat template renders the prompt differently alone; using the [INST] format")
        prompt = FALLBACK_PROMPT.format(question=user_message(pair))
    return {"prompt": prompt, "completion": FALLBACK_COMPLETION.format(answer=pair.response)}


# ---------------------------------------------------------------- environment checks


def resolve_device(config: TrainConfig) -> str:
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or a GPU machine")
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def check_qlora_available() -> None:
    """Raise TrainingError unless 4-bit QLoRA can run here (CUDA GPU + bitsandbytes)."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise TrainingError("--quantization 4bit (QLoRA) needs a CUDA GPU; none is visible. Use --quantization none.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise TrainingError("--quantization 4bit needs bitsandbytes: pip install bitsandbytes (on the GPU machine).")


# ---------------------------------------------------------------- training


def _seed_everything(seed: int) -> None:
    import torch
    from transformers import set_seed

    random.seed(seed)
    set_seed(seed)
    torch.manual_seed(seed)


def _load_model(config: TrainConfig, device: str):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if config.quantization == "4bit":
        check_qlora_available()
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": 0}
    elif device == "cuda":
        kwargs["dtype"] = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
    except OSError as exc:
        raise TrainingError(
            f"could not load base model '{config.base_model}': {exc}. Pass --base-model a local directory or a "
            "Hugging Face id reachable from this machine (set HF_TOKEN for gated models)."
        ) from exc
    if config.quantization == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif device == "cuda":
        model.to("cuda")
    return model


def prepare_data(config: TrainConfig, tokenizer) -> tuple[Split, str, list[str]]:
    """Load, validate and split the set. Raises TrainingError with the full report on any error."""
    pairs, report = load_pairs(config.data)
    if pairs or report.ok:
        report = report.merge(
            validate_pairs(
                pairs,
                max_tokens=config.max_length,
                count_tokens=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 8,
                source=str(config.data),
            )
        )
    if not report.ok:
        raise TrainingError(report.render())
    warnings = [p.render(report.source) for p in report.warnings]
    if any(p.images for p in pairs):
        warnings.append(f"warning: {config.data}: 'images' are recorded but not used; this model reads text only")
    split = split_pairs(pairs, config.held_out_fraction, config.seed)
    if split.evaluate_on_train:
        warnings.append(
            f"warning: {config.data}: {len(pairs)} pairs is too few to hold any out; metrics are measured on the "
            "training pairs and only show memorisation"
        )
    return split, data_hash(pairs), warnings


def run_training(config: TrainConfig, echo: Callable[[str], None] = print) -> TrainResult:
    """Fine-tune, evaluate and save everything into ``config.output_dir``."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not config.data:
        raise TrainingError("no fine-tuning set given; pass --data qa.csv (CSV or JSONL with instruction,response)")
    device = resolve_device(config)
    if config.quantization == "4bit":
        check_qlora_available()
        if config.merge:
            raise TrainingError(
                "--merge with --quantization 4bit is not supported: merge needs full-precision "
                "weights; train with --quantization none, or merge the adapter later on a bigger box"
            )
    _seed_everything(config.seed)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "training_log.jsonl"
    log_path.write_text("", encoding="utf-8")

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    split, digest, warnings = prepare_data(config, tokenizer)
    for warning in warnings:
        echo(warning)
    echo(f"data: {len(split.train)} train, {len(split.held_out)} held out, sha256 {digest[:12]}")

    train_records = [to_prompt_completion(tokenizer, p) for p in split.train]
    model = _load_model(config, device)
    use_cuda = device == "cuda"
    sft_args = SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.num_epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float < 1 is a ratio of total steps
        weight_decay=config.weight_decay,
        max_length=config.max_length,
        completion_only_loss=True,
        packing=False,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        bf16=use_cuda and _bf16_ok(),
        fp16=use_cuda and not _bf16_ok(),
        use_cpu=not use_cuda,
        gradient_checkpointing=use_cuda and config.gradient_checkpointing,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    peft_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules[0] if config.target_modules == ["all-linear"] else config.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=sft_args,
        train_dataset=Dataset.from_list(train_records),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[progress_callback(log_path, echo)],
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # ProgressCallback already prints each log line
    started = time.monotonic()
    train_output = trainer.train()
    train_seconds = time.monotonic() - started
    seconds_per_epoch = train_seconds / max(config.num_epochs, 1e-9)

    eval_pairs = split.eval_pairs
    echo(f"evaluating on {len(eval_pairs)} {'training' if split.evaluate_on_train else 'held-out'} pairs")
    predictions = generate_answers(
        trainer.model,
        tokenizer,
        [format_prompt(tokenizer, p) for p in eval_pairs],
        max_new_tokens=config.eval_max_new_tokens,
        batch_size=config.eval_batch_size,
    )
    metrics = {
        **score(predictions, [p.response for p in eval_pairs]),
        "evaluated_on": "train" if split.evaluate_on_train else "held_out",
        "train_pairs": len(split.train),
        "held_out_pairs": len(split.held_out),
        "train_loss": train_output.training_loss,
        "train_seconds": round(train_seconds, 3),
        "seconds_per_epoch": round(seconds_per_epoch, 3),
        "device": device,
        "data_hash": digest,
        "samples": [
            {"question": p.instruction, "expected": p.response, "generated": g}
            for p, g in list(zip(eval_pairs, predictions, strict=True))[:20]
        ],
    }
    _save_outputs(trainer, tokenizer, config, out, digest, metrics)
    echo(f"exact match {metrics['exact_match']:.3f}, token F1 {metrics['token_f1']:.3f}; saved to {out}")
    return TrainResult(output_dir=out, metrics=metrics, data_hash=digest, seconds_per_epoch=seconds_per_epoch)


def _bf16_ok() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _save_outputs(trainer, tokenizer, config: TrainConfig, out: Path, digest: str, metrics: dict) -> None:
    import shutil

    model = trainer.model
    if config.merge:
        model.save_pretrained(out / "adapter")
        merged = model.merge_and_unload()
        merged.save_pretrained(out)
    else:
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "train_config.json").write_text(config.to_json() + "\n", encoding="utf-8")
    (out / "data_hash").write_text(digest + "\n", encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out / "checkpoints", ignore_errors=True)


# ---------------------------------------------------------------- script entry point (SageMaker)


def _sagemaker_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """Inside a SageMaker training job, read data from the 'train' channel and write to SM_MODEL_DIR."""
    channel = os.environ.get("SM_CHANNEL_TRAIN")
    if not values.get("data") and channel:
        found = sorted(p for p in Path(channel).iterdir() if p.suffix.lower() in (".csv", ".jsonl"))
        if found:
            values["data"] = str(found[0])
    if not values.get("output_dir") and os.environ.get("SM_MODEL_DIR"):
        values["output_dir"] = os.environ["SM_MODEL_DIR"]
    return values


def config_from_argv(argv: list[str] | None = None) -> TrainConfig:
    """Parse script flags (``--lora-r 8`` or SageMaker's ``--lora_r 8``) into a TrainConfig."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m finetune.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML or JSON file of settings; flags override it")
    for name, _type, default, help_text, choices in config_fields():
        flags = ["--" + name.replace("_", "-")] + (["--" + name] if "_" in name else [])  # SageMaker passes --lora_r
        kind = str if isinstance(default, list | bool) else type(default)
        parser.add_argument(
            *flags, dest=name, type=kind, default=None, choices=choices, help=f"{help_text} (default {default})"
        )
    args = vars(parser.parse_args(argv))
    config_path = args.pop("config")
    return load_train_config(config_path, _sagemaker_defaults(args))


def main(argv: list[str] | None = None) -> int:
    try:
        result = run_training(config_from_argv(argv))
    except (TrainingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in result.metrics.items() if k != "samples"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
