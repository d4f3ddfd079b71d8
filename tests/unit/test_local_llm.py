"""LocalLLM (llm/local.py) with the tiny random Mistral built offline by tests/fixtures."""

from __future__ import annotations

import json
import threading

import pytest

from llm.local import LocalLLM, adapter_base_model
from llm.protocol import ChatMessage, GenerationParams, LLMError
from tests.fixtures.tiny_models import tiny_mistral_dir

GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0)
QUESTION = [ChatMessage("user", "How many days of annual leave do I get?")]


@pytest.fixture(scope="module")
def tiny_dir():
    return tiny_mistral_dir()


@pytest.fixture(scope="module")
def tiny_llm(tiny_dir):
    llm = LocalLLM(tiny_dir, device="cpu")
    llm.load()  # the one-off torch/transformers import lands in setup, not in the first test
    return llm


def test_streams_text_pieces_and_greedy_is_reproducible(tiny_llm):
    pieces = list(tiny_llm.stream(QUESTION, GREEDY))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(tiny_llm.stream(QUESTION, GREEDY)) == "".join(pieces)
    assert tiny_llm.backend == "local" and tiny_llm.model.endswith("docent-tiny-mistral")


def test_max_new_tokens_bounds_the_answer(tiny_llm):
    _, tokenizer = tiny_llm.load()
    short = "".join(tiny_llm.stream(QUESTION, GenerationParams(max_new_tokens=3, temperature=0.0)))
    assert len(tokenizer(short, add_special_tokens=False)["input_ids"]) <= 4  # re-tokenising may merge/split one
    assert "".join(tiny_llm.stream(QUESTION, GREEDY)).startswith(short)


def test_chat_template_is_used_and_system_message_folded_in(tiny_llm):
    prompt = tiny_llm.build_prompt([ChatMessage("system", "Be brief."), *QUESTION])
    # The tiny template refuses a system role, so it is folded into the first user turn.
    assert prompt == "<s>[INST] Be brief.\n\nHow many days of annual leave do I get? [/INST]"


def test_without_chat_template_falls_back_to_mistral_format(tiny_dir):
    llm = LocalLLM(tiny_dir, device="cpu")
    llm.load()[1].chat_template = None
    prompt = llm.build_prompt([*QUESTION, ChatMessage("assistant", "25."), ChatMessage("user", "And sick days?")])
    assert prompt == "<s>[INST] How many days of annual leave do I get? [/INST] 25.</s>[INST] And sick days? [/INST]"


def test_prompt_with_bos_is_not_given_a_second_bos(tiny_llm):
    model, tokenizer = tiny_llm.load()
    ids = tokenizer("<s>[INST] x [/INST]", add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == 1
    # stream_prompt on the formatted prompt equals stream on the messages
    assert tiny_llm.generate_prompt(tiny_llm.build_prompt(QUESTION), GREEDY) == "".join(
        tiny_llm.stream(QUESTION, GREEDY)
    )


def test_stop_sequence_cuts_the_answer(tiny_llm):
    full = "".join(tiny_llm.stream(QUESTION, GenerationParams(max_new_tokens=10, temperature=0.0)))
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop, full
    cut = "".join(tiny_llm.stream(QUESTION, GenerationParams(max_new_tokens=10, temperature=0.0, stop=(stop,))))
    assert cut == full[: full.index(stop)]


def test_sampling_path_runs(tiny_llm):
    text = "".join(tiny_llm.stream(QUESTION, GenerationParams(max_new_tokens=5, temperature=0.8, top_p=0.9)))
    assert isinstance(text, str)


def test_missing_model_raises_llm_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-model"
    missing.mkdir()
    with pytest.raises(LLMError, match="no-such-model.*DOCENT_LOCAL_MODEL"):
        list(LocalLLM(missing).stream(QUESTION, GREEDY))


def test_peft_adapter_folder_loads_base_then_adapter(tiny_dir, tiny_llm, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    adapter = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapter.save_pretrained(tmp_path / "adapter")  # LoRA B starts at zero: same outputs as the base
    assert adapter_base_model(tmp_path / "adapter") == str(tiny_dir)

    llm = LocalLLM(tmp_path / "adapter", device="cpu")
    model, tokenizer = llm.load()
    assert isinstance(model, PeftModel)
    assert tokenizer.chat_template  # the base's tokenizer, since the adapter folder has none
    assert "".join(llm.stream(QUESTION, GREEDY)) == "".join(tiny_llm.stream(QUESTION, GREEDY))


def test_adapter_with_missing_base_names_the_base(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone")}))
    with pytest.raises(LLMError, match="PEFT adapter.*gone"):
        LocalLLM(tmp_path).load()


def test_concurrent_first_use_loads_once(tiny_dir, monkeypatch):
    llm = LocalLLM(tiny_dir, device="cpu")
    calls = []
    real_load = llm._load

    def counting_load():
        calls.append(1)
        return real_load()

    monkeypatch.setattr(llm, "_load", counting_load)
    results = []
    threads = [threading.Thread(target=lambda: results.append(llm.load())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)
