"""`docent serve-model`: Docent's own model server, speaking SageMaker's protocols.

One process answers both

* the inference-container contract SageMaker hosting calls: ``GET /ping``, ``POST /invocations``
  (a JSON answer, or JSON lines over chunked HTTP when the request says ``"stream": true``), and
* the runtime API paths boto3's ``sagemaker-runtime`` client calls, so ``SageMakerLLM`` /
  ``SageMakerEmbeddings`` work against it unchanged with ``endpoint_url=http://127.0.0.1:PORT``:
  ``POST /endpoints/{name}/invocations`` and ``POST /endpoints/{name}/invocations-response-stream``
  (AWS event-stream framing; errors in the runtime's own shapes: ValidationError, ModelError,
  ThrottlingException, a ModelStreamError event mid-stream).

The wire format is llm/sagemaker_protocol.LMIHandler, the same class the client uses.

    docent serve-model --model out/docent-lora --port 8080
    DOCENT_SAGEMAKER_ENDPOINT_URL=http://127.0.0.1:8080 DOCENT_SAGEMAKER_RAG_ENDPOINT=local docent ask "..."
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol

from llm.protocol import GenerationParams
from llm.sagemaker_protocol import (
    DEFAULT_VARIANT,
    EVENTSTREAM,
    JSON,
    LMIHandler,
    WireFormatError,
    encode_model_stream_error,
    encode_payload_part,
    loads_body,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger("docent.serve.access")
Task = Literal["text-generation", "feature-extraction"]
_RUNTIME_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|invocations-response-stream)$")


class PromptModel(Protocol):
    """What the server needs from a text-generation model (LocalLLM implements it)."""

    def stream_prompt(self, prompt: str, params: GenerationParams) -> Iterator[str]: ...


class VectorModel(Protocol):
    """What the server needs from a feature-extraction model (index.embeddings.LocalEmbeddings)."""

    def embed_documents(self, texts: list[str]) -> Any: ...


class ServerBusy(Exception):
    """Raised (by the server or a model) when no more work can be taken: answered as ThrottlingException."""


class _ClientFault(Exception):
    """The request is wrong (bad JSON, wrong task, unknown endpoint)."""

    def __init__(self, message: str, code: str = "ValidationError", status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class ModelServer:
    """Serves one model. `endpoint_name=None` accepts any endpoint name on the runtime paths.

    Limits (issue 11, like a real endpoint's): request bodies over `max_request_bytes` get 413;
    `max_concurrency` requests run at once, up to `queue_size` more wait (at most `queue_wait_s`)
    and only then is the answer 429 / ThrottlingException; a prompt that with `max_new_tokens`
    would pass the model's context is refused (400). `response_shape` is the container this server
    stands in for: "lmi" answers ``{"generated_text": ...}``, "tgi" ``[{"generated_text": ...}]``.
    """

    generator: PromptModel | None = None
    embedder: VectorModel | None = None
    endpoint_name: str | None = None
    variant: str = DEFAULT_VARIANT
    max_concurrency: int = 4
    handler: LMIHandler | None = None
    model_name: str = "model"
    response_shape: str = "lmi"
    max_request_bytes: int = 6 * 2**20
    queue_size: int = 16
    queue_wait_s: float = 30.0
    socket_timeout_s: float = 60.0
    max_connections: int = 128

    def __post_init__(self) -> None:
        if (self.generator is None) == (self.embedder is None):
            raise ValueError("ModelServer serves exactly one model: give `generator` or `embedder`.")
        if self.response_shape not in ("lmi", "tgi"):
            raise ValueError(f"response_shape {self.response_shape!r} is unknown; use lmi or tgi.")
        self.handler = self.handler or LMIHandler()
        self._slots = threading.BoundedSemaphore(max(1, self.max_concurrency))
        self._queue_lock = threading.Lock()
        self._waiting = 0
        self._inflight = 0
        self._idle = threading.Condition()
        self.draining = False

    @property
    def task(self) -> Task:
        return "text-generation" if self.generator is not None else "feature-extraction"

    def check_endpoint(self, name: str) -> None:
        if self.endpoint_name and name != self.endpoint_name:
            raise _ClientFault(f"Endpoint {name} of account 000000000000 not found.")

    # Each returns bytes, or an iterator of payload bytes for a streamed answer.
    def answer(self, body: bytes) -> bytes | Iterator[bytes]:
        assert self.handler is not None
        if self.embedder is not None:
            try:
                texts = self.handler.decode_embedding_request(body)
            except WireFormatError as exc:
                raise _ClientFault(str(exc)) from None
            return self.handler.encode_embedding_response(self.embedder.embed_documents(texts))
        try:
            request = self.handler.decode_request(body)
        except WireFormatError as exc:
            raise _ClientFault(str(exc)) from None
        self.check_context(request.inputs, request.params.max_new_tokens)
        pieces = self.generator.stream_prompt(request.inputs, request.params)  # type: ignore[union-attr]
        if not request.stream:
            return self.handler.encode_response("".join(pieces), self.response_shape)
        return self._lines(pieces)

    def check_context(self, prompt: str, max_new_tokens: int) -> None:
        """TGI's rule: prompt tokens + max_new_tokens must fit the model's context (when the model says it)."""
        limit_of = getattr(self.generator, "context_limit", None)
        count = getattr(self.generator, "count_tokens", None)
        limit = limit_of() if limit_of else None
        if not limit or count is None:
            return
        tokens = count(prompt)
        if tokens + max_new_tokens > limit:
            raise _ClientFault(
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {limit}. "
                f"Given: {tokens} `inputs` tokens and {max_new_tokens} `max_new_tokens`"
            )

    def _lines(self, pieces: Iterator[str]) -> Iterator[bytes]:
        assert self.handler is not None
        for piece in pieces:
            if piece:
                yield self.handler.encode_stream_line(piece)

    def acquire(self) -> None:
        """A slot for one request: at once, or after waiting in the bounded queue; else ServerBusy."""
        if self._slots.acquire(blocking=False):
            return
        with self._queue_lock:
            if self._waiting >= self.queue_size:
                raise ServerBusy(
                    f"The model is busy with {self.max_concurrency} requests and {self._waiting} "
                    "waiting; try again shortly."
                )
            self._waiting += 1
        try:
            got = self.queue_wait_s > 0 and self._slots.acquire(timeout=self.queue_wait_s)
        finally:
            with self._queue_lock:
                self._waiting -= 1
        if not got:
            raise ServerBusy(f"The model stayed busy for {self.queue_wait_s:g} s; try again shortly.")

    def release(self) -> None:
        self._slots.release()

    # in-flight requests, so a shutdown can let them finish
    def begin(self) -> None:
        with self._idle:
            self._inflight += 1

    def end(self) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()

    def drain(self, timeout_s: float) -> bool:
        """Stop taking requests and wait until those in flight finished; False if time ran out."""
        self.draining = True
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout_s)


def _make_request_handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DocentModelServer/1"
        timeout = server.socket_timeout_s  # a stalled or idle connection is dropped, not held forever
        _started = 0.0

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """One access-log line per request, with the model that answered it."""
            took = (time.perf_counter() - self._started) * 1000 if self._started else 0.0
            access_log.info(
                '%s "%s" %s model=%s %.0fms', self.address_string(), self.requestline, code, server.model_name, took
            )

        # --- plumbing -------------------------------------------------------------------------
        def _send(self, status: int, body: bytes, content_type: str = JSON, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Docent-Model", server.model_name)
            if self.close_connection:
                self.send_header("Connection", "close")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _refuse(self, status: int, code: str, message: str) -> None:
            """A request refused before its body was read: answer, then close (the body is unread)."""
            self.close_connection = True
            if self.path.startswith("/endpoints/"):
                return self._aws_error(status, code, message)
            self._send(status, json.dumps({"error": message, "error_type": code}).encode("utf-8"))

        def _aws_error(self, status: int, code: str, message: str, **extra: Any) -> None:
            body = json.dumps({"message": message, **extra}).encode("utf-8")
            self._send(status, body, headers={"x-amzn-errortype": code})

        def _start_chunked(self, content_type: str, headers: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Docent-Model", server.model_name)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):X}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()

        def _end_chunked(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _body(self) -> bytes | None:
            """The request body within the size limit, or None when it was refused (already answered)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self._refuse(411, "ValidationError", "Send the request body with a Content-Length, not chunked.")
                return None
            raw = self.headers.get("Content-Length") or "0"
            if not raw.strip().isdigit():
                self._refuse(400, "ValidationError", f"Content-Length {raw[:40]!r} is not a number of bytes.")
                return None
            length = int(raw)
            if length > server.max_request_bytes:
                self._refuse(
                    413,
                    "ValidationError",
                    f"The request body is {length:,} bytes, over this endpoint's limit of "
                    f"{server.max_request_bytes:,} bytes; send a shorter prompt or fewer texts.",
                )
                return None
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                body = b""
            if len(body) < length:  # the client stalled past the socket timeout or went away
                log.info("%s sent %d of %d body bytes; connection closed", self.address_string(), len(body), length)
                self.close_connection = True
                return None
            return body

        # --- routes ---------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            self._started = time.perf_counter()
            if self.path.split("?")[0] == "/ping":
                status = 503 if server.draining else 200
                health = "Draining" if server.draining else "Healthy"
                self._send(
                    status,
                    json.dumps({"status": health, "task": server.task, "model": server.model_name}).encode("utf-8"),
                )
            else:
                self._send(404, json.dumps({"error": f"No route GET {self.path}; try GET /ping."}).encode("utf-8"))

        def do_POST(self) -> None:
            self._started = time.perf_counter()
            if server.draining:  # shutting down: finish what is in flight, take nothing new
                return self._refuse(503, "ServiceUnavailable", "The model server is shutting down; retry shortly.")
            body = self._body()
            if body is None:
                return None
            server.begin()
            try:
                self._route(body)
            finally:
                server.end()

        def _route(self, body: bytes) -> None:
            path = self.path.split("?")[0]
            if path == "/invocations":
                return self._container(body)
            match = _RUNTIME_PATH.match(path)
            if match is None:
                return self._aws_error(404, "UnknownOperationException", f"No operation at POST {self.path}.")
            try:
                server.check_endpoint(match["name"])
            except _ClientFault as exc:
                return self._aws_error(exc.status, exc.code, str(exc))
            if match["op"] == "invocations":
                return self._runtime_invoke(body)
            return self._runtime_stream(body)

        def _run(self, body: bytes) -> bytes | Iterator[bytes]:
            """The model's answer; streamed answers are primed so failures before the first token surface here."""
            server.acquire()
            try:
                result = server.answer(body)
                if isinstance(result, bytes):
                    server.release()
                    return result
                first = next(result, None)
            except BaseException:
                server.release()
                raise
            return _released(first, result, server)

        def _container(self, body: bytes) -> None:
            """SageMaker's inference-container contract: plain JSON, or JSON lines when streaming."""
            try:
                result = self._run(body)
            except ServerBusy as exc:
                return self._send(429, json.dumps({"error": str(exc), "error_type": "ThrottlingException"}).encode())
            except _ClientFault as exc:
                return self._send(exc.status, json.dumps({"error": str(exc), "error_type": exc.code}).encode("utf-8"))
            except Exception as exc:
                log.exception("model failed")
                return self._send(500, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode("utf-8"))
            if isinstance(result, bytes):
                return self._send(200, result)
            assert server.handler is not None
            self._start_chunked(server.handler.stream_content_type, {})
            self._pump(result, lambda line: line, server.handler.encode_stream_error)

        def _pump(self, result: Iterator[bytes], frame, frame_error) -> None:
            """Write a streamed answer chunk by chunk; a model failure becomes a final error chunk."""
            try:
                while True:
                    try:
                        payload = next(result)
                    except StopIteration:
                        break
                    except Exception as exc:
                        log.exception("model failed mid-stream")
                        self._chunk(frame_error(f"{type(exc).__name__}: {exc}"))
                        break
                    self._chunk(frame(payload))
                self._end_chunked()
            except OSError:  # the client went away: nothing more to say to it
                log.info("client closed the stream early")
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()

        def _runtime_failure(self, exc: BaseException) -> None:
            """Errors in the shapes the SageMaker runtime API returns them."""
            if isinstance(exc, ServerBusy):
                return self._aws_error(429, "ThrottlingException", str(exc))
            status, message = (
                (exc.status, str(exc)) if isinstance(exc, _ClientFault) else (500, f"{type(exc).__name__}: {exc}")
            )
            if not isinstance(exc, _ClientFault):
                log.error("model failed: %s", exc, exc_info=exc)
            kind = "client" if status < 500 else "server"
            return self._aws_error(
                424,
                "ModelError",
                f'Received {kind} error ({status}) from primary with message "{message}". '
                "See the model server's log for more information.",
                OriginalStatusCode=status,
                OriginalMessage=message,
            )

        def _runtime_invoke(self, body: bytes) -> None:
            try:
                result = self._run(body)
                if not isinstance(result, bytes):
                    result = b"".join(result)  # a stream asked of InvokeEndpoint: answer it whole
            except Exception as exc:
                return self._runtime_failure(exc)
            self._send(200, result, headers={"x-Amzn-Invoked-Production-Variant": server.variant})

        def _runtime_stream(self, body: bytes) -> None:
            assert server.handler is not None
            try:
                request = loads_body(body, "request")
            except WireFormatError as exc:
                return self._runtime_failure(_ClientFault(str(exc)))
            try:
                if server.generator is None:
                    raise _ClientFault("This endpoint does feature extraction; it cannot stream.")
                if isinstance(request, dict):  # the runtime streams what the container streams: ask for JSON lines
                    body = json.dumps({**request, "stream": True}).encode("utf-8")
                result = self._run(body)
            except Exception as exc:
                return self._runtime_failure(exc)
            self._start_chunked(
                EVENTSTREAM,
                {
                    "x-Amzn-Invoked-Production-Variant": server.variant,
                    "X-Amzn-SageMaker-Content-Type": server.handler.stream_content_type,
                },
            )
            self._pump(
                iter([result]) if isinstance(result, bytes) else result, encode_payload_part, encode_model_stream_error
            )

    return Handler


def _released(first: bytes | None, rest: Iterator[bytes], server: ModelServer) -> Iterator[bytes]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        server.release()


class _HTTPServer(ThreadingHTTPServer):
    """One thread per connection, but at most `max_connections`: the next ones get 503 and are closed."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int):
        super().__init__(address, handler)
        self._connections = threading.BoundedSemaphore(max(1, max_connections))

    def process_request(self, request, client_address) -> None:
        if not self._connections.acquire(blocking=False):
            try:
                body = b'{"error": "Too many connections; retry later."}'
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()


class RunningServer:
    """A model server on a background thread; `url` is what to pass as boto3's endpoint_url."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread, model_server: ModelServer | None = None):
        self.httpd, self.thread, self.model_server = httpd, thread, model_server
        host, port = httpd.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}"

    def stop(self, grace_s: float = 5.0) -> bool:
        """Stop accepting, let requests in flight finish (up to `grace_s`), close. True when all finished."""
        self.httpd.shutdown()
        finished = self.model_server.drain(grace_s) if self.model_server else True
        self.httpd.server_close()
        self.thread.join(timeout=5)
        return finished

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def make_http_server(model_server: ModelServer, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    return _HTTPServer((host, port), _make_request_handler(model_server), model_server.max_connections)


def serve_in_thread(
    generator: PromptModel | None = None,
    embedder: VectorModel | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> RunningServer:
    """Start a server on a daemon thread (port 0 picks a free port). For tests and notebooks.

    >>> with serve_in_thread(generator=LocalLLM(path)) as running:   # doctest: +SKIP
    ...     llm = SageMakerLLM("any", endpoint_url=running.url)
    """
    model_server = ModelServer(generator=generator, embedder=embedder, **options)
    httpd = make_http_server(model_server, host, port)
    thread = threading.Thread(target=httpd.serve_forever, name="docent-model-server", daemon=True)
    thread.start()
    return RunningServer(httpd, thread, model_server)


def serve_until_stopped(httpd: ThreadingHTTPServer, model_server: ModelServer, grace_s: float = 60.0) -> bool:
    """Serve until SIGTERM or SIGINT (what SageMaker and Ctrl-C send), then stop accepting, let the
    requests in flight finish (up to `grace_s`) and return; True when none was cut off."""
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %s: finishing the requests in flight, taking no new ones", signum)
            model_server.draining = True
            threading.Thread(target=httpd.shutdown, name="docent-model-server-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        httpd.serve_forever()
        return model_server.drain(grace_s)
    finally:
        httpd.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def load_model(model: str, task: Task, **options: Any) -> ModelServer:
    """Load the model for `task` now, so a bad path fails at start-up rather than on the first request."""
    if task == "feature-extraction":
        from index.embeddings import LocalEmbeddings

        embedder = LocalEmbeddings(model)
        embedder.embed_documents(["warm-up"])
        return ModelServer(embedder=embedder, **options)
    from llm.local import LocalLLM

    llm = LocalLLM(model)
    llm.load()
    return ModelServer(generator=llm, **options)


def model_display_name(model: str) -> str:
    """'out/docent-lora/' -> 'docent-lora'; a hub id stays as it is."""
    from pathlib import Path

    path = Path(model)
    return path.name if path.exists() and path.name else model


def register(app) -> None:
    import typer

    @app.command("serve-model")
    def serve_model(
        model: str = typer.Option(..., "--model", help="Model folder, PEFT adapter folder, or transformers id"),
        port: int = typer.Option(8080, "--port", help="SageMaker containers listen on 8080"),
        host: str = typer.Option("127.0.0.1", "--host", help="0.0.0.0 inside a container"),
        task: str = typer.Option("text-generation", "--task", help="text-generation or feature-extraction"),
        endpoint_name: str | None = typer.Option(None, "--endpoint-name", help="Only answer this endpoint name"),
        max_concurrency: int = typer.Option(4, "--max-concurrency", help="Requests generated at once"),
        response_shape: str = typer.Option(
            None,
            "--response-shape",
            help="lmi ({generated_text}) or tgi ([{generated_text}]): the container "
            "this server stands in for (default DOCENT_SERVE_RESPONSE_SHAPE, lmi)",
        ),
        grace_s: float = typer.Option(60.0, "--grace", help="Seconds the requests in flight get to finish on SIGTERM"),
    ) -> None:
        """Serve a model behind SageMaker's container contract and runtime API (for local testing or hosting).

        Limits (settings DOCENT_SERVE_*): request size, socket timeout, a bounded queue before 429,
        the model's context; SIGTERM lets the requests in flight finish. One access-log line per request.
        """
        from config.settings import load_settings
        from llm.protocol import LLMError

        settings = load_settings()
        shape = response_shape or settings.serve_response_shape
        if task not in ("text-generation", "feature-extraction"):
            typer.secho(
                f"--task {task!r} is not supported; use text-generation or feature-extraction.",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(2)
        if shape not in ("lmi", "tgi"):
            typer.secho(f"--response-shape {shape!r} is not supported; use lmi or tgi.", err=True, fg=typer.colors.RED)
            raise typer.Exit(2)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        try:
            model_server = load_model(
                model,
                task,
                endpoint_name=endpoint_name,
                max_concurrency=max_concurrency,  # type: ignore[arg-type]
                model_name=model_display_name(model),
                response_shape=shape,
                max_request_bytes=int(settings.serve_max_request_mb * 2**20),
                socket_timeout_s=settings.serve_socket_timeout_s,
                queue_size=settings.serve_queue_size,
                queue_wait_s=settings.serve_queue_wait_s,
            )
        except (LLMError, OSError, ValueError) as exc:
            typer.secho(f"Could not load {model!r} for {task}: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None
        httpd = make_http_server(model_server, host, port)
        url = f"http://{host}:{httpd.server_address[1]}"
        setting = "DOCENT_EMBEDDINGS_ENDPOINT" if task == "feature-extraction" else "DOCENT_SAGEMAKER_RAG_ENDPOINT"
        typer.echo(f"Serving {model} ({task}, {shape} responses) on {url}  (GET /ping, POST /invocations)")
        typer.echo(f"Use it from Docent: DOCENT_SAGEMAKER_ENDPOINT_URL={url} {setting}={endpoint_name or 'local'}")
        finished = serve_until_stopped(httpd, model_server, grace_s)
        typer.echo("Stopped." if finished else f"Stopped after {grace_s:g} s with requests still running.")
