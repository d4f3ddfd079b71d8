"""SageMakerLLM against `docent serve-model` on loopback, through real boto3 and botocore's parsers.

The server runs the tiny random Mistral (tests/fixtures/tiny_models.py) via LocalLLM, or a scripted
model when a test needs failures (mid-stream errors, throttling).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from config.settings import load_settings
from finetune.serve import serve_in_thread
from llm.local import LocalLLM
from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker import SageMakerLLM
from llm.sagemaker_protocol import LMIHandler
from tests.fixtures.model_server import ScriptedModel, runtime_client
from tests.fixtures.tiny_models import tiny_mistral_dir

ENDPOINT = "docent-tiny"
GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0)
QUESTION = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Where is the VPN guide?")]


@pytest.fixture(scope="module")
def tiny_llm():
    llm = LocalLLM(tiny_mistral_dir(), device="cpu")
    llm.load()
    return llm


@pytest.fixture(scope="module")
def tiny_server(tiny_llm):
    with serve_in_thread(generator=tiny_llm, endpoint_name=ENDPOINT) as running:
        yield running


class LLMContract:
    """What every LLM backend must do. A subclass provides the `llm` fixture."""

    def test_backend_and_model_are_named(self, llm):
        assert isinstance(llm.backend, str) and llm.backend
        assert isinstance(llm.model, str) and llm.model

    def test_stream_yields_non_empty_text_pieces(self, llm):
        pieces = list(llm.stream(QUESTION, GREEDY))
        assert pieces and all(isinstance(p, str) and p for p in pieces)

    def test_greedy_generation_is_reproducible(self, llm):
        assert "".join(llm.stream(QUESTION, GREEDY)) == "".join(llm.stream(QUESTION, GREEDY))

    def test_stop_sequence_is_honoured(self, llm):
        full = "".join(llm.stream(QUESTION, GenerationParams(max_new_tokens=10, temperature=0.0)))
        stop = full[len(full) // 2 : len(full) // 2 + 2]
        cut = "".join(llm.stream(QUESTION, GenerationParams(max_new_tokens=10, temperature=0.0, stop=(stop,))))
        assert cut == full[: full.index(stop)]


class TestSageMakerLLMContract(LLMContract):
    @pytest.fixture
    def llm(self, tiny_server):
        return SageMakerLLM(ENDPOINT, client=runtime_client(tiny_server.url))


class TestLocalLLMContract(LLMContract):
    @pytest.fixture
    def llm(self, tiny_llm):
        return tiny_llm


# --- the same answer locally, streamed and invoked through SageMaker --------------------------------


def test_streamed_and_invoked_answers_equal_the_local_model(tiny_server, tiny_llm):
    llm = SageMakerLLM(ENDPOINT, client=runtime_client(tiny_server.url))
    local = "".join(tiny_llm.stream(QUESTION, GREEDY))
    assert "".join(llm.stream(QUESTION, GREEDY)) == local
    assert llm.invoke(QUESTION, GREEDY) == local
    assert (
        "".join(
            SageMakerLLM(ENDPOINT, client=runtime_client(tiny_server.url), streaming=False).stream(QUESTION, GREEDY)
        )
        == local
    )


def test_stream_response_carries_the_runtime_headers(tiny_server):
    client = runtime_client(tiny_server.url)
    body = LMIHandler().encode_request(QUESTION, GREEDY, stream=True)
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=ENDPOINT, Body=body, ContentType="application/json"
    )
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == "application/jsonlines"
    events = list(response["Body"])
    assert events and all(set(e) == {"PayloadPart"} for e in events)


def test_default_client_is_built_from_settings(tiny_server, monkeypatch):
    monkeypatch.setenv("DOCENT_SAGEMAKER_ENDPOINT_URL", tiny_server.url)
    monkeypatch.setenv("DOCENT_AWS_REGION", "eu-west-1")
    monkeypatch.setenv("DOCENT_SAGEMAKER_RAG_ENDPOINT", ENDPOINT)
    llm = SageMakerLLM.from_settings(load_settings())
    assert "".join(llm.stream(QUESTION, GenerationParams(max_new_tokens=3, temperature=0.0)))
    assert llm.client.meta.region_name == "eu-west-1"


# --- errors a person can act on ------------------------------------------------------------------------


def test_unknown_endpoint_names_the_endpoint_and_the_setting(tiny_server):
    llm = SageMakerLLM("docent-typo", client=runtime_client(tiny_server.url), setting="DOCENT_SAGEMAKER_RAG_ENDPOINT")
    with pytest.raises(LLMError, match="'docent-typo'.*does not exist.*DOCENT_SAGEMAKER_RAG_ENDPOINT"):
        list(llm.stream(QUESTION, GREEDY))
    with pytest.raises(LLMError, match="docent-typo"):
        llm.invoke(QUESTION, GREEDY)


def test_mid_stream_failure_surfaces_as_llm_error_after_the_text_so_far():
    model = ScriptedModel(["The VPN ", "guide ", "is"], fail_after=2)
    with serve_in_thread(generator=model) as running:
        llm = SageMakerLLM("scripted", client=runtime_client(running.url))
        received = []
        with pytest.raises(LLMError, match="'scripted'.*while streaming.*CUDA out of memory.*CloudWatch"):
            for piece in llm.stream(QUESTION, GREEDY):
                received.append(piece)
    assert received == ["The VPN ", "guide "]


def test_failure_before_the_first_token_is_a_model_error_with_cloudwatch_hint():
    with serve_in_thread(generator=ScriptedModel([], fail_at_start=True)) as running:
        llm = SageMakerLLM("crashy", client=runtime_client(running.url))
        with pytest.raises(
            LLMError, match="model behind SageMaker endpoint 'crashy'.*crashed.*/aws/sagemaker/Endpoints/crashy"
        ):
            list(llm.stream(QUESTION, GREEDY))
        with pytest.raises(LLMError, match="crashed"):
            llm.invoke(QUESTION, GREEDY)


def test_throttling_is_retried_by_botocore_until_it_succeeds():
    model = ScriptedModel(["ok"], busy_calls=2)
    with serve_in_thread(generator=model) as running:
        llm = SageMakerLLM("busy", client=runtime_client(running.url, max_attempts=3), stream_start_attempts=1)
        assert "".join(llm.stream(QUESTION, GREEDY)) == "ok"
    assert len(model.calls) == 3


def test_throttling_at_stream_start_is_retried_by_the_explicit_loop():
    model = ScriptedModel(["ok"], busy_calls=2)
    with serve_in_thread(generator=model) as running:
        llm = SageMakerLLM(
            "busy", client=runtime_client(running.url, max_attempts=1), stream_start_attempts=3, backoff_seconds=0.01
        )
        assert "".join(llm.stream(QUESTION, GREEDY)) == "ok"
        assert len(model.calls) == 3
        model.busy_calls = 100
        with pytest.raises(LLMError, match="busy or unavailable.*ThrottlingException"):
            list(llm.stream(QUESTION, GREEDY))


def test_unreachable_server_is_reported_with_the_endpoint():
    with serve_in_thread(generator=ScriptedModel(["x"])) as running:
        url = running.url
    llm = SageMakerLLM("gone", client=runtime_client(url), stream_start_attempts=1)
    with pytest.raises(LLMError, match="Could not reach SageMaker endpoint 'gone'"):
        list(llm.stream(QUESTION, GREEDY))


def test_generation_parameters_and_stop_travel_over_the_wire():
    model = ScriptedModel(["Answer: 25 days", "\nQuestion:", " more"])
    params = GenerationParams(max_new_tokens=33, temperature=0.4, top_p=0.7, stop=("\nQuestion:",))
    with serve_in_thread(generator=model) as running:
        text = "".join(SageMakerLLM("p", client=runtime_client(running.url)).stream(QUESTION, params))
    assert text == "Answer: 25 days"  # the scripted server ignores stop; the client trims it
    prompt, received = model.calls[0]
    assert prompt == "<s>[INST] Answer briefly.\n\nWhere is the VPN guide? [/INST]"
    assert received == params


# --- the raw server contract ---------------------------------------------------------------------------


def _post(url: str, body: bytes) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_container_contract_ping_and_invocations():
    with serve_in_thread(generator=ScriptedModel(["a", "b"])) as running:
        with urllib.request.urlopen(running.url + "/ping", timeout=10) as response:
            assert response.status == 200
        handler = LMIHandler()
        status, body, _ = _post(running.url + "/invocations", handler.encode_request(QUESTION, GREEDY))
        assert (status, handler.decode_response(body)) == (200, "ab")
        status, body, headers = _post(
            running.url + "/invocations", handler.encode_request(QUESTION, GREEDY, stream=True)
        )
        assert status == 200 and headers["Content-Type"] == "application/jsonlines"
        assert list(handler.decode_stream([body])) == ["a", "b"]
        status, body, _ = _post(running.url + "/invocations", b"{oops")
        assert status == 400 and "not valid JSON" in json.loads(body)["error"]


def test_bad_json_on_the_runtime_path_is_a_model_error_like_sagemaker_returns():
    from botocore.exceptions import ClientError

    with serve_in_thread(generator=ScriptedModel(["a"])) as running:
        client = runtime_client(running.url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="x", Body=b"{oops", ContentType="application/json")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400 and "not valid JSON" in error["OriginalMessage"]


def test_serve_model_command_is_registered():
    import typer
    from typer.testing import CliRunner

    from finetune import serve

    app = typer.Typer()
    serve.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command so typer keeps subcommand names
        pass

    result = CliRunner().invoke(app, ["serve-model", "--help"])
    assert result.exit_code == 0 and "--task" in result.output and "--model" in result.output
    result = CliRunner().invoke(app, ["serve-model", "--model", "/nonexistent/model"])
    assert result.exit_code == 1 and "/nonexistent/model" in result.output


def test_from_settings_names_the_finetuned_setting_in_errors(tiny_server):
    from config.settings import load_settings

    settings = load_settings(sagemaker_finetuned_endpoint="docent-ft-typo", sagemaker_endpoint_url=tiny_server.url)
    llm = SageMakerLLM.from_settings(settings, which="finetuned")
    with pytest.raises(LLMError, match="DOCENT_SAGEMAKER_FINETUNED_ENDPOINT='docent-ft-typo'"):
        list(llm.stream(QUESTION, GREEDY))
    rag = SageMakerLLM.from_settings(
        load_settings(sagemaker_rag_endpoint=ENDPOINT, sagemaker_endpoint_url=tiny_server.url)
    )
    assert "".join(rag.stream(QUESTION, GREEDY))


def test_requests_beyond_max_concurrency_are_throttled_and_the_slot_is_freed():
    import threading

    gate = threading.Event()

    class Gated(ScriptedModel):
        def stream_prompt(self, prompt, params):
            yield "first "
            gate.wait(300)  # a hang guard only: the test opens the gate (a loaded machine took over 10 s here)
            yield "second"

    with serve_in_thread(generator=Gated([]), max_concurrency=1, queue_size=0) as running:  # no queue: 429 at once
        other = SageMakerLLM("g", client=runtime_client(running.url), stream_start_attempts=1)
        holder = SageMakerLLM("g", client=runtime_client(running.url)).stream(QUESTION, GREEDY)
        try:
            assert next(holder) == "first "  # the only slot is now taken
            with pytest.raises(LLMError, match="busy or unavailable.*ThrottlingException"):
                list(other.stream(QUESTION, GREEDY))
        finally:
            gate.set()
        assert "".join(holder) == "second"
        assert "".join(other.stream(QUESTION, GREEDY)) == "first second"
