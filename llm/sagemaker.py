"""The `sagemaker` LLM backend: a SageMaker real-time endpoint (LMI/TGI container or `docent serve-model`).

The wire format lives in sagemaker_protocol.LMIHandler, shared with the server.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker_protocol import LMIHandler, ModelStreamError, StopTrimmer, WireFormatError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalStreamFailure",
    "ModelNotReadyException",
    "InternalDependencyException",
}


def runtime_client_config(max_attempts: int = 4, read_timeout: float = 70.0):
    """botocore Config for sagemaker-runtime: standard retries (throttling, 5xx, connection errors).

    `max_attempts` counts the first call too (botocore's `total_max_attempts`).

    SageMaker lets a model take 60 s, so the read timeout is a little longer (AWS's own advice).
    """
    from botocore.config import Config

    return Config(
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        read_timeout=read_timeout,
        connect_timeout=5,
    )


def build_runtime_client(region: str | None = None, endpoint_url: str | None = None, max_attempts: int = 4):
    """A boto3 `sagemaker-runtime` client; an unset region comes from boto3's own configuration.

    A loopback `endpoint_url` (a local `docent serve-model`) works without AWS credentials.
    """
    import boto3

    session = boto3.session.Session()
    kwargs: dict[str, Any] = {}
    if endpoint_url and urlparse(endpoint_url).hostname in {"127.0.0.1", "localhost", "::1"}:
        region = region or "us-east-1"
        if session.get_credentials() is None:  # the local server does not check signatures
            kwargs = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    if not region:
        raise LLMError(
            "No AWS region is set for SageMaker. Set DOCENT_AWS_REGION (e.g. eu-west-1), or "
            "DOCENT_SAGEMAKER_ENDPOINT_URL for a local `docent serve-model`."
        )
    return session.client(
        "sagemaker-runtime",
        region_name=region,
        endpoint_url=endpoint_url,
        config=runtime_client_config(max_attempts),
        **kwargs,
    )


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def is_retryable(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_code(exc) in RETRYABLE_CODES or status == 429 or status >= 500
    return False


def call_with_backoff(
    fn: Callable[[], T], attempts: int, base_seconds: float, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Call `fn`, retrying retryable AWS errors with exponential backoff and full jitter."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if attempt + 1 >= attempts or not is_retryable(exc):
                raise
            delay = random.uniform(0, base_seconds * 2**attempt)
            log.warning(
                "%s failed (%s); retry %d of %d in %.2fs",
                what,
                error_code(exc) or exc,
                attempt + 1,
                attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")


def describe_aws_error(exc: BaseException, endpoint_name: str, setting: str, region: str | None) -> str:
    """A sentence for a person: what failed, on which endpoint, what to do."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    where = f"SageMaker endpoint '{endpoint_name}'" + (f" (region {region})" if region else "")
    logs = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    if isinstance(exc, NoCredentialsError):
        return f"No AWS credentials were found to call {where}. Configure an AWS profile or role for Docent."
    if isinstance(exc, NoRegionError):
        return f"No AWS region is set for {where}. Set DOCENT_AWS_REGION (e.g. eu-west-1)."
    if isinstance(exc, ClientError):
        code, message = error_code(exc), exc.response.get("Error", {}).get("Message", "")
        if code == "ValidationError":
            if "not found" in message.lower() or "could not find" in message.lower():
                return (
                    f"{where} does not exist. Check {setting}={endpoint_name!r}, the region, and that the "
                    "endpoint is InService (docent finetune deploy creates it)."
                )
            return f"{where} refused the request: {message}"
        if code == "ModelError":
            original = exc.response.get("OriginalMessage") or message
            return (
                f"The model behind {where} failed: {original}. See the endpoint's logs in CloudWatch "
                f"(log group {logs})."
            )
        if code == "ModelStreamError":
            return (
                f"The model behind {where} failed while streaming the answer: {message}. See CloudWatch "
                f"log group {logs}."
            )
        if code in RETRYABLE_CODES:
            return (
                f"{where} is busy or unavailable ({code}: {message}); it kept failing after retries. Try again shortly."
            )
        if code in {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"}:
            return f"Docent's AWS identity may not call {where} ({code}): allow sagemaker:InvokeEndpoint."
        return f"{where} returned {code}: {message}"
    return f"Could not reach {where}: {exc}"


class SageMakerLLM:
    """An LLM served by a SageMaker endpoint, streamed through InvokeEndpointWithResponseStream.

    >>> llm = SageMakerLLM("docent-mistral", endpoint_url="http://127.0.0.1:8080")  # doctest: +SKIP
    >>> "".join(llm.stream([ChatMessage("user", "Hi?")], GenerationParams(max_new_tokens=20)))  # doctest: +SKIP
    'Hello! How can I help?'
    """

    backend = "sagemaker"

    def __init__(
        self,
        endpoint_name: str,
        client: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        prompt_format: str = "mistral",
        streaming: bool = True,
        setting: str = "DOCENT_SAGEMAKER_RAG_ENDPOINT",
        stream_start_attempts: int = 3,
        backoff_seconds: float = 0.5,
    ):
        if not endpoint_name:
            raise LLMError(f"No SageMaker endpoint name is set. Set {setting} to the endpoint's name.")
        self.model = endpoint_name
        self.endpoint_name = endpoint_name
        self.handler = LMIHandler(prompt_format)
        self.streaming = streaming
        self.setting = setting
        self.stream_start_attempts = max(1, stream_start_attempts)
        self.backoff_seconds = backoff_seconds
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @classmethod
    def from_settings(cls, settings: Any, which: str = "rag", client: Any = None) -> SageMakerLLM:
        """The RAG (base model) or the fine-tuned endpoint named in Docent's settings."""
        setting = "DOCENT_SAGEMAKER_FINETUNED_ENDPOINT" if which == "finetuned" else "DOCENT_SAGEMAKER_RAG_ENDPOINT"
        name = settings.sagemaker_finetuned_endpoint if which == "finetuned" else settings.sagemaker_rag_endpoint
        return cls(
            name or "",
            client=client,
            region=settings.aws_region,
            endpoint_url=settings.sagemaker_endpoint_url,
            prompt_format=settings.sagemaker_prompt_format,
            setting=setting,
        )

    @property
    def client(self):
        if self._client is None:
            self._client = build_runtime_client(self._region, self._endpoint_url)
        return self._client

    def _fail(self, exc: BaseException) -> LLMError:
        region = getattr(getattr(self._client, "meta", None), "region_name", None) or self._region
        return LLMError(describe_aws_error(exc, self.endpoint_name, self.setting, region))

    def invoke(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str:
        """The whole answer in one InvokeEndpoint call."""
        body = self.handler.encode_request(messages, params)

        def call():
            return self.client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                Body=body,
                ContentType=self.handler.content_type,
                Accept=self.handler.accept,
            )

        try:
            response = call_with_backoff(call, self.stream_start_attempts, self.backoff_seconds, self.endpoint_name)
            text = self.handler.decode_response(response["Body"].read())
        except LLMError:
            raise
        except WireFormatError as exc:
            raise LLMError(
                f"SageMaker endpoint '{self.endpoint_name}' answered in an unexpected format: {exc}"
            ) from None
        except Exception as exc:
            raise self._fail(exc) from None
        trimmer = StopTrimmer(params.stop)
        return trimmer.feed(text) + trimmer.flush()

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
        if not self.streaming:
            text = self.invoke(messages, params)
            if text:
                yield text
            return
        body = self.handler.encode_request(messages, params, stream=True)

        def start():
            # The first event is read inside the retry loop: a stream that dies before any text is safe to retry.
            response = self.client.invoke_endpoint_with_response_stream(
                EndpointName=self.endpoint_name,
                Body=body,
                ContentType=self.handler.content_type,
                Accept=self.handler.stream_content_type,
            )
            events = iter(response["Body"])
            first = next(events, None)
            return response, events, first

        try:
            response, events, first = call_with_backoff(
                start, self.stream_start_attempts, self.backoff_seconds, self.endpoint_name
            )
        except Exception as exc:
            raise self._fail(exc) from None

        def payloads() -> Iterator[bytes]:
            if first is not None:
                yield from _payload_bytes(first)
            for event in events:
                yield from _payload_bytes(event)

        try:
            yield from StopTrimmer(params.stop).apply(self.handler.decode_stream(payloads()))
        except ModelStreamError as exc:
            raise LLMError(
                f"The model behind SageMaker endpoint '{self.endpoint_name}' failed while streaming the answer: "
                f"{exc}. See CloudWatch log group /aws/sagemaker/Endpoints/{self.endpoint_name}."
            ) from None
        except WireFormatError as exc:
            raise LLMError(f"SageMaker endpoint '{self.endpoint_name}' streamed an unexpected format: {exc}") from None
        except LLMError:
            raise
        except Exception as exc:
            raise self._fail(exc) from None
        finally:  # also when the caller stops reading early: free the connection
            body_stream = response.get("Body")
            if hasattr(body_stream, "close"):
                body_stream.close()


def _payload_bytes(event: dict) -> Iterator[bytes]:
    part = event.get("PayloadPart")
    if part and part.get("Bytes"):
        yield part["Bytes"]
