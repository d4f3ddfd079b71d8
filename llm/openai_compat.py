"""The `openai` LLM backend: any server that speaks OpenAI's streaming chat-completions API.

vLLM (``vllm serve``, base URL ``http://host:8000/v1``), TGI's Messages API (``http://host:8080/v1``),
Ollama (``http://localhost:11434/v1``), LM Studio (``http://localhost:1234/v1``) and OpenAI itself
(``https://api.openai.com/v1``) all answer ``POST {base_url}/chat/completions`` with server-sent events:

    data: {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    data: [DONE]

The wire format (request body, event parsing, chunk -> text) is the pure functions at the top; the
class only does HTTP, retries and errors.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker_protocol import StopTrimmer

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_STOP_SEQUENCES = 4  # OpenAI's limit; any further stops are trimmed client-side
MAX_RETRY_AFTER_SECONDS = 20.0
DONE = "[DONE]"


class StreamedError(RuntimeError):
    """The server reported an error inside the event stream (vLLM, TGI and LM Studio do this)."""


# --- wire format (pure) --------------------------------------------------------------------------


def chat_request(model: str, messages: Sequence[ChatMessage], params: GenerationParams, stream: bool = True) -> dict:
    """The JSON body of a chat-completions request.

    `max_tokens` (not `max_completion_tokens`) because every compatible server accepts it; `top_p` only
    when it restricts sampling, since TGI refuses 1.0; stop sequences that are blank are left to the client.

    >>> chat_request("m", [ChatMessage("user", "Hi")], GenerationParams(max_new_tokens=5, temperature=0.0))
    {'model': 'm', 'messages': [{'role': 'user', 'content': 'Hi'}], 'stream': True, 'max_tokens': 5, 'temperature': 0.0}
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": stream,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
    }
    if params.temperature > 0 and 0 < params.top_p < 1:
        body["top_p"] = params.top_p
    stops = [s for s in params.stop if s.strip()][:MAX_STOP_SEQUENCES]
    if stops:
        body["stop"] = stops
    return body


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines, comments skipped).

    >>> list(sse_data(["data: {\\"a\\": 1}", "", ": keep-alive", "data: [DONE]"]))
    ['{"a": 1}', '[DONE]']
    """
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # a server that closes without the final blank line
        yield "\n".join(data)


def text_from_chunk(chunk: Any) -> tuple[str, bool]:
    """(new text, finished) from one `chat.completion.chunk`; raises StreamedError for an error chunk."""
    if not isinstance(chunk, dict):
        raise StreamedError(f"a streamed event is not a JSON object: {chunk!r:.200}")
    if chunk.get("error"):
        raise StreamedError(error_text(chunk))
    choices = chunk.get("choices") or []  # empty in the usage chunk
    if not choices or not isinstance(choices[0], dict):
        return "", False
    choice = choices[0]
    delta = choice.get("delta") or choice.get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), bool(choice.get("finish_reason"))


def text_from_completion(body: Any) -> str:
    """The answer of a non-streamed chat completion (a server that ignored `stream: true`)."""
    if isinstance(body, dict) and body.get("error"):
        raise StreamedError(error_text(body))
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise StreamedError(f"expected choices[0].message.content, got {json.dumps(body)[:200]}") from None
    return content or ""


def error_text(body: Any) -> str:
    """The human part of an error body: OpenAI/vLLM/Ollama `{"error": {"message"}}`, TGI `{"error": "..."}`,
    FastAPI `{"detail": ...}`, or the raw text."""
    if isinstance(body, (bytes, str)):
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(raw)
        except ValueError:
            return " ".join(raw.split())[:300] or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "message", "detail"):
            if body.get(key):
                return str(body[key])
    return json.dumps(body)[:300]


def error_code(body: bytes) -> str:
    """OpenAI's machine-readable `error.code` (e.g. insufficient_quota), '' when there is none."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""


# --- HTTP ------------------------------------------------------------------------------------------


class HTTPFailure(Exception):
    """A non-200 answer, kept with what is needed to retry or explain it."""

    def __init__(self, status: int, body: bytes, retry_after: float | None):
        super().__init__(f"HTTP {status}")
        self.status, self.body, self.retry_after = status, body, retry_after
        self.message, self.code = error_text(body), error_code(body)

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUS and self.code != "insufficient_quota"


class CutOff(Exception):
    """The stream ended without `[DONE]` or a finish_reason: the connection was dropped."""


def normalise_base_url(base_url: str) -> str:
    url = (base_url or "").strip().rstrip("/")
    for suffix in ("/chat/completions", "/chat"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not url.startswith(("http://", "https://")):
        raise LLMError(
            f"DOCENT_OPENAI_BASE_URL={base_url!r} is not an http(s) URL. Use the server's OpenAI API root, e.g. "
            "http://localhost:11434/v1 (Ollama), http://localhost:8000/v1 (vLLM) or https://api.openai.com/v1."
        )
    return url


class OpenAICompatLLM:
    """An LLM behind an OpenAI-compatible chat-completions server, streamed over server-sent events.

    >>> llm = OpenAICompatLLM("http://localhost:11434/v1", "llama3.2")  # doctest: +SKIP
    >>> "".join(llm.stream([ChatMessage("user", "Hi?")], GenerationParams(max_new_tokens=20)))  # doctest: +SKIP
    'Hello! How can I help you today?'
    """

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: Any = None,
        client: Any = None,
        timeout: float = 60,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not model:
            raise LLMError("No model is set for the OpenAI-compatible server. Set DOCENT_OPENAI_MODEL (e.g. llama3.2).")
        self.base_url = normalise_base_url(base_url)
        self.model = model
        secret = api_key.get_secret_value() if hasattr(api_key, "get_secret_value") else api_key
        self._api_key: str | None = secret or None
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._client = client

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatLLM(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_settings(cls, settings: Any, client: Any = None) -> OpenAICompatLLM:
        return cls(
            settings.openai_base_url or "", settings.openai_model or "", api_key=settings.openai_api_key, client=client
        )

    @property
    def client(self):
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)))
        return self._client

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        body = chat_request(self.model, messages, params)
        response, pieces, first = self._start(body)
        received = 0

        def counted() -> Iterator[str]:
            nonlocal received
            for piece in _chain(first, pieces):
                received += len(piece)
                yield piece

        try:
            yield from StopTrimmer(params.stop).apply(counted())
        except LLMError:
            raise
        except StreamedError as exc:
            raise LLMError(f"The model '{self.model}' at {self.base_url} failed while answering: {exc}") from None
        except Exception as exc:
            raise LLMError(
                f"The OpenAI-compatible server at {self.base_url} dropped the connection after {received} characters "
                f"of the answer ({_reason(exc)}). Try again; if it keeps happening, check the server's logs."
            ) from None
        finally:  # also when the caller stops reading early: free the connection
            response.close()

    # --- internals ----------------------------------------------------------------------------------

    def _start(self, body: dict) -> tuple[Any, Iterator[str], str | None]:
        """Send the request and read up to the first text piece, retrying what is safe to retry.

        Nothing has reached the caller yet, so a 429/5xx, a refused connection or a stream that dies
        before its first token can be sent again.
        """
        for attempt in range(self.max_attempts):
            response = None
            try:
                response = self._send(body)
                pieces = self._pieces(response)
                first = next(pieces, None)
                return response, pieces, first
            except Exception as exc:
                if response is not None:
                    response.close()
                if attempt + 1 >= self.max_attempts or not self._retryable(exc):
                    raise self._describe(exc, attempts=attempt + 1) from None
                delay = self._delay(exc, attempt)
                log.warning(
                    "%s failed (%s); retry %d of %d in %.2fs",
                    self.url,
                    _reason(exc),
                    attempt + 1,
                    self.max_attempts - 1,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _send(self, body: dict):
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = self.client.build_request("POST", self.url, json=body, headers=headers)
        response = self.client.send(request, stream=True)
        if response.status_code != 200:
            content = response.read()
            response.close()
            raise HTTPFailure(response.status_code, content, _retry_after(response.headers.get("retry-after")))
        return response

    def _pieces(self, response) -> Iterator[str]:
        if response.headers.get("content-type", "").startswith("application/json"):
            text = text_from_completion(_json(response.read()))
            if text:
                yield text
            return
        finished = False
        for data in sse_data(response.iter_lines()):
            if data.strip() == DONE:
                return
            text, done = text_from_chunk(_json(data))
            finished = finished or done
            if text:
                yield text
        if not finished:
            raise CutOff("the stream ended without [DONE]")

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        import httpx

        if isinstance(exc, HTTPFailure):
            return exc.retryable
        if isinstance(exc, CutOff):
            return True
        # A read timeout is not retried: the server is up but slow, and waiting again doubles the delay.
        return isinstance(
            exc,
            (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.PoolTimeout),
        )

    def _delay(self, exc: BaseException, attempt: int) -> float:
        if isinstance(exc, HTTPFailure) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_SECONDS)
        return random.uniform(0, self.backoff_seconds * 2**attempt)

    def _describe(self, exc: BaseException, attempts: int) -> LLMError:
        import httpx

        where = f"The OpenAI-compatible server at {self.base_url}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, HTTPFailure):
            status, message = exc.status, exc.message
            if status == 401:
                if not self._api_key:
                    return LLMError(f"{where} needs an API key (401: {message}). Set DOCENT_OPENAI_API_KEY.")
                return LLMError(f"{where} refused the API key (401: {message}). Check DOCENT_OPENAI_API_KEY.")
            if status == 403:
                return LLMError(
                    f"{where} refused access to model '{self.model}' (403: {message}). Check that "
                    "DOCENT_OPENAI_API_KEY may use this model."
                )
            if status == 404:
                return LLMError(
                    f"{where} answered 404 for model '{self.model}' ({message}). Check DOCENT_OPENAI_MODEL (GET "
                    f"{self.base_url}/models lists the served models) and DOCENT_OPENAI_BASE_URL (it usually ends in /v1)."
                )
            if status == 429:
                if exc.code == "insufficient_quota":
                    return LLMError(
                        f"{where} says the account is out of quota ({message}). Check the plan and "
                        "billing of the account behind DOCENT_OPENAI_API_KEY."
                    )
                return LLMError(
                    f"{where} is rate-limiting Docent (429: {message}) and kept doing so{tries}. "
                    "Try again shortly, or raise the server's rate limit."
                )
            if status >= 500:
                return LLMError(f"{where} failed ({status}: {message}){tries}. Check the server's logs.")
            hint = ""
            if any(word in message.lower() for word in ("context", "max_tokens", "too long", "maximum")):
                hint = " The prompt may be too long: lower DOCENT_MAX_NEW_TOKENS or DOCENT_CONTEXT_TOKEN_BUDGET."
            return LLMError(f"{where} refused the request for model '{self.model}' ({status}: {message}).{hint}")
        if isinstance(exc, StreamedError):
            return LLMError(f"The model '{self.model}' at {self.base_url} failed: {exc}")
        if isinstance(exc, CutOff) or isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return LLMError(
                f"{where} closed the connection before answering ({_reason(exc)}){tries}. Check the server's logs."
            )
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return LLMError(
                f"Could not connect to the OpenAI-compatible server at {self.base_url} ({_reason(exc)}). "
                "Is the server running at that URL? Check DOCENT_OPENAI_BASE_URL."
            )
        if isinstance(exc, httpx.TimeoutException):
            return LLMError(
                f"{where} did not answer within {self.timeout:g} s. The model may be loading or "
                "overloaded; try again shortly."
            )
        if isinstance(exc, httpx.UnsupportedProtocol):
            return LLMError(f"DOCENT_OPENAI_BASE_URL={self.base_url!r} is not a URL Docent can call ({exc}).")
        return LLMError(f"Calling {where} failed: {_reason(exc)}")


def _chain(first: str | None, rest: Iterator[str]) -> Iterator[str]:
    if first is not None:
        yield first
        yield from rest


def _json(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise StreamedError(f"the server sent something that is not JSON: {data[:200]!r}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to exponential backoff
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__
