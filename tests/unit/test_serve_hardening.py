"""`docent serve-model` limits, queue, validation, response shapes and shutdown (issue 11, item 8),
against the real server on loopback through raw sockets, urllib and real boto3."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from finetune.serve import serve_in_thread
from llm.sagemaker_protocol import LMIHandler
from tests.fixtures.model_server import ScriptedModel, runtime_client

ROOT = Path(__file__).resolve().parents[2]


def _raw(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes and read until the server closes (or the timeout)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def _post(url: str, path: str, payload) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Gate:
    """A model that holds each request until released, to fill the slots and the queue."""

    def __init__(self):
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def stream_prompt(self, prompt, params):
        self.started.release()
        self.release.wait(30)
        yield "done"


def test_oversized_request_gets_413_without_reading_it():
    with serve_in_thread(generator=ScriptedModel(["x"]), max_request_bytes=1024) as running:
        reply = _raw(
            running.url,
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 28600000\r\n\r\n{"inputs": "',
        )
        assert reply.startswith(b"HTTP/1.1 413")
        assert b"over this endpoint's limit of 1,024 bytes" in reply
        client = runtime_client(running.url)
        with pytest.raises(ClientError) as err:
            client.invoke_endpoint(
                EndpointName="any", Body=json.dumps({"inputs": "x" * 2000}), ContentType="application/json"
            )
        assert err.value.response["Error"]["Code"] == "ValidationError"


def test_a_stalled_body_or_idle_connection_is_dropped_after_the_socket_timeout():
    with serve_in_thread(generator=ScriptedModel(["x"]), socket_timeout_s=0.5) as running:
        # says 1000 bytes, sends 10, then waits: the server gives up instead of holding a thread forever
        reply = _raw(running.url, b'POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inputs":')
        assert reply == b""
        assert _raw(running.url, b"") == b""  # an idle connection is closed too


def test_connections_past_the_cap_get_503():
    with serve_in_thread(generator=ScriptedModel(["x"]), max_connections=2, socket_timeout_s=5) as running:
        host, port = running.url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(2)]
        time.sleep(0.2)  # let the server accept them (no timing is asserted)
        try:
            reply = _raw(running.url, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 503")
        finally:
            for sock in idle:
                sock.close()


def test_requests_past_max_concurrency_wait_in_the_queue_instead_of_429():
    gate = Gate()
    with serve_in_thread(generator=gate, max_concurrency=1, queue_size=8, queue_wait_s=30) as running:
        client = runtime_client(running.url)  # one attempt: no retry hides a 429
        results: list[str] = []

        def call():
            body = client.invoke_endpoint(
                EndpointName="any", Body=json.dumps({"inputs": "q"}), ContentType="application/json"
            )["Body"].read()
            results.append(LMIHandler.decode_response(body))

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        assert gate.started.acquire(timeout=10)
        gate.release.set()
        for t in threads:
            t.join(30)
        assert results == ["done"] * 8


def test_a_full_queue_answers_throttling():
    gate = Gate()
    with serve_in_thread(generator=gate, max_concurrency=1, queue_size=0) as running:
        first = threading.Thread(target=_post, args=(running.url, "/invocations", {"inputs": "q"}))
        first.start()
        assert gate.started.acquire(timeout=10)
        client = runtime_client(running.url)
        with pytest.raises(ClientError) as err:
            client.invoke_endpoint(EndpointName="any", Body=json.dumps({"inputs": "q"}), ContentType="application/json")
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        gate.release.set()
        first.join(10)


@pytest.mark.parametrize(
    "parameters, named",
    [
        ({"max_new_tokens": 10**12}, "max_new_tokens"),
        ({"top_p": -5}, "top_p"),
        ({"temperature": "hot", "do_sample": True}, "temperature"),
        ({"seed": -1}, "seed"),
        ({"stop_sequences": [1, 2]}, "stop_sequences"),
        ({"do_sample": "yes"}, "do_sample"),
    ],
)
def test_bad_parameters_are_validation_errors(parameters, named):
    model = ScriptedModel(["x"])
    with serve_in_thread(generator=model) as running:
        status, body = _post(running.url, "/invocations", {"inputs": "q", "parameters": parameters})
        assert status == 400 and named in body["error"] and body["error_type"] == "ValidationError"
        client = runtime_client(running.url)
        with pytest.raises(ClientError) as err:  # through the runtime API: the container's 400 in a ModelError
            client.invoke_endpoint(
                EndpointName="any",
                Body=json.dumps({"inputs": "q", "parameters": parameters}),
                ContentType="application/json",
            )
        assert err.value.response["Error"]["Code"] == "ModelError"
        assert err.value.response["OriginalStatusCode"] == 400
    assert model.calls == []  # the model never saw them


# The container answers 400; the runtime API reports a container's 4xx as a 424 ModelError carrying it.
@pytest.mark.parametrize(
    "path, status", [("/invocations", 400), ("/endpoints/docent/invocations-response-stream", 424)]
)
def test_deeply_nested_json_is_a_client_error_not_a_500(path, status):
    model = ScriptedModel(["x"])
    with serve_in_thread(generator=model, endpoint_name="docent") as running:
        request = urllib.request.Request(running.url + path, data=b"[" * 200_000 + b"]" * 200_000)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        body = err.value.read()
        assert err.value.code == status and b"nested too deeply" in body
        if status == 424:
            assert json.loads(body)["OriginalStatusCode"] == 400
    assert model.calls == []


def test_brackets_inside_strings_do_not_count_as_nesting():
    model = ScriptedModel(["x"])
    with serve_in_thread(generator=model) as running:
        status, _ = _post(running.url, "/invocations", {"inputs": "[" * 500 + "{" * 500, "parameters": {}})
    assert status == 200 and model.calls[0][0] == "[" * 500 + "{" * 500


class LimitedModel(ScriptedModel):
    def context_limit(self):
        return 64

    def count_tokens(self, prompt):
        return len(prompt.split())


def test_prompt_plus_max_new_tokens_must_fit_the_context():
    model = LimitedModel(["x"])
    with serve_in_thread(generator=model) as running:
        status, body = _post(
            running.url, "/invocations", {"inputs": "word " * 60, "parameters": {"max_new_tokens": 10}}
        )
        assert status == 400 and "must be <= 64" in body["error"] and "60 `inputs` tokens" in body["error"]
        assert (
            _post(running.url, "/invocations", {"inputs": "word " * 50, "parameters": {"max_new_tokens": 10}})[0] == 200
        )


@pytest.mark.parametrize(
    "shape, expected", [("lmi", {"generated_text": "Hello"}), ("tgi", [{"generated_text": "Hello"}])]
)
def test_response_shape_is_the_container_it_stands_in_for(shape, expected):
    with serve_in_thread(
        generator=ScriptedModel(["Hel", "lo"]), response_shape=shape, model_name="docent-lora"
    ) as running:
        response = runtime_client(running.url).invoke_endpoint(
            EndpointName="any", Body=json.dumps({"inputs": "q"}), ContentType="application/json"
        )
        body = response["Body"].read()
        assert json.loads(body) == expected
        assert LMIHandler.decode_response(body) == "Hello"  # Docent's client reads both
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-docent-model"] == "docent-lora"


def test_model_name_in_ping_head_ping_and_the_access_log(caplog):
    with serve_in_thread(generator=ScriptedModel(["x"]), model_name="docent-lora") as running:
        with caplog.at_level(logging.INFO, logger="docent.serve.access"):
            with urllib.request.urlopen(running.url + "/ping", timeout=10) as response:
                assert json.loads(response.read())["model"] == "docent-lora"
            head = urllib.request.Request(running.url + "/ping", method="HEAD")
            with urllib.request.urlopen(head, timeout=10) as response:
                assert response.status == 200 and response.read() == b""
            _post(running.url, "/invocations", {"inputs": "q"})
    lines = [r.getMessage() for r in caplog.records if r.name == "docent.serve.access"]
    assert any('"HEAD /ping HTTP/1.1" 200 model=docent-lora' in line for line in lines)
    assert any('"POST /invocations HTTP/1.1" 200 model=docent-lora' in line for line in lines)


def test_lmi_stop_sequences_and_seed_reach_the_model():
    model = ScriptedModel(["x"])
    with serve_in_thread(generator=model) as running:
        _post(
            running.url,
            "/invocations",
            {
                "inputs": "q",
                "parameters": {"stop_sequences": ["\nQ:", "</s>"], "seed": 7, "do_sample": True, "temperature": 0.7},
            },
        )
    [(_, params)] = model.calls
    assert params.stop == ("\nQ:", "</s>") and params.seed == 7 and params.temperature == 0.7


def test_stop_lets_the_request_in_flight_finish():
    gate = Gate()
    running = serve_in_thread(generator=gate)
    result: list = []
    caller = threading.Thread(target=lambda: result.append(_post(running.url, "/invocations", {"inputs": "q"})))
    caller.start()
    assert gate.started.acquire(timeout=10)
    threading.Timer(0.5, gate.release.set).start()
    assert running.stop(grace_s=20) is True
    caller.join(10)
    assert result == [(200, {"generated_text": "done"})]


SERVER_SCRIPT = """
import sys, threading
from finetune.serve import ModelServer, make_http_server, serve_until_stopped
started = threading.Event()
class Slow:
    def stream_prompt(self, prompt, params):
        print("started", flush=True)
        threading.Event().wait(1.5)
        yield "finished after SIGTERM"
server = ModelServer(generator=Slow(), model_name="slow")
httpd = make_http_server(server, "127.0.0.1", 0)
print(httpd.server_address[1], flush=True)
print("drained" if serve_until_stopped(httpd, server, grace_s=20) else "cut off", flush=True)
"""


def test_sigterm_finishes_the_request_in_flight():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        port = int(proc.stdout.readline())
        result: list = []
        caller = threading.Thread(
            target=lambda: result.append(_post(f"http://127.0.0.1:{port}", "/invocations", {"inputs": "q"}))
        )
        caller.start()
        assert proc.stdout.readline().strip() == "started"
        proc.terminate()  # SIGTERM, what SageMaker and `docker stop` send
        caller.join(30)
        assert result == [(200, {"generated_text": "finished after SIGTERM"})]
        assert proc.stdout.readline().strip() == "drained"
        assert proc.wait(180) == 0  # a bound, not a timing: interpreter exit is slow on a loaded machine
    finally:
        proc.kill()
