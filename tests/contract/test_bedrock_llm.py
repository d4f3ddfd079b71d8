"""BedrockLLM against a scripted Bedrock runtime on loopback, through real boto3 and botocore's parsers.

The server answers ``POST /model/{modelId}/converse-stream`` in AWS event-stream framing, with the
events of the ConverseStream API (messageStart, contentBlockDelta, contentBlockStop, messageStop,
metadata; exception events such as throttlingException) and Bedrock's error responses
(``x-amzn-ErrorType`` + ``{"message": ...}``), so botocore decodes everything for real. It echoes the
question word by word and honours maxTokens and stopSequences like a model would.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

from llm.bedrock import BedrockLLM, converse_request
from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker_protocol import encode_event
from tests.contract.test_sagemaker_llm import LLMContract

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
REGION = "eu-west-1"
QUESTION = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Where is the VPN guide?")]
GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0)
ERROR_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


class FakeBedrock:
    """A scripted bedrock-runtime ConverseStream; records every request it receives."""

    def __init__(self, models: tuple[str, ...] = (MODEL_ID,), denied: tuple[str, ...] = ()):
        self.models = set(models) | set(denied)
        self.denied = set(denied)
        self.failures: list[tuple[int, str, str]] = []  # (status, error code, message), answered first
        self.first_events: list[str] = []  # exception events sent instead of an answer, one per call
        self.error_after: int | None = None  # a modelStreamErrorException after this many deltas
        self.refuse_top_p_with_temperature = False  # like Claude Sonnet 4.5
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def pieces(self, body: dict) -> list[str]:
        question = body["messages"][-1]["content"][0]["text"]
        words = f"You asked: {question}".split(" ")
        pieces = ([w + " " for w in words[:-1]] + words[-1:])[: body["inferenceConfig"]["maxTokens"]]
        text = "".join(pieces)
        stops = body["inferenceConfig"].get("stopSequences") or []
        cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
        out, used = [], 0
        for piece in pieces:
            if used < cut:
                out.append(piece[: cut - used])
            used += len(piece)
        return [p for p in out if p]


def _event(event_type: str, payload: dict) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_event(headers, json.dumps(payload).encode())


def _exception(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_event(headers, json.dumps({"message": message}).encode())


def _handler(fake: FakeBedrock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _error(self, status: int, code: str, message: str) -> None:
            raw = json.dumps({"message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("x-amzn-ErrorType", code + ERROR_NAMESPACE)
            self.send_header("x-amzn-RequestId", "req-1")
            self.end_headers()
            self.wfile.write(raw)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            parts = self.path.split("/")
            model_id = unquote(parts[2]) if len(parts) == 4 and parts[1] == "model" else ""
            with fake._lock:
                fake.requests.append(
                    {"path": self.path, "model_id": model_id, "body": body, "headers": dict(self.headers)}
                )
                failure = fake.failures.pop(0) if fake.failures else None
                first_event = fake.first_events.pop(0) if fake.first_events else None
            if parts[-1] != "converse-stream":
                return self._error(404, "UnknownOperationException", "")
            if failure:
                return self._error(*failure)
            if model_id not in fake.models:
                return self._error(400, "ValidationException", "The provided model identifier is invalid.")
            if model_id in fake.denied:
                return self._error(
                    403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
                )
            config = body.get("inferenceConfig", {})
            if fake.refuse_top_p_with_temperature and "topP" in config and "temperature" in config:
                return self._error(
                    400,
                    "ValidationException",
                    "The model returned the following errors: "
                    "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
                )
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "req-1")
            self.end_headers()
            if first_event:
                self._chunk(_exception(first_event, "Too many requests, please wait before trying again."))
                self._chunk(b"")
                return
            pieces = fake.pieces(body)
            self._chunk(_event("messageStart", {"p": "abcdefgh", "role": "assistant"}))
            for i, piece in enumerate(pieces):
                if fake.error_after is not None and i >= fake.error_after:
                    self._chunk(_exception("modelStreamErrorException", "The model crashed: CUDA out of memory"))
                    self._chunk(b"")
                    return
                event = _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}, "p": "abc"})
                self._chunk(event[:7])  # an event split across HTTP chunks: botocore must reassemble it
                self._chunk(event[7:])
            self._chunk(_event("contentBlockStop", {"contentBlockIndex": 0}))
            self._chunk(_event("messageStop", {"stopReason": "end_turn"}))
            self._chunk(
                _event(
                    "metadata",
                    {
                        "usage": {"inputTokens": 12, "outputTokens": len(pieces), "totalTokens": 12 + len(pieces)},
                        "metrics": {"latencyMs": 42},
                    },
                )
            )
            self._chunk(b"")

    return Handler


@contextmanager
def serving(fake: FakeBedrock) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def bedrock_client(url: str, max_attempts: int = 1):
    """A real boto3 bedrock-runtime client aimed at the loopback server (dummy credentials)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            retries={"total_max_attempts": max_attempts, "mode": "standard"}, read_timeout=10, connect_timeout=5
        ),
    )


def make_llm(url: str, model_id: str = MODEL_ID, max_attempts: int = 1, **kwargs: Any) -> BedrockLLM:
    kwargs.setdefault("backoff_seconds", 0.01)
    return BedrockLLM(model_id, client=bedrock_client(url, max_attempts), **kwargs)


@pytest.fixture
def fake():
    return FakeBedrock()


@pytest.fixture
def url(fake):
    with serving(fake) as endpoint:
        yield endpoint


class TestBedrockLLMContract(LLMContract):
    @pytest.fixture
    def llm(self, url):
        return make_llm(url)


# --- the request shape ---------------------------------------------------------------------------------


def test_converse_request_travels_with_system_apart_and_inference_config(fake, url):
    params = GenerationParams(max_new_tokens=33, temperature=0.4, top_p=0.7, stop=("\nQuestion:",))
    pieces = list(make_llm(url).stream(QUESTION, params))
    assert pieces == ["You ", "asked: ", "Where ", "is ", "the ", "VPN ", "guide?"]
    request = fake.requests[0]
    assert request["model_id"] == MODEL_ID and request["path"].endswith("/converse-stream")
    assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256")
    assert request["body"] == {
        "messages": [{"role": "user", "content": [{"text": "Where is the VPN guide?"}]}],
        "system": [{"text": "Answer briefly."}],
        "inferenceConfig": {"maxTokens": 33, "temperature": 0.4, "topP": 0.7, "stopSequences": ["\nQuestion:"]},
    }


def test_turns_are_merged_to_alternate_and_start_with_the_user():
    messages = [
        ChatMessage("assistant", "Hello, I am Docent."),
        ChatMessage("system", "Rules."),
        ChatMessage("user", "First."),
        ChatMessage("user", "Second."),
        ChatMessage("user", "  "),
        ChatMessage("assistant", "Answer."),
        ChatMessage("user", "Third?"),
    ]
    request = converse_request("m", messages, GenerationParams(temperature=0.0, stop=("\n\n",)))
    assert [(t["role"], t["content"][0]["text"]) for t in request["messages"]] == [
        ("user", "(conversation so far)"),
        ("assistant", "Hello, I am Docent."),
        ("user", "First.\n\nSecond."),
        ("assistant", "Answer."),
        ("user", "Third?"),
    ]
    assert request["system"] == [{"text": "Rules."}]
    assert request["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.0}  # blank stops are trimmed client-side
    with pytest.raises(LLMError, match="no question"):
        converse_request("m", [ChatMessage("user", "")], GenerationParams())


def test_top_p_refused_with_temperature_is_dropped_once_and_remembered(fake, url):
    fake.refuse_top_p_with_temperature = True
    llm = make_llm(url)
    params = GenerationParams(max_new_tokens=3, temperature=0.5, top_p=0.9)
    assert "".join(llm.stream(QUESTION, params)) == "You asked: Where "
    assert "".join(llm.stream(QUESTION, params)) == "You asked: Where "
    sent = [r["body"]["inferenceConfig"] for r in fake.requests]
    assert sent == [{"maxTokens": 3, "temperature": 0.5, "topP": 0.9}] + [{"maxTokens": 3, "temperature": 0.5}] * 2


# --- retries -------------------------------------------------------------------------------------------


def test_throttling_response_is_retried_before_the_first_token_then_reported(fake, url):
    fake.failures = [(429, "ThrottlingException", "Too many requests, please wait before trying again.")] * 2
    llm = make_llm(url, stream_start_attempts=3)
    assert "".join(llm.stream(QUESTION, GREEDY)) == "You asked: Where is the VPN "
    assert len(fake.requests) == 3
    fake.failures = [(429, "ThrottlingException", "Too many requests")] * 3
    with pytest.raises(LLMError, match="busy or unavailable.*ThrottlingException.*after 3 attempts.*Service Quotas"):
        list(llm.stream(QUESTION, GREEDY))


def test_botocore_retries_throttling_too_when_the_client_allows_it(fake, url):
    fake.failures = [(429, "ThrottlingException", "Too many requests")] * 2
    llm = make_llm(url, max_attempts=3, stream_start_attempts=1)
    assert "".join(llm.stream(QUESTION, GREEDY))
    assert len(fake.requests) == 3


def test_model_timeout_is_retried(fake, url):
    fake.failures = [(408, "ModelTimeoutException", "Model has timed out in processing the request.")]
    assert "".join(make_llm(url).stream(QUESTION, GREEDY)) == "You asked: Where is the VPN "
    fake.failures = [(408, "ModelTimeoutException", "Model has timed out.")] * 2
    with pytest.raises(LLMError, match="did not answer in time.*after 2 attempts.*DOCENT_MAX_NEW_TOKENS"):
        list(make_llm(url, stream_start_attempts=2).stream(QUESTION, GREEDY))


def test_throttling_event_at_the_start_of_the_stream_is_retried(fake, url):
    fake.first_events = ["throttlingException"]
    assert "".join(make_llm(url).stream(QUESTION, GREEDY)) == "You asked: Where is the VPN "
    assert len(fake.requests) == 2


# --- errors a person can act on --------------------------------------------------------------------


def test_access_denied_says_to_enable_model_access_in_the_region():
    with serving(FakeBedrock(denied=(MODEL_ID,))) as endpoint:
        llm = make_llm(endpoint)
        with pytest.raises(
            LLMError,
            match=rf"'{MODEL_ID}' in region {REGION} was denied \(You don't have access.*"
            rf"Bedrock console \(Model access\) for region {REGION}",
        ):
            list(llm.stream(QUESTION, GREEDY))


def test_unknown_model_id_names_the_setting(fake, url):
    with pytest.raises(LLMError, match="does not know the model id 'anthropic.claude-typo'.*DOCENT_BEDROCK_MODEL_ID"):
        list(make_llm(url, "anthropic.claude-typo").stream(QUESTION, GREEDY))
    assert len(fake.requests) == 1  # not worth retrying


def test_model_that_needs_an_inference_profile_gets_the_prefixed_id_suggested(fake, url):
    fake.failures = [
        (
            400,
            "ValidationException",
            f"Invocation of model ID {MODEL_ID} with on-demand throughput "
            "isn't supported. Retry your request with the ID or ARN of an inference profile.",
        )
    ]
    with pytest.raises(LLMError, match=rf"inference profile id.*eu\.{MODEL_ID}"):
        list(make_llm(url).stream(QUESTION, GREEDY))


def test_mid_stream_model_error_is_an_llm_error_after_the_text_so_far(fake, url):
    fake.error_after = 2
    received = []
    with pytest.raises(LLMError, match=f"model behind Bedrock model '{MODEL_ID}'.*failed while answering.*CUDA"):
        for piece in make_llm(url).stream(QUESTION, GREEDY):
            received.append(piece)
    assert received == ["You ", "asked: "]
    assert len(fake.requests) == 1  # text already reached the caller: never retried


def test_unreachable_endpoint_is_reported_with_the_model():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = make_llm(f"http://127.0.0.1:{port}", stream_start_attempts=2)
    with pytest.raises(LLMError, match=f"Could not reach Bedrock model '{MODEL_ID}' in region {REGION}"):
        list(llm.stream(QUESTION, GREEDY))


def test_missing_model_id_and_region_name_the_settings(monkeypatch, tmp_path):
    with pytest.raises(LLMError, match="DOCENT_BEDROCK_MODEL_ID"):
        BedrockLLM("")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    with pytest.raises(LLMError, match="No AWS region is set for Bedrock. Set DOCENT_AWS_REGION"):
        _ = BedrockLLM(MODEL_ID).client


# --- wiring --------------------------------------------------------------------------------------------


def test_build_generators_returns_the_bedrock_backend_from_settings():
    from config.settings import load_settings
    from llm.factory import build_generators

    settings = load_settings(llm_backend="bedrock", bedrock_model_id=MODEL_ID, aws_region=REGION)
    generators = build_generators(settings)
    assert isinstance(generators.rag, BedrockLLM) and generators.notice is None
    assert (generators.rag.backend, generators.rag.model) == ("bedrock", MODEL_ID)
    client = generators.rag.client  # built lazily from settings; creating it touches no network
    assert client.meta.service_model.service_name == "bedrock-runtime" and client.meta.region_name == REGION
