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
import threading
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
)

log = logging.getLogger(__name__)
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
    """Serves one model. `endpoint_name=None` accepts any endpoint name on the runtime paths."""

    generator: PromptModel | None = None
    embedder: VectorModel | None = None
    endpoint_name: str | None = None
    variant: str = DEFAULT_VARIANT
    max_concurrency: int = 4
    handler: LMIHandler | None = None

    def __post_init__(self) -> None:
        if (self.generator is None) == (self.embedder is None):
            raise ValueError("ModelServer serves exactly one model: give `generator` or `embedder`.")
        self.handler = self.handler or LMIHandler()
        self._slots = threading.BoundedSemaphore(max(1, self.max_concurrency))

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
        pieces = self.generator.stream_prompt(request.inputs, request.params)  # type: ignore[union-attr]
        if not request.stream:
            return self.handler.encode_response("".join(pieces))
        return self._lines(pieces)

    def _lines(self, pieces: Iterator[str]) -> Iterator[bytes]:
        assert self.handler is not None
        for piece in pieces:
            if piece:
                yield self.handler.encode_stream_line(piece)

    def acquire(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise ServerBusy(f"The model is busy with {self.max_concurrency} requests; try again shortly.")

    def release(self) -> None:
        self._slots.release()


def _make_request_handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DocentModelServer/1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        # --- plumbing -------------------------------------------------------------------------
        def _send(self, status: int, body: bytes, content_type: str = JSON, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _aws_error(self, status: int, code: str, message: str, **extra: Any) -> None:
            body = json.dumps({"message": message, **extra}).encode("utf-8")
            self._send(status, body, headers={"x-amzn-errortype": code})

        def _start_chunked(self, content_type: str, headers: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):X}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()

        def _end_chunked(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        # --- routes ---------------------------------------------------------------------------
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/ping":
                self._send(200, json.dumps({"status": "Healthy", "task": server.task}).encode("utf-8"))
            else:
                self._send(404, json.dumps({"error": f"No route GET {self.path}; try GET /ping."}).encode("utf-8"))

        def do_POST(self) -> None:
            body = self._body()
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
                return self._send(429, json.dumps({"error": str(exc)}).encode("utf-8"))
            except _ClientFault as exc:
                return self._send(exc.status, json.dumps({"error": str(exc)}).encode("utf-8"))
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
            status, message = (exc.status, str(exc)) if isinstance(exc, _ClientFault) else (500, f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, _ClientFault):
                log.error("model failed: %s", exc, exc_info=exc)
            kind = "client" if status < 500 else "server"
            return self._aws_error(
                424, "ModelError",
                f'Received {kind} error ({status}) from primary with message "{message}". '
                "See the model server's log for more information.",
                OriginalStatusCode=status, OriginalMessage=message,
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
                request = json.loads(body)
            except ValueError as exc:
                return self._runtime_failure(_ClientFault(f"The request body is not valid JSON ({exc})."))
            try:
                if server.generator is None:
                    raise _ClientFault("This endpoint does feature extraction; it cannot stream.")
                if isinstance(request, dict):  # the runtime streams what the container streams: ask for JSON lines
                    body = json.dumps({**request, "stream": True}).encode("utf-8")
                result = self._run(body)
            except Exception as exc:
                return self._runtime_failure(exc)
            self._start_chunked(EVENTSTREAM, {
                "x-Amzn-Invoked-Production-Variant": server.variant,
                "X-Amzn-SageMaker-Content-Type": server.handler.stream_content_type,
            })
            self._pump(iter([result]) if isinstance(result, bytes) else result, encode_payload_part,
                       encode_model_stream_error)

    return Handler


def _released(first: bytes | None, rest: Iterator[bytes], server: ModelServer) -> Iterator[bytes]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        server.release()


class RunningServer:
    """A model server on a background thread; `url` is what to pass as boto3's endpoint_url."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread):
        self.httpd, self.thread = httpd, thread
        host, port = httpd.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def make_http_server(model_server: ModelServer, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer((host, port), _make_request_handler(model_server))
    httpd.daemon_threads = True
    return httpd


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
    httpd = make_http_server(ModelServer(generator=generator, embedder=embedder, **options), host, port)
    thread = threading.Thread(target=httpd.serve_forever, name="docent-model-server", daemon=True)
    thread.start()
    return RunningServer(httpd, thread)


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


def register(app) -> None:
    import typer

    @app.command("serve-model")
    def serve_model(
        model: str = typer.Option(..., "--model", help="Model folder, PEFT adapter folder, or transformers id"),
        port: int = typer.Option(8080, "--port", help="SageMaker containers listen on 8080"),
        host: str = typer.Option("127.0.0.1", "--host", help="0.0.0.0 inside a container"),
        task: str = typer.Option("text-generation", "--task", help="text-generation or feature-extraction"),
        endpoint_name: str | None = typer.Option(None, "--endpoint-name", help="Only answer this endpoint name"),
        max_concurrency: int = typer.Option(4, "--max-concurrency", help="Requests beyond this get ThrottlingException"),
    ) -> None:
        """Serve a model behind SageMaker's container contract and runtime API (for local testing or hosting)."""
        from llm.protocol import LLMError

        if task not in ("text-generation", "feature-extraction"):
            typer.secho(f"--task {task!r} is not supported; use text-generation or feature-extraction.", err=True,
                        fg=typer.colors.RED)
            raise typer.Exit(2)
        try:
            model_server = load_model(model, task, endpoint_name=endpoint_name,  # type: ignore[arg-type]
                                      max_concurrency=max_concurrency)
        except (LLMError, OSError, ValueError) as exc:
            typer.secho(f"Could not load {model!r} for {task}: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None
        httpd = make_http_server(model_server, host, port)
        url = f"http://{host}:{httpd.server_address[1]}"
        setting = "DOCENT_EMBEDDINGS_ENDPOINT" if task == "feature-extraction" else "DOCENT_SAGEMAKER_RAG_ENDPOINT"
        typer.echo(f"Serving {model} ({task}) on {url}  (GET /ping, POST /invocations)")
        typer.echo(f"Use it from Docent: DOCENT_SAGEMAKER_ENDPOINT_URL={url} {setting}={endpoint_name or 'local'}")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            typer.echo("Stopped.")
        finally:
            httpd.server_close()
