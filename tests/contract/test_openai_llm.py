"""OpenAICompatLLM against a scripted OpenAI-compatible server on loopback, through real httpx.

The server speaks the documented streaming chat-completions shape: chunked HTTP carrying server-sent
events ``data: {"object": "chat.completion.chunk", "choices": [{"delta": {"content": ...}}]}``, a final
chunk with a finish_reason, then ``data: [DONE]``. It echoes the question word by word, honours
max_tokens and stop like a real server, and can be told to fail (429/5xx first, 401, a dropped
connection, an error event).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from llm.openai_compat import OpenAICompatLLM, chat_request, sse_data, text_from_chunk
from llm.protocol import ChatMessage, GenerationParams, LLMError
from tests.contract.test_sagemaker_llm import LLMContract

MODEL = "echo-7b"
QUESTION = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Where is the VPN guide?")]
GREEDY = GenerationParams(max_new_tokens=6, temperature=0.0)


class FakeOpenAI:
    """A scripted OpenAI-compatible chat-completions server; records every request it receives."""

    def __init__(self, api_key: str | None = None, models: tuple[str, ...] = (MODEL,)):
        self.api_key = api_key
        self.models = set(models)
        self.failures: list[tuple[int, dict, dict]] = []  # (status, JSON body, headers), answered first
        self.disconnect_after: int | None = None  # drop the connection after this many content chunks
        self.error_after: int | None = None  # send an error event after this many content chunks
        self.json_answer = False  # ignore "stream": true, like some proxies do
        self.chunked = True  # False: no framing, the body ends when the connection closes (HTTP/1.0 style)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def pieces(self, body: dict) -> list[str]:
        question = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        words = f"You asked: {question}".split(" ")
        pieces = [w + " " for w in words[:-1]] + words[-1:]
        pieces = pieces[: body.get("max_tokens", 16)]
        text = "".join(pieces)
        cut = min((i for i in (text.find(s) for s in body.get("stop") or []) if i >= 0), default=len(text))
        out, used = [], 0
        for piece in pieces:
            if used >= cut:
                break
            out.append(piece[: cut - used])
            used += len(piece)
        return [p for p in out if p]


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def _chunk(self, data: bytes) -> None:
            if fake.chunked:
                data = f"{len(data):X}\r\n".encode() + data + b"\r\n"
            self.wfile.write(data)
            self.wfile.flush()

        def _event(self, payload: Any) -> None:
            data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
            half = len(data) // 2  # one event across two HTTP chunks: the client must reassemble lines
            self._chunk(data[:half])
            self._chunk(data[half:])

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with fake._lock:
                fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                failure = fake.failures.pop(0) if fake.failures else None
            if self.path != "/v1/chat/completions":
                raw = b"404 page not found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            if failure:
                return self._json(*failure)
            if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._json(
                    401,
                    {
                        "error": {
                            "message": "Incorrect API key provided.",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    },
                )
            if body["model"] not in fake.models:
                return self._json(
                    404,
                    {
                        "error": {
                            "message": f"The model `{body['model']}` does not exist.",
                            "type": "NotFoundError",
                            "code": 404,
                        }
                    },
                )
            pieces = fake.pieces(body)
            base = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": body["model"],
            }
            if fake.json_answer or not body.get("stream"):
                return self._json(
                    200,
                    {
                        **base,
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "".join(pieces)},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            if fake.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self._chunk(b": ping\n\n")
            self._event(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
                }
            )
            for i, piece in enumerate(pieces):
                if fake.disconnect_after is not None and i >= fake.disconnect_after:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # mid-stream, no terminating chunk
                    return
                if fake.error_after is not None and i >= fake.error_after:
                    self._event(
                        {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "code": 500}}
                    )
                    self._event("[DONE]")
                    self._chunk(b"")
                    return
                self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self._event("[DONE]")
            self._chunk(b"")

    return Handler


@contextmanager
def serving(fake: FakeOpenAI) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def make_llm(url: str, **kwargs: Any) -> OpenAICompatLLM:
    kwargs.setdefault("backoff_seconds", 0.01)
    return OpenAICompatLLM(url, kwargs.pop("model", MODEL), **kwargs)


@pytest.fixture
def fake():
    return FakeOpenAI()


@pytest.fixture
def url(fake):
    with serving(fake) as base_url:
        yield base_url


class TestOpenAICompatLLMContract(LLMContract):
    @pytest.fixture
    def llm(self, url):
        return make_llm(url)


# --- the wire format ---------------------------------------------------------------------------------


def test_answer_streams_piece_by_piece_with_parameters_on_the_wire(fake, url):
    params = GenerationParams(max_new_tokens=33, temperature=0.4, top_p=0.7, stop=("\nQuestion:",))
    pieces = list(make_llm(url, api_key=SecretStr("sk-test")).stream(QUESTION, params))
    assert pieces == ["You ", "asked: ", "Where ", "is ", "the ", "VPN ", "guide?"]
    request = fake.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"] == {
        "model": MODEL,
        "stream": True,
        "max_tokens": 33,
        "temperature": 0.4,
        "top_p": 0.7,
        "stop": ["\nQuestion:"],
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Where is the VPN guide?"},
        ],
    }


def test_no_api_key_sends_no_authorization_header(fake, url):
    assert "".join(make_llm(url).stream(QUESTION, GREEDY))
    assert "Authorization" not in fake.requests[0]["headers"]


def test_a_server_that_ignores_stream_true_still_answers(fake, url):
    fake.json_answer = True
    assert list(make_llm(url).stream(QUESTION, GREEDY)) == ["You asked: Where is the VPN "]


def test_base_url_given_with_the_full_path_is_accepted(url):
    assert make_llm(url + "/chat/completions/").base_url == url


def test_sse_parsing_handles_comments_multiline_data_and_usage_chunks():
    lines = [
        ": keep-alive",
        "",
        'data: {"choices": [{"delta": {"content": "a"}}]}',
        "",
        'data: {"choices": [],',
        'data:  "usage": {"total_tokens": 3}}',
        "",
        "data: [DONE]",
    ]
    events = list(sse_data(lines))
    assert events[1] == '{"choices": [],\n "usage": {"total_tokens": 3}}'
    assert [text_from_chunk(json.loads(e)) for e in events[:2]] == [("a", False), ("", False)]
    assert events[-1] == "[DONE]"
    with pytest.raises(RuntimeError, match="out of memory"):
        text_from_chunk({"error": {"message": "out of memory"}})


def test_blank_stop_sequences_stay_client_side_and_top_p_only_when_sampling():
    body = chat_request("m", QUESTION, GenerationParams(temperature=0.0, top_p=0.5, stop=("\n\n", "END")))
    assert body["stop"] == ["END"] and "top_p" not in body


# --- retries -----------------------------------------------------------------------------------------


def test_429_then_success_is_retried_before_the_first_token(fake, url):
    fake.failures = [
        (429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}, {"Retry-After": "0"})
    ]
    assert "".join(make_llm(url).stream(QUESTION, GREEDY)) == "You asked: Where is the VPN "
    assert len(fake.requests) == 2


def test_persistent_503_gives_up_after_the_attempts_and_says_so(fake, url):
    fake.failures = [(503, {"error": "Model is loading"}, {})] * 5
    with pytest.raises(LLMError, match=r"failed \(503: Model is loading\) after 3 attempts.*server's logs"):
        list(make_llm(url, max_attempts=3).stream(QUESTION, GREEDY))
    assert len(fake.requests) == 3


def test_out_of_quota_429_is_not_retried(fake, url):
    fake.failures = [(429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, {})]
    with pytest.raises(LLMError, match="out of quota.*DOCENT_OPENAI_API_KEY"):
        list(make_llm(url).stream(QUESTION, GREEDY))
    assert len(fake.requests) == 1


# --- errors a person can act on ----------------------------------------------------------------------


def test_wrong_api_key_is_a_401_naming_the_setting():
    with serving(FakeOpenAI(api_key="sk-right")) as base_url:
        with pytest.raises(LLMError, match=r"refused the API key \(401: Incorrect API key.*DOCENT_OPENAI_API_KEY"):
            list(make_llm(base_url, api_key="sk-wrong").stream(QUESTION, GREEDY))
        with pytest.raises(LLMError, match="needs an API key.*Set DOCENT_OPENAI_API_KEY"):
            list(make_llm(base_url).stream(QUESTION, GREEDY))
        assert "".join(make_llm(base_url, api_key="sk-right").stream(QUESTION, GREEDY))


def test_unknown_model_and_wrong_base_url_are_404s_naming_the_settings(url):
    with pytest.raises(LLMError, match="404 for model 'llama-typo'.*does not exist.*DOCENT_OPENAI_MODEL"):
        list(make_llm(url, model="llama-typo").stream(QUESTION, GREEDY))
    with pytest.raises(LLMError, match="404.*page not found.*DOCENT_OPENAI_BASE_URL.*/v1"):
        list(make_llm(url.removesuffix("/v1")).stream(QUESTION, GREEDY))


def test_mid_stream_disconnect_is_an_llm_error_after_the_text_so_far(fake, url):
    fake.disconnect_after = 2
    received = []
    with pytest.raises(LLMError, match="dropped the connection after 11 characters"):
        for piece in make_llm(url).stream(QUESTION, GREEDY):
            received.append(piece)
    assert received == ["You ", "asked: "]
    assert len(fake.requests) == 1  # text already reached the caller: never retried


def test_unframed_stream_that_ends_without_done_is_reported_as_cut_off(fake, url):
    fake.chunked, fake.disconnect_after = False, 3
    received = []
    with pytest.raises(LLMError, match="dropped the connection after 17 characters.*ended without \\[DONE\\]"):
        for piece in make_llm(url).stream(QUESTION, GREEDY):
            received.append(piece)
    assert received == ["You ", "asked: ", "Where "]


def test_disconnect_before_the_first_token_is_retried_then_reported(fake, url):
    fake.disconnect_after = 0
    with pytest.raises(LLMError, match="closed the connection before answering.*after 2 attempts"):
        list(make_llm(url, max_attempts=2).stream(QUESTION, GREEDY))
    assert len(fake.requests) == 2


def test_error_event_in_the_stream_names_the_model(fake, url):
    fake.error_after = 1
    received = []
    with pytest.raises(LLMError, match=f"model '{MODEL}'.*failed while answering: CUDA out of memory"):
        for piece in make_llm(url).stream(QUESTION, GREEDY):
            received.append(piece)
    assert received == ["You "]


def test_connection_refused_asks_whether_the_server_is_running():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = make_llm(f"http://127.0.0.1:{port}/v1", max_attempts=2)
    with pytest.raises(
        LLMError, match=rf"connect.*127\.0\.0\.1:{port}/v1.*Is the server running.*DOCENT_OPENAI_BASE_URL"
    ):
        list(llm.stream(QUESTION, GREEDY))


def test_bad_base_url_and_missing_model_are_refused_at_construction():
    with pytest.raises(LLMError, match="DOCENT_OPENAI_BASE_URL='localhost:11434'.*http://localhost:11434/v1"):
        OpenAICompatLLM("localhost:11434", MODEL)
    with pytest.raises(LLMError, match="DOCENT_OPENAI_MODEL"):
        OpenAICompatLLM("http://localhost:11434/v1", "")


def test_the_api_key_never_shows_in_repr():
    assert "sk-secret" not in repr(OpenAICompatLLM("http://127.0.0.1:1/v1", MODEL, api_key="sk-secret"))


def test_caller_supplied_client_is_used(fake, url):
    with httpx.Client(timeout=5, trust_env=False) as client:
        assert "".join(make_llm(url, client=client).stream(QUESTION, GREEDY))
        assert not client.is_closed  # the caller owns it


# --- wiring --------------------------------------------------------------------------------------------


def test_build_generators_returns_the_openai_backend_from_settings(fake, url):
    from config.settings import load_settings
    from llm.factory import build_generators

    fake.api_key = "sk-settings"
    settings = load_settings(
        llm_backend="openai", openai_base_url=url, openai_model=MODEL, openai_api_key="sk-settings"
    )
    generators = build_generators(settings)
    assert isinstance(generators.rag, OpenAICompatLLM) and generators.notice is None
    assert (generators.rag.backend, generators.rag.model) == ("openai", MODEL)
    assert "".join(generators.rag.stream(QUESTION, GREEDY)) == "You asked: Where is the VPN "


def test_build_generators_explains_a_bad_base_url():
    from config.settings import load_settings
    from llm.factory import build_generators

    generators = build_generators(
        load_settings(llm_backend="openai", openai_base_url="ollama:11434", openai_model=MODEL)
    )
    assert generators.rag is None and "DOCENT_OPENAI_BASE_URL='ollama:11434'" in generators.notice
