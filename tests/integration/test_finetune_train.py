"""LoRA fine-tuning end to end on the tiny random Mistral, on CPU, and the loop it closes.

One training serves the module (minutes on a loaded 2-core machine, so it runs once):

feedback store (SQLite) with the Q&A set and one approved correction
  -> `docent export --what finetune --format csv`
  -> `docent finetune train --config ft.yaml ... --merge` (LoRA on the tiny Mistral, merged)
  -> it memorised the pairs (the adapter reloaded from disk), the merged model loads without LoRA layers
  -> the SageMaker-protocol model server (`docent serve-model`'s loader) on 127.0.0.1
  -> the chain with llm_backend=sagemaker, boto3 pointed at that server
  -> a lightly reworded question is routed to the fine-tuned endpoint, streamed back through
     `invoke_endpoint_with_response_stream`, and the memorised (corrected) answer comes out.

Only the tiny model (tests/fixtures/tiny_models.py) stands in for Mistral-7B; the embedder is the
packaged MiniLM, the store is SQLite, the HTTP and event-stream framing are boto3's own. The output
folder's layout without --merge is checked on a one-epoch run through the Python API.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedback.qa_file import QARow, data_hash
from finetune.evaluate import score
from finetune.train import TrainingError, run_training
from finetune.train_config import TrainConfig, load_train_config
from tests.fixtures.tiny_models import TINY_QA_PAIRS, tiny_mistral_dir

pytestmark = pytest.mark.integration

# The pair a reviewer corrects, and the answer they approve instead of the imported one.
CORRECTED_QUESTION = "How do I reset my password?"
ORIGINAL_ANSWER = dict(TINY_QA_PAIRS)[CORRECTED_QUESTION]
CORRECTED_ANSWER = "Reset it in the self-service portal."
# A light rewording: "do" -> "can", no question mark. (Lower-casing the first word is too much for
# a tokenizer trained on 20 sentences: the tiny model then answers another question. The router
# itself sends "how can I reset my password" here too, with score 0.99.)
REWORDED_QUESTION = "How can I reset my password"

# What makes the 160k-parameter random model memorise 20 short answers (exact match 1.0) on CPU. The
# YAML's lora_r is overridden on the command line (the flag wins), the rest comes from the file.
TINY_CONFIG_YAML = """\
num_epochs: 60
learning_rate: 0.005
batch_size: 4
gradient_accumulation_steps: 1
lora_r: 4
lora_alpha: 64
lora_dropout: 0.0
warmup_ratio: 0.0
lr_scheduler_type: constant
held_out_fraction: 0.0
logging_steps: 100
eval_max_new_tokens: 24
max_length: 128
device: cpu
"""

# The same model and adapter shape for the one-epoch layout check through the Python API.
BRIEF_SETTINGS = dict(
    num_epochs=1,
    learning_rate=5e-3,
    batch_size=4,
    gradient_accumulation_steps=1,
    lora_r=32,
    lora_alpha=64,
    lora_dropout=0.0,
    warmup_ratio=0.0,
    lr_scheduler_type="constant",
    held_out_fraction=0.0,
    logging_steps=1,
    eval_max_new_tokens=4,
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


def docent_cli():
    """Run the real `docent` CLI in-process; returns run(*args) -> (exit_code, output)."""
    from cli.main import _register_all, app

    if not app.registered_commands:  # another test module may have registered them already
        _register_all()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return run


def fill_store(settings):
    """The Q&A set as imported pairs, then one reviewed turn whose approved correction replaces a pair."""
    from feedback.factory import open_store
    from feedback.records import Feedback, QAPair, Turn

    store = open_store(settings)
    added = store.add_qa_pairs([QAPair.new(q, a, origin="import") for q, a in TINY_QA_PAIRS])
    assert (added.added, added.duplicates) == (len(TINY_QA_PAIRS), 0)

    turn = Turn.new(
        session_id="review-1",
        user="ana",
        question=CORRECTED_QUESTION,
        answer=ORIGINAL_ANSWER,
        route="finetuned",
        confidence=0.9,
        matched_question=CORRECTED_QUESTION,
    )
    store.save_turn(turn)
    store.save_feedback(
        Feedback.new(
            turn_id=turn.turn_id,
            reviewer="bo",
            kind="review",
            likert=2,
            severity="minor",
            corrected_answer=CORRECTED_ANSWER,
            approved=True,
        )
    )
    replaced = store.add_qa_pairs(
        [QAPair.new(CORRECTED_QUESTION, CORRECTED_ANSWER, origin="correction", source_turn_id=turn.turn_id)],
        replace=True,
    )
    assert replaced.replaced == 1, replaced.message
    return store


def read_export(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"instruction", "response"}, rows[:1]
    return {row["instruction"]: row["response"] for row in rows}


def token_f1(predicted: str, expected: str) -> float:
    from collections import Counter

    p, e = predicted.lower().split(), expected.lower().split()
    common = sum((Counter(p) & Counter(e)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(e)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Loop:
    data_dir: Path
    exported: dict[str, str]  # question -> answer, as the export wrote them
    model_dir: Path
    train_output: str


@pytest.fixture(scope="module")
def loop(tmp_path_factory, one_torch_thread):
    """Store -> `docent export` -> `docent finetune train --merge`, once for the module."""
    from config.settings import Settings, get_settings

    root = tmp_path_factory.mktemp("loop")
    docent = docent_cli()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCENT_DATA_DIR", str(root / "data"))
        patch.chdir(root)
        get_settings.cache_clear()
        try:
            fill_store(Settings(store_backend="sqlite")).close()

            # 1. export the fine-tuning set through the CLI
            export_file = root / "exports" / "finetune.csv"
            code, output = docent("export", "--what", "finetune", "--format", "csv", "--out", str(export_file))
            assert code == 0, output
            assert f"Wrote {len(TINY_QA_PAIRS)} finetune rows" in output

            # 2. fine-tune the tiny Mistral on it through the CLI: a YAML config, one flag over it, merged
            config_file = root / "ft.yaml"
            config_file.write_text(TINY_CONFIG_YAML, encoding="utf-8")
            model_dir = root / "docent-ft"
            code, output = docent(
                "finetune",
                "train",
                "--config",
                str(config_file),
                "--data",
                str(export_file),
                "--output-dir",
                str(model_dir),
                "--base-model",
                str(tiny_mistral_dir()),
                "--lora-r",
                "32",
                "--merge",
            )
            assert code == 0, output
        finally:
            get_settings.cache_clear()
    return Loop(root / "data", read_export(export_file), model_dir, output)


@pytest.fixture(scope="module")
def brief(tmp_path_factory, one_torch_thread):
    """One epoch through the Python API, adapter only (no --merge): the output folder's layout."""
    root = tmp_path_factory.mktemp("brief")
    config = TrainConfig(
        data=str(write_csv(root / "qa.csv", TINY_QA_PAIRS)),
        output_dir=str(root / "out"),
        base_model=str(tiny_mistral_dir()),
        **BRIEF_SETTINGS,
    )
    lines: list[str] = []
    result = run_training(config, echo=lines.append)
    return config, result, lines


@pytest.mark.slow
def test_the_export_carries_the_approved_correction(loop):
    assert len(loop.exported) == len(TINY_QA_PAIRS)
    assert loop.exported[CORRECTED_QUESTION] == CORRECTED_ANSWER  # the correction replaced the imported answer
    assert "seconds per epoch" in loop.train_output


@pytest.mark.slow
def test_memorises_the_training_pairs(loop):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    metrics = json.loads((loop.model_dir / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "train"
    assert metrics["token_f1"] >= 0.9
    tokenizer = AutoTokenizer.from_pretrained(loop.model_dir)
    model = AutoPeftModelForCausalLM.from_pretrained(loop.model_dir / "adapter")
    # The adapter reloaded from disk answers the training questions as well as the model did in training.
    questions, answers = list(loop.exported), list(loop.exported.values())
    generated = []
    for question in questions:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        generated.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    reloaded = score(generated, answers)
    assert reloaded["token_f1"] >= 0.9, reloaded
    assert reloaded["exact_match"] >= 0.5, list(zip(generated, answers, strict=True))


@pytest.mark.slow
def test_cli_train_with_merge_saves_a_loadable_full_model(loop):
    import torch
    from transformers import AutoModelForCausalLM

    assert (loop.model_dir / "config.json").is_file() and (loop.model_dir / "adapter" / "adapter_config.json").is_file()
    saved = json.loads((loop.model_dir / "train_config.json").read_text())
    assert saved["lora_r"] == 32  # the flag over the YAML
    assert saved["num_epochs"] == 60  # from the YAML
    model = AutoModelForCausalLM.from_pretrained(loop.model_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    output = model.generate(torch.tensor([[1, 3]]), max_new_tokens=3, do_sample=False)
    assert output.shape == (1, 5)


@pytest.mark.slow
def test_correction_is_served_and_answered(loop):
    from chain.service import build_chain
    from config.settings import Settings
    from feedback.factory import open_store
    from feedback.session import ChatSession
    from finetune.serve import load_model, serve_in_thread

    model_dir = loop.model_dir
    store = open_store(Settings(store_backend="sqlite", data_dir=loop.data_dir))

    # 3. serve it the way `docent serve-model --endpoint-name finetuned` does, on a free loopback port
    loaded = load_model(str(model_dir), "text-generation")
    with serve_in_thread(generator=loaded.generator, endpoint_name="finetuned") as server:
        # 4. the chain, with boto3's sagemaker-runtime client pointed at the server
        settings = Settings(
            store_backend="sqlite",
            data_dir=loop.data_dir,
            llm_backend="sagemaker",
            sagemaker_rag_endpoint="rag",
            sagemaker_finetuned_endpoint="finetuned",
            sagemaker_endpoint_url=server.url,
            temperature=0.0,
            max_new_tokens=32,
        )
        chain = build_chain(settings, store)  # empty embedded index: this question is the Q&A set's
        operations: list[str] = []
        chain.finetuned_llm.client.meta.events.register(
            "before-call.sagemaker-runtime.*", lambda model, **_: operations.append(model.name)
        )

        decision = chain.router.route(REWORDED_QUESTION, chain.retriever.embedder.embed_query(REWORDED_QUESTION))
        assert decision.route == "finetuned", (decision.score, decision.features)
        assert decision.pair.question == CORRECTED_QUESTION

        # 5. ask the reworded question in a chat session
        session = ChatSession(chain, store, "s1", user="ana")
        events = list(session.ask(REWORDED_QUESTION))

    routes = [e.data for e in events if e.kind == "route"]
    tokens = [e.text for e in events if e.kind == "token"]
    result = next(e.result for e in events if e.kind == "final")
    assert routes[0]["route"] == "finetuned" and routes[0]["matched_question"] == CORRECTED_QUESTION
    assert operations == ["InvokeEndpointWithResponseStream"]
    assert len(tokens) >= 2, tokens  # streamed piece by piece, not the stored answer in one event
    assert result.route == "finetuned" and result.llm_called is True and result.notice is None
    assert (result.backend, result.model) == ("sagemaker", "finetuned")
    assert result.answer == "".join(tokens).strip()
    assert token_f1(result.answer, CORRECTED_ANSWER) >= 0.9, result.answer
    assert result.answer == CORRECTED_ANSWER  # the reviewer's wording, not the imported answer

    saved = store.get_turn(session.last_turn_id)
    assert saved is not None and saved.route == "finetuned" and saved.backend == "sagemaker"
    assert saved.answer == result.answer
    store.close()


@pytest.mark.slow
def test_output_dir_holds_everything_needed_to_reproduce(brief):
    config, result, lines = brief
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
