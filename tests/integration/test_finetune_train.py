"""LoRA fine-tuning end to end on the tiny random Mistral, on CPU: it must memorise 20 pairs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from feedback.qa_file import QARow, data_hash
from finetune.evaluate import score
from finetune.train import TrainingError, run_training
from finetune.train_config import TrainConfig, load_train_config
from tests.fixtures.tiny_models import TINY_QA_PAIRS, tiny_mistral_dir

# Settings that make a 160k-parameter random model memorise 20 short answers in a few seconds.
TINY_SETTINGS = dict(
    num_epochs=30,
    learning_rate=5e-3,
    batch_size=4,
    gradient_accumulation_steps=1,
    lora_r=32,
    lora_alpha=64,
    lora_dropout=0.0,
    warmup_ratio=0.0,
    lr_scheduler_type="constant",
    held_out_fraction=0.0,
    logging_steps=25,
    eval_max_new_tokens=24,
    max_length=128,
    device="cpu",
)


def write_csv(path: Path, pairs) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "response"])
        writer.writerows(pairs)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # A 160k-parameter model gains nothing from threads, and OpenMP spin-waits badly on a busy 2-core box.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("ft")
    config = TrainConfig(
        data=str(write_csv(root / "qa.csv", TINY_QA_PAIRS)),
        output_dir=str(root / "out"),
        base_model=str(tiny_mistral_dir()),
        **TINY_SETTINGS,
    )
    lines: list[str] = []
    result = run_training(config, echo=lines.append)
    print(f"tiny model: {result.seconds_per_epoch:.3f} s per epoch")
    return config, result, lines


@pytest.mark.slow
def test_memorises_the_training_pairs(trained):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    config, result, _ = trained
    assert result.metrics["evaluated_on"] == "train"
    assert result.metrics["token_f1"] >= 0.9
    out = Path(config.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoPeftModelForCausalLM.from_pretrained(out)
    # The adapter reloaded from disk answers the training questions as well as the model did in training.
    generated = []
    for question, _ in TINY_QA_PAIRS:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        generated.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    reloaded = score(generated, [answer for _, answer in TINY_QA_PAIRS])
    assert reloaded["token_f1"] >= 0.9, reloaded
    assert reloaded["exact_match"] >= 0.5, list(zip(generated, TINY_QA_PAIRS, strict=True))


@pytest.mark.slow
def test_output_dir_holds_everything_needed_to_reproduce(trained):
    config, result, lines = trained
    out = Path(config.output_dir)
    names = {p.name for p in out.iterdir()}
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "train_config.json",
        "data_hash",
        "metrics.json",
        "training_log.jsonl",
    } <= names
    assert "checkpoints" not in names and "config.json" not in names
    assert load_train_config(out / "train_config.json") == config
    expected_hash = data_hash([QARow(q, a) for q, a in TINY_QA_PAIRS])
    assert (out / "data_hash").read_text().strip() == expected_hash == result.data_hash
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 20 and metrics["data_hash"] == expected_hash
    assert metrics["samples"][0]["expected"] == TINY_QA_PAIRS[0][1]
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert any("loss" in record for record in log)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 32 and adapter["base_model_name_or_path"] == config.base_model
    assert any("too few to hold any out" in line for line in lines)
    assert any("eta" in line for line in lines)


@pytest.mark.slow
def test_cli_train_with_merge_saves_a_loadable_full_model(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM
    from typer.testing import CliRunner

    from cli.finetune import finetune_app

    data = write_csv(tmp_path / "qa.csv", TINY_QA_PAIRS[:8])
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(
        "num_epochs: 1\nbatch_size: 4\ngradient_accumulation_steps: 1\nlogging_steps: 1\n"
        "eval_max_new_tokens: 4\ndevice: cpu\n"
    )
    out = tmp_path / "merged"
    result = CliRunner().invoke(
        finetune_app,
        [
            "train",
            "--config",
            str(cfg),
            "--data",
            str(data),
            "--output-dir",
            str(out),
            "--base-model",
            str(tiny_mistral_dir()),
            "--merge",
            "--lora-r",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "seconds per epoch" in result.output
    assert (out / "config.json").is_file() and (out / "adapter" / "adapter_config.json").is_file()
    assert json.loads((out / "train_config.json").read_text())["lora_r"] == 4
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())
    output = model.generate(torch.tensor([[1, 3]]), max_new_tokens=3, do_sample=False)
    assert output.shape == (1, 5)


def test_bad_data_fails_before_training_with_the_whole_report(tmp_path):
    data = write_csv(tmp_path / "qa.csv", [("Q1?", "A1."), ("", "A2."), ("Q1?", "again")])
    config = TrainConfig(
        data=str(data), output_dir=str(tmp_path / "out"), base_model=str(tiny_mistral_dir()), device="cpu"
    )
    with pytest.raises(TrainingError) as info:
        run_training(config, echo=lambda _: None)
    message = str(info.value)
    assert "qa.csv:3: empty question" in message and "qa.csv:4: duplicate question (first seen on line 2)" in message
    assert not (tmp_path / "out" / "adapter_model.safetensors").exists()
