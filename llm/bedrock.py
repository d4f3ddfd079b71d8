"""The `bedrock` LLM backend: a foundation model on Amazon Bedrock, streamed through ConverseStream.

Converse is Bedrock's model-agnostic chat API (Claude, Llama, Mistral, Nova, ...): Docent sends chat
turns with ``[{"text": ...}]`` content blocks and a separate ``system`` list, and reads the
``contentBlockDelta`` events of the answer. IAM needs ``bedrock:InvokeModelWithResponseStream``.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker import error_code, is_retryable, runtime_client_config
from llm.sagemaker_protocol import StopTrimmer

log = logging.getLogger(__name__)

# Compared in lower case: the HTTP errors say "ThrottlingException", the stream's exception events
# "throttlingException".
RETRYABLE_CODES = {
    "throttlingexception",
    "modeltimeoutexception",
    "serviceunavailableexception",
    "internalserverexception",
    "modelnotreadyexception",
    "modelstreamerrorexception",
}
SETTING = "DOCENT_BEDROCK_MODEL_ID"
EXAMPLE_ID = "anthropic.claude-3-haiku-20240307-v1:0"


# --- request shape (pure) ------------------------------------------------------------------------


def converse_request(
    model_id: str, messages: Sequence[ChatMessage], params: GenerationParams, send_top_p: bool = True
) -> dict[str, Any]:
    """The keyword arguments of `converse_stream`.

    Converse wants non-empty text, a conversation that starts with a user turn and alternates, and the
    system prompt apart; consecutive turns of one role are joined.

    >>> converse_request("m", [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")],
    ...                  GenerationParams(max_new_tokens=5, temperature=0.0))
    {'modelId': 'm', 'messages': [{'role': 'user', 'content': [{'text': 'Hi'}]}], 'inferenceConfig': {'maxTokens': 5, 'temperature': 0.0}, 'system': [{'text': 'Be brief.'}]}
    """
    system = [{"text": m.content} for m in messages if m.role == "system" and m.content.strip()]
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system" or not message.content.strip():
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"][0]["text"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": [{"text": message.content}]})
    if not turns:
        raise LLMError("There is no question to send to Bedrock: every chat message was empty.")
    if turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"text": "(conversation so far)"}]})
    config: dict[str, Any] = {"maxTokens": params.max_new_tokens, "temperature": params.temperature}
    if send_top_p and params.temperature > 0 and 0 < params.top_p < 1:
        config["topP"] = params.top_p
    stops = [s for s in params.stop if s.strip()]  # Bedrock rejects blank stop sequences; the client trims those
    if stops:
        config["stopSequences"] = stops
    request: dict[str, Any] = {"modelId": model_id, "messages": turns, "inferenceConfig": config}
    if system:
        request["system"] = system
    return request


def text_events(events: Iterator[dict]) -> Iterator[str]:
    """The text of each `contentBlockDelta` event (tool use, reasoning and bookkeeping events are skipped)."""
    for event in events:
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        if delta.get("text"):
            yield delta["text"]


# --- client and errors ------------------------------------------------------------------------------


def build_bedrock_client(region: str | None = None, max_attempts: int = 4):
    """A boto3 `bedrock-runtime` client; pass DOCENT_AWS_REGION (an unset region comes from boto3's configuration)."""
    import boto3

    session = boto3.session.Session()
    region = region or session.region_name
    if not region:
        raise LLMError(
            "No AWS region is set for Bedrock. Set DOCENT_AWS_REGION to a region where the model is "
            "enabled (e.g. us-east-1)."
        )
    # Long answers stream for a while; the read timeout is per read, so 120 s only trips on a stalled model.
    return session.client(
        "bedrock-runtime", region_name=region, config=runtime_client_config(max_attempts, read_timeout=120.0)
    )


def retryable(exc: BaseException) -> bool:
    return is_retryable(exc) or (error_code(exc) or "").lower() in RETRYABLE_CODES


def describe_bedrock_error(exc: BaseException, model_id: str, region: str | None, attempts: int = 1) -> str:
    """A sentence for a person: what failed, for which model and region, what to do."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    where = f"Bedrock model '{model_id}'" + (f" in region {region}" if region else "")
    region_text = region or "DOCENT_AWS_REGION"
    if isinstance(exc, NoCredentialsError):
        return (
            f"No AWS credentials were found to call {where}. Configure an AWS profile or role for Docent "
            "(or set AWS_BEARER_TOKEN_BEDROCK to a Bedrock API key)."
        )
    if isinstance(exc, NoRegionError):
        return f"No AWS region is set for {where}. Set DOCENT_AWS_REGION (e.g. us-east-1)."
    if not isinstance(exc, ClientError):
        return f"Could not reach {where}: {exc}. Check the network path to Bedrock and DOCENT_AWS_REGION."
    code = error_code(exc) or "Error"
    message = exc.response.get("Error", {}).get("Message", "") or ""
    lowered, key = message.lower(), code.lower()
    if key == "accessdeniedexception":
        return (
            f"Access to {where} was denied ({message}). Enable access to this model in the Bedrock console "
            f"(Model access) for region {region_text}, and allow Docent's AWS identity "
            "bedrock:InvokeModelWithResponseStream on it."
        )
    if key in {"unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception"}:
        return f"AWS did not accept Docent's credentials for {where} ({code}: {message}). Refresh the credentials."
    if key == "validationexception":
        if "on-demand throughput" in lowered or "inference profile" in lowered:
            return (
                f"{where} cannot be called by its plain id ({message}). Set {SETTING} to an inference profile id "
                f"instead: the model id with a geography prefix, e.g. us.{model_id} or eu.{model_id}."
            )
        if "model identifier" in lowered or "model id" in lowered:
            return (
                f"Bedrock does not know the model id '{model_id}' ({message}). Check {SETTING} "
                f"(e.g. {EXAMPLE_ID}) and that the model is offered in region {region_text}."
            )
        if "maxtokens" in lowered or "max_tokens" in lowered or "too long" in lowered:
            return (
                f"{where} refused the request ({message}). Lower DOCENT_MAX_NEW_TOKENS or "
                "DOCENT_CONTEXT_TOKEN_BUDGET to fit the model's limits."
            )
        return f"{where} refused the request ({message}). Check {SETTING} and the generation settings."
    if key == "resourcenotfoundexception":
        return (
            f"{where} was not found ({message}). Check {SETTING} and DOCENT_AWS_REGION; the model may be retired "
            "or not offered in this region."
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if key in {"modelerrorexception", "modelstreamerrorexception"}:
        return f"The model behind {where} failed while answering ({message}){tries}. Try again shortly."
    if key == "modeltimeoutexception":
        return f"{where} did not answer in time ({message}){tries}. Try again shortly, or lower DOCENT_MAX_NEW_TOKENS."
    if key in RETRYABLE_CODES or retryable(exc):
        tries = f"; it kept failing after {attempts} attempts" if attempts > 1 else ""
        quota = " or ask for a higher quota (Service Quotas > Amazon Bedrock)" if key == "throttlingexception" else ""
        return f"{where} is busy or unavailable ({code}: {message}){tries}. Try again shortly{quota}."
    return f"{where} returned {code}: {message}"


class BedrockLLM:
    """A foundation model on Amazon Bedrock, streamed through the Converse API.

    >>> llm = BedrockLLM("anthropic.claude-3-haiku-20240307-v1:0", region="us-east-1")  # doctest: +SKIP
    >>> "".join(llm.stream([ChatMessage("user", "Hi?")], GenerationParams(max_new_tokens=20)))  # doctest: +SKIP
    'Hello! How can I help you today?'
    """

    backend = "bedrock"

    def __init__(
        self,
        model_id: str,
        client: Any = None,
        region: str | None = None,
        stream_start_attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not model_id:
            raise LLMError(f"No Bedrock model is set. Set {SETTING} (e.g. {EXAMPLE_ID}).")
        self.model = model_id
        self.model_id = model_id
        self.stream_start_attempts = max(1, stream_start_attempts)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._region = region
        self._client = client
        # Newer Claude models refuse temperature together with top_p; learnt from the first refusal.
        self._send_top_p = True

    @classmethod
    def from_settings(cls, settings: Any, client: Any = None) -> BedrockLLM:
        return cls(settings.bedrock_model_id or "", client=client, region=settings.aws_region)

    @property
    def client(self):
        if self._client is None:
            self._client = build_bedrock_client(self._region)
        return self._client

    @property
    def region(self) -> str | None:
        return getattr(getattr(self._client, "meta", None), "region_name", None) or self._region

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        response, pieces, first = self._start(messages, params)
        try:
            yield from StopTrimmer(params.stop).apply(itertools.chain([first] if first is not None else [], pieces))
        except LLMError:
            raise
        except Exception as exc:
            raise LLMError(describe_bedrock_error(exc, self.model_id, self.region)) from None
        finally:  # also when the caller stops reading early: free the connection
            stream = response.get("stream")
            if hasattr(stream, "close"):
                stream.close()

    def _start(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[dict, Iterator[str], str | None]:
        """Call ConverseStream and read up to the first text piece, retrying what is safe to retry.

        Throttling can arrive as the HTTP answer or as the stream's first event; either way nothing has
        reached the caller yet, so the call is repeated with backoff.
        """
        attempt = 0
        while True:
            request = converse_request(self.model_id, messages, params, send_top_p=self._send_top_p)
            response: dict = {}
            try:
                response = self.client.converse_stream(**request)
                pieces = text_events(iter(response["stream"]))
                return response, pieces, next(pieces, None)
            except LLMError:
                raise
            except Exception as exc:
                stream = response.get("stream")
                if hasattr(stream, "close"):
                    stream.close()
                if self._send_top_p and "topP" in request["inferenceConfig"] and _refuses_top_p(exc):
                    log.info("Bedrock model %s refuses top_p with temperature; sending temperature only", self.model_id)
                    self._send_top_p = False
                    continue
                attempt += 1
                if attempt >= self.stream_start_attempts or not retryable(exc):
                    raise LLMError(describe_bedrock_error(exc, self.model_id, self.region, attempt)) from None
                delay = random.uniform(0, self.backoff_seconds * 2 ** (attempt - 1))
                log.warning(
                    "Bedrock %s failed (%s); retry %d of %d in %.2fs",
                    self.model_id,
                    error_code(exc) or exc,
                    attempt,
                    self.stream_start_attempts - 1,
                    delay,
                )
                self._sleep(delay)


def _refuses_top_p(exc: BaseException) -> bool:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")).lower()
    return (error_code(exc) or "").lower() == "validationexception" and ("top_p" in message or "topp" in message)
