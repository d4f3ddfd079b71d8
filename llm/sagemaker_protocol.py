"""The SageMaker runtime wire format, in one place: the client (chain/) and the server (finetune/serve.py)
both import `LMIHandler`, so the two cannot drift.

What travels:

* text generation, LMI/TGI JSON: ``{"inputs": "<s>[INST] q [/INST]", "parameters": {...}, "stream": true}``;
  answers ``[{"generated_text": "..."}]`` (or the bare object); streamed answers are newline-terminated
  JSON lines ``{"token": {"text": "..."}}`` (LMI's ``{"generated_text": ...}`` / ``{"outputs": [...]}``
  lines and TGI's ``data:`` prefix are accepted too); a failure mid-stream is an ``{"error": ...}`` line.
* feature extraction: ``{"inputs": [texts]}`` answered by pooled ``[[...], ...]`` or token-level
  ``[[[...], ...], ...]`` vectors (mean-pooled here).
* the AWS event-stream binary framing the runtime API wraps a streamed answer in (PayloadPart events,
  a ModelStreamError exception event), byte-exact with botocore/eventstream.py's parser.

Everything here is pure: bytes and plain data in, bytes and plain data out.

>>> from llm.protocol import ChatMessage, GenerationParams
>>> handler = LMIHandler()
>>> body = handler.encode_request([ChatMessage("user", "Hi?")], GenerationParams(max_new_tokens=8))
>>> handler.decode_request(body).inputs
'<s>[INST] Hi? [/INST]'
>>> handler.decode_response(handler.encode_response("Hello"))
'Hello'
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm.protocol import ChatMessage, GenerationParams

JSON = "application/json"
JSONLINES = "application/jsonlines"
EVENTSTREAM = "application/vnd.amazon.eventstream"
DEFAULT_VARIANT = "AllTraffic"


class WireFormatError(ValueError):
    """A request or response body does not have the expected shape; the message says which part."""


class ModelStreamError(RuntimeError):
    """The model failed after the stream had started (an error line or a ModelStreamError event)."""

    def __init__(self, message: str, error_code: str = "ModelStreamError"):
        super().__init__(message)
        self.error_code = error_code


# --- prompt formats -----------------------------------------------------------------------------


def merge_for_alternation(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Fold system messages into the first user turn and join consecutive same-role turns.

    Mistral's template has no system role and requires strict user/assistant alternation.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    turns: list[ChatMessage] = []
    for message in messages:
        if message.role == "system":
            continue
        if turns and turns[-1].role == message.role:
            turns[-1] = ChatMessage(message.role, turns[-1].content + "\n\n" + message.content)
        else:
            turns.append(ChatMessage(message.role, message.content))
    if not turns or turns[0].role != "user":
        turns.insert(0, ChatMessage("user", ""))
    if system:
        first = turns[0].content
        turns[0] = ChatMessage("user", f"{system}\n\n{first}" if first else system)
    return turns


def mistral_prompt(messages: Sequence[ChatMessage], bos: str = "<s>", eos: str = "</s>") -> str:
    """``<s>[INST] q1 [/INST] a1</s>[INST] q2 [/INST]`` — Mistral-Instruct's format, ready for generation."""
    parts = [bos]
    for message in merge_for_alternation(messages):
        if message.role == "user":
            parts.append(f"[INST] {message.content.strip()} [/INST]")
        else:
            parts.append(f" {message.content.strip()}{eos}")
    return "".join(parts)


def plain_prompt(messages: Sequence[ChatMessage]) -> str:
    """A template-free fallback for models without an instruction format."""
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


PROMPT_FORMATS = {"mistral": mistral_prompt, "plain": plain_prompt}


# --- stop sequences -----------------------------------------------------------------------------


class StopTrimmer:
    """Cuts streamed text at the first stop sequence, holding back a possible partial match.

    TGI includes the stop sequence in its output; this removes it on the client side too.

    >>> trimmer = StopTrimmer(["</s>"])
    >>> trimmer.feed("Hello</") + trimmer.feed("s> more") + trimmer.flush()
    'Hello'
    """

    def __init__(self, stops: Iterable[str]):
        self.stops = [s for s in stops if s]
        self._pending = ""
        self.stopped = False

    def apply(self, pieces: Iterable[str]) -> Iterator[str]:
        """The streamed pieces, cut at the first stop sequence (every backend streams through this)."""
        for piece in pieces:
            out = self.feed(piece)
            if out:
                yield out
            if self.stopped:
                break
        tail = self.flush()
        if tail:
            yield tail

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self._pending += text
        cut = min((i for i in (self._pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self._pending = self._pending[:cut], ""
            return out
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(self._pending)), 0, -1):
                if self._pending.endswith(stop[:k]):
                    hold = max(hold, k)
                    break
        out = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(out) :]
        return out

    def flush(self) -> str:
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out


# --- JSON lines across chunk boundaries -----------------------------------------------------------


class JsonLineBuffer:
    """Reassembles newline-terminated JSON lines split across PayloadPart chunks.

    >>> buf = JsonLineBuffer()
    >>> buf.feed(b'{"token": {"te') + buf.feed(b'xt": "a"}}\\n{"tok')
    [{'token': {'text': 'a'}}]
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[Any]:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        return [obj for obj in (self._parse(line) for line in lines) if obj is not None]

    def flush(self) -> list[Any]:
        line, self._pending = self._pending, b""
        obj = self._parse(line)
        return [] if obj is None else [obj]

    @staticmethod
    def _parse(line: bytes) -> Any:
        line = line.strip()
        if line.startswith(b"data:"):  # TGI's server-sent-events framing
            line = line[5:].strip()
        if not line or line.startswith(b":"):
            return None
        try:
            return json.loads(line)
        except ValueError as exc:
            raise WireFormatError(f"A streamed line is not JSON: {line[:200]!r} ({exc}).") from None


# --- the handler ------------------------------------------------------------------------------------


@dataclass
class GenerationRequest:
    """A text-generation request as the server sees it."""

    inputs: str
    params: GenerationParams = field(default_factory=GenerationParams)
    stream: bool = False


class LMIHandler:
    """Encodes and decodes the LMI/TGI JSON format for text generation and feature extraction.

    >>> h = LMIHandler()
    >>> list(h.decode_stream([b'{"token": {"text": "Hel', b'lo"}}\\n{"token": {"text": "!"}}\\n']))
    ['Hello', '!']
    """

    content_type = JSON
    accept = JSON
    stream_content_type = JSONLINES

    def __init__(self, prompt_format: str = "mistral"):
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"Unknown prompt format {prompt_format!r}; use one of {sorted(PROMPT_FORMATS)}.")
        self.prompt_format = prompt_format

    # client side: generation
    def build_prompt(self, messages: Sequence[ChatMessage]) -> str:
        return PROMPT_FORMATS[self.prompt_format](messages)

    def encode_request(self, messages: Sequence[ChatMessage], params: GenerationParams, stream: bool = False) -> bytes:
        return self.encode_prompt_request(self.build_prompt(messages), params, stream)

    @staticmethod
    def encode_prompt_request(prompt: str, params: GenerationParams, stream: bool = False) -> bytes:
        parameters: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "do_sample": params.temperature > 0}
        # TGI refuses temperature=0 and top_p outside (0, 1): send them only when they mean something.
        if params.temperature > 0:
            parameters["temperature"] = params.temperature
            if 0 < params.top_p < 1:
                parameters["top_p"] = params.top_p
        if params.stop:
            parameters["stop"] = list(params.stop)
        if params.seed is not None:
            parameters["seed"] = params.seed
        payload: dict[str, Any] = {"inputs": prompt, "parameters": parameters}
        if stream:
            payload["stream"] = True
        return json.dumps(payload).encode("utf-8")

    @staticmethod
    def decode_response(body: bytes) -> str:
        data = loads_body(body, "response")
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict):
            if isinstance(data.get("generated_text"), str):
                return data["generated_text"]
            outputs = data.get("outputs")
            if isinstance(outputs, list) and outputs and isinstance(outputs[0], str):
                return outputs[0]
            if "error" in data:
                raise WireFormatError(f"The model answered with an error: {data['error']}")
        raise WireFormatError(f'Expected [{{"generated_text": ...}}] from the model, got: {body[:200]!r}.')

    @staticmethod
    def text_from_stream_line(line: Any) -> str:
        """The new text one streamed line carries ('' for special tokens and bookkeeping lines)."""
        if not isinstance(line, dict):
            raise WireFormatError(f"A streamed line is not a JSON object: {line!r:.200}.")
        if line.get("error") is not None:
            raise ModelStreamError(str(line["error"]), str(line.get("error_type") or "ModelStreamError"))
        token = line.get("token")
        if isinstance(token, dict):
            return "" if token.get("special") else str(token.get("text") or "")
        outputs = line.get("outputs")
        if isinstance(outputs, list):
            return "".join(str(o) for o in outputs)
        if isinstance(line.get("generated_text"), str):
            return line["generated_text"]
        return ""

    def decode_stream(self, chunks: Iterable[bytes]) -> Iterator[str]:
        """Text pieces from raw byte chunks of a JSON-lines stream (chunk boundaries anywhere)."""
        buffer = JsonLineBuffer()
        for chunk in chunks:
            for line in buffer.feed(chunk):
                text = self.text_from_stream_line(line)
                if text:
                    yield text
        for line in buffer.flush():
            text = self.text_from_stream_line(line)
            if text:
                yield text

    # server side: generation
    @staticmethod
    def decode_request(body: bytes) -> GenerationRequest:
        """Parse and validate a generation request; a bad value is a WireFormatError naming it (400).

        Accepts TGI's and LMI's names: `stop` or `stop_sequences`, `seed`, `do_sample`, `top_k` is
        checked but ignored by the local model.
        """
        data = loads_body(body, "request")
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), str):
            raise WireFormatError('The request needs {"inputs": "<prompt>"} with the prompt as a string.')
        raw = data.get("parameters") or {}
        if not isinstance(raw, dict):
            raise WireFormatError('"parameters" must be a JSON object.')
        defaults = GenerationParams()
        do_sample = raw.get("do_sample", "temperature" in raw)
        if not isinstance(do_sample, bool):
            raise WireFormatError('Input validation error: "do_sample" must be true or false.')
        max_new_tokens = _number(raw, "max_new_tokens", int, defaults.max_new_tokens, 1, MAX_NEW_TOKENS_LIMIT)
        temperature = _number(raw, "temperature", float, defaults.temperature, 0.0, 100.0, low_open=True)
        top_p = _number(raw, "top_p", float, 1.0, 0.0, 1.0, low_open=True)
        _number(raw, "top_k", int, 1, 1, 1_000_000)
        _number(raw, "repetition_penalty", float, 1.0, 0.0, 100.0, low_open=True)
        seed = _number(raw, "seed", int, None, 0, 2**64 - 1)
        stop = _stops(raw)
        params = GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=temperature if do_sample else 0.0,
            top_p=top_p,
            stop=stop,
            seed=seed,
        )
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise WireFormatError('Input validation error: "stream" must be true or false.')
        return GenerationRequest(data["inputs"], params, stream)

    @staticmethod
    def encode_response(text: str, shape: str = "tgi", model: str | None = None) -> bytes:
        """TGI answers ``[{"generated_text": ...}]``, the LMI container ``{"generated_text": ...}``."""
        if shape == "lmi":
            return json.dumps({"generated_text": text}).encode("utf-8")
        return json.dumps([{"generated_text": text}]).encode("utf-8")

    @staticmethod
    def encode_stream_line(text: str) -> bytes:
        return json.dumps({"token": {"text": text}}).encode("utf-8") + b"\n"

    @staticmethod
    def encode_stream_error(message: str) -> bytes:
        return json.dumps({"error": message, "error_type": "ModelStreamError"}).encode("utf-8") + b"\n"

    # feature extraction
    @staticmethod
    def encode_embedding_request(texts: Sequence[str]) -> bytes:
        return json.dumps({"inputs": list(texts)}).encode("utf-8")

    @staticmethod
    def decode_embedding_request(body: bytes) -> list[str]:
        data = loads_body(body, "request")
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            raise WireFormatError('The request needs {"inputs": ["text", ...]} with a list of strings.')
        return inputs

    @staticmethod
    def encode_embedding_response(vectors: np.ndarray) -> bytes:
        return json.dumps(np.asarray(vectors, dtype=np.float32).tolist()).encode("utf-8")

    @staticmethod
    def decode_embedding_response(body: bytes, expected: int) -> np.ndarray:
        """One pooled float32 vector per input; token-level output is mean-pooled."""
        data = loads_body(body, "response")
        if isinstance(data, dict):
            data = data.get("embeddings", data.get("vectors"))
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else type(data).__name__
            raise WireFormatError(f"Expected {expected} vectors from the embeddings endpoint, got {got}.")
        pooled = []
        for item in data:
            array = np.asarray(item, dtype=np.float32)
            while array.ndim > 1:  # [tokens, dim] or [1, tokens, dim]: mean over everything but the last axis
                array = array.reshape(-1, array.shape[-1]).mean(axis=0)
            if array.ndim != 1 or array.size == 0:
                raise WireFormatError("The embeddings endpoint returned an empty or scalar vector.")
            pooled.append(array)
        if len({v.shape[0] for v in pooled}) > 1:
            raise WireFormatError("The embeddings endpoint returned vectors of different sizes.")
        return np.stack(pooled) if pooled else np.zeros((0, 0), dtype=np.float32)


MAX_JSON_DEPTH = 64  # the runtime's bodies nest three or four levels; this is far beyond any real one


def _too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON in `body` nests arrays/objects deeper than `limit` (brackets inside strings do not count).

    Checked before parsing, so a hostile body never drives the parser to the interpreter's recursion limit
    (where any finaliser the garbage collector runs fails too). Bodies with few brackets skip the scan.

    >>> _too_deep(b'{"inputs": "[[[[", "parameters": {"stop": ["]"]}}', limit=3)
    False
    >>> _too_deep(b"[" * 3 + b"]" * 3, limit=2)
    True
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def loads_body(body: bytes, what: str) -> Any:
    """`body` parsed as JSON, or a WireFormatError naming `what` ("request", "response") and the fault."""
    if _too_deep(body):
        raise WireFormatError(f"The {what} body is nested too deeply to be a request (over {MAX_JSON_DEPTH} levels).")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireFormatError(f"The {what} body is not valid JSON ({exc}): {body[:200]!r}.") from None
    except RecursionError:
        raise WireFormatError(f"The {what} body is nested too deeply to be a request.") from None


MAX_NEW_TOKENS_LIMIT = 1_000_000  # a sanity bound; the model's context limit is checked by the server
MAX_STOP_SEQUENCES = 8
MAX_STOP_CHARS = 256


def _number(raw: dict, name: str, kind: type, default: Any, low: float, high: float, low_open: bool = False) -> Any:
    """A numeric parameter checked like TGI's validation: the right type and within its range."""
    if name not in raw or raw[name] is None:
        return default
    value = raw[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not float(value).is_integer())
    ):
        raise WireFormatError(
            f'Input validation error: "{name}" must be {"an integer" if kind is int else "a number"},'
            f" got {json.dumps(value)[:50]}."
        )
    value = kind(value)
    if value < low or value > high or (low_open and value == low):
        bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
        raise WireFormatError(f'Input validation error: "{name}" must be {bound} and at most {high:g}, got {value}.')
    return value


def _stops(raw: dict) -> tuple[str, ...]:
    """`stop` (TGI) or `stop_sequences` (LMI): a string or a short list of short strings."""
    stop = raw.get("stop_sequences", raw.get("stop")) or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise WireFormatError('Input validation error: "stop_sequences" must be a list of strings.')
    if len(stop) > MAX_STOP_SEQUENCES or any(len(s) > MAX_STOP_CHARS for s in stop):
        raise WireFormatError(
            f"Input validation error: at most {MAX_STOP_SEQUENCES} stop sequences of at most "
            f"{MAX_STOP_CHARS} characters each."
        )
    return tuple(s for s in stop if s)


# --- AWS event-stream framing ------------------------------------------------------------------------

_STRING_HEADER = 7


def _encode_headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value
    return out


def encode_event(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers, payload, CRC32."""
    header_bytes = _encode_headers(headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    message = prelude + struct.pack(">I", crc32(prelude) & 0xFFFFFFFF) + header_bytes + payload
    return message + struct.pack(">I", crc32(message) & 0xFFFFFFFF)


def encode_payload_part(payload: bytes) -> bytes:
    """A PayloadPart event, as InvokeEndpointWithResponseStream sends each piece of the answer."""
    return encode_event(
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"},
        payload,
    )


def encode_model_stream_error(message: str, error_code: str = "ModelError") -> bytes:
    """The exception event botocore raises as EventStreamError(code='ModelStreamError')."""
    body = json.dumps({"Message": message, "ErrorCode": error_code}).encode("utf-8")
    return encode_event(
        {":exception-type": "ModelStreamError", ":content-type": JSON, ":message-type": "exception"}, body
    )
