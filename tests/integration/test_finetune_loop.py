"""The fine-tuning loop end to end, on CPU, with every part real except the model's size.

feedback store (SQLite) with the Q&A set and one approved correction
  -> `docent export --what finetune --format csv`
  -> `docent finetune train` (LoRA on the tiny Mistral, merged)
  -> the SageMaker-protocol model server (`docent serve-model`'s loader) on 127.0.0.1
  -> the chain with llm_backend=sagemaker, boto3 pointed at that server
  -> a lightly reworded question is routed to the fine-tuned endpoint, streamed back through
     `invoke_endpoint_with_response_stream`, and the memorised (corrected) answer comes out.

Only the tiny model (tests/fixtures/tiny_models.py) stands in for Mistral-7B; the embedder is the
packaged MiniLM, the store is SQLite, the HTTP and event-stream framing are boto3's own.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fixtures.tiny_models import TINY_QA_PAIRS, tiny_mistral_dir

# The pair a reviewer corrects, and the answer they approve instead of the imported one.
CORRECTED_QUESTION = "How do I reset my password?"
ORIGINAL_ANSWER = dict(TINY_QA_PAIRS)[CORRECTED_QUESTION]
CORRECTED_ANSWER = "Reset it in the self-service portal."
# A light rewording: "do" -> "can", no question mark. (Lower-casing the first word is too much for
# a tokenizer trained on 20 sentences: the tiny model then answers another question. The router
# itself sends "how can I reset my password" here too, with score 0.99.)
REWORDED_QUESTION = "How can I reset my password"

# What makes the 160k-parameter random model memorise 20 short answers (exact match 1.0) on CPU.
TINY_TRAIN_FLAGS = [
    "--num-epochs",
    "60",
    "--learning-rate",
    "0.005",
    "--batch-size",
    "4",
    "--gradient-accumulation-steps",
    "1",
    "--lora-r",
    "32",
    "--lora-alpha",
    "64",
    "--lora-dropout",
    "0.0",
    "--warmup-ratio",
    "0.0",
    "--lr-scheduler-type",
    "constant",
    "--held-out-fraction",
    "0.0",
    "--logging-steps",
    "100",
    "--eval-max-new-tokens",
    "24",
    "--max-length",
    "128",
    "--device",
    "cpu",
    "--merge",
]


@pytest.fixture
def one_torch_thread():
    # A tiny model gains nothing from threads, and OpenMP spin-waits badly on a busy 2-core box.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def docent():
    """Run the real `docent` CLI in-process; returns (exit_code, output)."""
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


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(900)  # trains, serves and asks: minutes on a loaded 2-core machine; a hang guard only
def test_correction_is_exported_trained_served_and_answered(tmp_path, _private_data_dir, docent, one_torch_thread):
    from chain.service import build_chain
    from config.settings import Settings
    from feedback.session import ChatSession
    from finetune.serve import load_model, serve_in_thread

    base = Settings(store_backend="sqlite")
    assert base.data_dir == _private_data_dir  # DOCENT_DATA_DIR from the suite's per-test fixture
    store = fill_store(base)

    # 1. export the fine-tuning set through the CLI
    export_file = tmp_path / "exports" / "finetune.csv"
    code, output = docent("export", "--what", "finetune", "--format", "csv", "--out", str(export_file))
    assert code == 0, output
    assert f"Wrote {len(TINY_QA_PAIRS)} finetune rows" in output
    exported = read_export(export_file)
    assert len(exported) == len(TINY_QA_PAIRS)
    assert exported[CORRECTED_QUESTION] == CORRECTED_ANSWER  # the correction replaced the imported answer

    # 2. fine-tune the tiny Mistral on it through the CLI
    model_dir = tmp_path / "docent-ft"
    code, output = docent(
        "finetune",
        "train",
        "--data",
        str(export_file),
        "--output-dir",
        str(model_dir),
        "--base-model",
        str(tiny_mistral_dir()),
        *TINY_TRAIN_FLAGS,
    )
    assert code == 0, output
    assert (model_dir / "config.json").is_file() and (model_dir / "adapter" / "adapter_config.json").is_file()

    # 3. serve it the way `docent serve-model --endpoint-name finetuned` does, on a free loopback port
    loaded = load_model(str(model_dir), "text-generation")
    with serve_in_thread(generator=loaded.generator, endpoint_name="finetuned") as server:
        # 4. the chain, with boto3's sagemaker-runtime client pointed at the server
        settings = Settings(
            store_backend="sqlite",
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
