"""TrainConfig loading, answer metrics and prompt formatting for training."""

from __future__ import annotations

import json

import pytest

from feedback.qa_file import QARow
from finetune.evaluate import exact_match, normalise_answer, score, token_f1
from finetune.train_config import TrainConfig, config_fields, load_train_config


def test_defaults_are_the_documented_lora_choices():
    config = TrainConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 32, 0.05)
    assert config.target_modules == ["all-linear"]
    assert config.learning_rate == 2e-4
    assert config.base_model == "mistralai/Mistral-7B-Instruct-v0.2"


def test_every_field_has_help():
    assert all(help_text for _, _, _, help_text, _ in config_fields())


def test_yaml_file_then_flags_override(tmp_path):
    path = tmp_path / "ft.yaml"
    path.write_text("lora_r: 8\nlearning_rate: 0.001\ntarget_modules: [q_proj, v_proj]\nmerge: true\n")
    config = load_train_config(path, {"lora_r": 4, "num_epochs": None})
    assert config.lora_r == 4 and config.learning_rate == 0.001
    assert config.target_modules == ["q_proj", "v_proj"] and config.merge is True
    assert config.num_epochs == 3.0


def test_json_file_and_string_coercion(tmp_path):
    path = tmp_path / "ft.json"
    path.write_text(json.dumps({"merge": "false", "target_modules": "q_proj,k_proj", "num_epochs": "2"}))
    config = load_train_config(path)
    assert config.merge is False and config.target_modules == ["q_proj", "k_proj"] and config.num_epochs == 2.0


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lora_rank": 8}, "unknown training setting(s) lora_rank"),
        ({"lora_r": "eight"}, "lora_r='eight' is not a valid int"),
        ({"quantization": "8bit"}, "quantization='8bit' is not one of none, 4bit"),
        ({"held_out_fraction": 1.5}, "held_out_fraction=1.5 must be in [0, 1)"),
    ],
)
def test_bad_settings_are_refused_with_their_name(values, message):
    with pytest.raises(ValueError) as info:
        load_train_config(None, values)
    assert message in str(info.value)


def test_round_trip_through_train_config_json(tmp_path):
    config = TrainConfig(lora_r=8, data="qa.csv")
    path = tmp_path / "train_config.json"
    path.write_text(config.to_json())
    assert load_train_config(path) == config


def test_metrics():
    assert normalise_answer("The  Office, opens!") == "office opens"
    assert exact_match("Payday is the last day.", "payday is last day")
    assert not exact_match("Payday is Friday.", "Payday is Monday.")
    assert token_f1("office opens at 7", "office opens at 7") == 1.0
    assert token_f1("nothing shared", "office opens") == 0.0
    assert token_f1("office opens at 7 am sharp", "office opens at 7 am") == pytest.approx(
        2 * (5 / 6) * 1 / (5 / 6 + 1)
    )
    result = score(["a b", "x"], ["a b", "y"])
    assert result == {"exact_match": 0.5, "token_f1": 0.5, "n": 2}
    with pytest.raises(ValueError):
        score(["a"], [])


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import AutoTokenizer

    from tests.fixtures.tiny_models import tiny_mistral_dir

    return AutoTokenizer.from_pretrained(tiny_mistral_dir())


def test_prompt_completion_uses_the_chat_template_and_splits_at_the_answer(tiny_tokenizer):
    from finetune.train import format_prompt, to_prompt_completion

    pair = QARow("Who runs onboarding?", "The people team.")
    record = to_prompt_completion(tiny_tokenizer, pair)
    assert record == {"prompt": "<s>[INST] Who runs onboarding? [/INST]", "completion": " The people team.</s>"}
    assert format_prompt(tiny_tokenizer, pair) == record["prompt"]


def test_context_goes_before_the_question(tiny_tokenizer):
    from finetune.train import to_prompt_completion

    record = to_prompt_completion(tiny_tokenizer, QARow("Q?", "A.", context="Handbook p.3"))
    assert record["prompt"] == "<s>[INST] Handbook p.3\n\nQ? [/INST]"


def test_fallback_format_without_a_chat_template(tiny_tokenizer):
    from finetune.train import to_prompt_completion

    template = tiny_tokenizer.chat_template
    tiny_tokenizer.chat_template = None
    try:
        record = to_prompt_completion(tiny_tokenizer, QARow("Q?", "A."))
    finally:
        tiny_tokenizer.chat_template = template
    assert record == {"prompt": "<s>[INST] Q? [/INST]", "completion": " A.</s>"}


def test_qlora_without_cuda_is_a_clear_error():
    import torch

    from finetune.train import TrainingError, check_qlora_available

    if torch.cuda.is_available():
        pytest.skip("CUDA present: QLoRA may be available")
    with pytest.raises(TrainingError, match="needs a CUDA GPU"):
        check_qlora_available()
