"""One typed settings object, read from DOCENT_* environment variables and `.env`.

Every backend is chosen here; production swaps parts through settings, never code edits.
Bad combinations are refused at start-up with a message that says how to fix them.

>>> from config.settings import Settings
>>> Settings(data_dir="/tmp/docent").index_backend
'embedded'
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import DocentError

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class ConfigError(DocentError, ValueError):
    """A setting or a combination of settings is wrong; the message says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCENT_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Everything the embedded default writes.")

    # --- index ---------------------------------------------------------------------------
    index_backend: Literal["embedded", "opensearch"] = "embedded"
    opensearch_url: str | None = Field(None, description="e.g. https://search-x.eu-west-1.es.amazonaws.com")
    opensearch_index: str = "docent-chunks"
    opensearch_auth: Literal["none", "basic", "sigv4"] = "none"
    opensearch_service: Literal["es", "aoss"] = Field("es", description="es = managed domain, aoss = Serverless")
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = True
    aws_region: str | None = Field(None, description="AWS region for SigV4, SageMaker and DynamoDB")

    # --- embeddings ----------------------------------------------------------------------
    embeddings_backend: Literal["local", "sagemaker"] = "local"
    embeddings_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Hub id or local path; the default loads the packaged MiniLM offline.",
    )
    embeddings_endpoint: str | None = Field(None, description="SageMaker feature-extraction endpoint")
    embeddings_batch_size: int | None = Field(
        None,
        ge=1,
        description="Texts embedded per batch [default: 1 on ONNX Runtime, where padding a batch to its longest "
        "text cost more than batching saved (docs/benchmarks.md); 64 on PyTorch and a SageMaker endpoint]",
    )
    # issue 14: ONNX Runtime embedder (index/onnx_embeddings.py)
    embeddings_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="local embedder: onnx (onnxruntime), torch (sentence-transformers); auto = onnx if installed",
    )
    embeddings_quantize: Literal["none", "int8"] = Field(
        "none", description="int8 = dynamically quantised ONNX model: faster, other vectors (rebuild the index)"
    )
    embeddings_onnx_cache_dir: Path | None = Field(
        None, description="where ONNX exports are kept (default DATA_DIR/cache/onnx); tests share one folder"
    )

    # --- chunking ------------------------------------------------------------------------
    child_chunk_chars: int = Field(500, ge=100, description="Size of the small chunks that are matched")
    child_overlap_chars: int = Field(80, ge=0)
    parent_chunk_chars: int = Field(2400, ge=200, description="Largest parent section the answer step reads")

    # --- retrieval -----------------------------------------------------------------------
    retrieval_top_k: int = Field(5, ge=1, description="Parent passages handed to the answer step")
    retrieval_candidates: int = Field(60, ge=5, description="Children fetched per retriever before fusion")

    # --- issue 10 (answers): questions in other languages ---------------------------------
    documents_language: str = Field(
        "en",
        pattern=r"^[a-z]{2}$",
        description="ISO 639-1 code of the documents' language; questions in another one are translated by the "
        "LLM, or answered with a message in the user's language when no LLM is configured",
    )

    # --- issue 10 (confidence): calibrated probabilities --------------------------------------
    calibration_path: Path | None = Field(
        None,
        description="JSON written by `docent calibrate` that maps each route's raw score to the probability "
        "the answer is right [default: DATA_DIR/calibration.json; identity while there is none]",
    )

    # --- answer chain --------------------------------------------------------------------
    llm_backend: Literal["extractive", "local", "sagemaker", "bedrock", "openai"] = "extractive"
    local_model: str = Field("Qwen/Qwen2.5-0.5B-Instruct", description="transformers id or path for llm_backend=local")
    sagemaker_endpoint_url: str | None = Field(
        None, description="Override the SageMaker runtime URL (e.g. a local `docent serve-model`)"
    )
    sagemaker_rag_endpoint: str | None = None
    sagemaker_finetuned_endpoint: str | None = None
    sagemaker_prompt_format: Literal["mistral", "plain"] = Field(
        "mistral", description="How chat messages become the endpoint's `inputs` string (<s>[INST] q [/INST])"
    )
    bedrock_model_id: str | None = None
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.1, ge=0.0)
    context_token_budget: int = Field(1800, ge=100)
    max_question_chars: int = Field(2000, ge=10)
    router_threshold: float | None = Field(
        None, description="Override the router's decision threshold (default measured in bench/)"
    )
    qa_set_path: Path | None = Field(
        None, description="CSV/JSONL imported into the fine-tuning set when the set is empty (first start)"
    )

    # --- conversations + feedback --------------------------------------------------------
    store_backend: Literal["sqlite", "dynamodb"] = "sqlite"
    dynamodb_table_prefix: str = "docent"
    dynamodb_endpoint_url: str | None = Field(None, description="e.g. http://127.0.0.1:4567 for dynalite")

    # --- identity ------------------------------------------------------------------------
    auth_mode: Literal["local", "oidc", "header"] = "local"
    auth_header: str = Field("X-Amzn-Oidc-Identity", description="Trusted reverse-proxy header (auth_mode=header)")
    role_reviewers: str = Field("", description="Comma-separated users or email domains (@corp.com)")
    role_analysts: str = ""
    role_admins: str = ""

    # --- Large and hostile files; the model server (issue 11, items 7 and 8) ---
    ingest_max_chunks_per_file: int = Field(
        100_000, ge=1, description="A file that splits into more chunks is skipped with the reason (split it)"
    )
    ingest_max_office_uncompressed_mb: int = Field(
        128, ge=1, description="A .docx/.xlsx that expands to more than this (all its zip parts) is refused"
    )
    ingest_max_office_ratio: int = Field(
        100, ge=2, description="A .docx/.xlsx part over 8 MiB that expands more than this many times is a zip bomb"
    )
    serve_response_shape: Literal["lmi", "tgi"] = Field(
        "lmi", description="serve-model answers like the LMI container ({generated_text}) or TGI ([{...}])"
    )
    serve_max_request_mb: float = Field(6.0, gt=0, description="serve-model refuses larger request bodies (413)")
    serve_socket_timeout_s: float = Field(60.0, gt=0, description="serve-model drops a connection idle this long")
    serve_queue_size: int = Field(16, ge=0, description="serve-model requests that wait for a slot before 429")
    serve_queue_wait_s: float = Field(30.0, ge=0, description="longest wait in serve-model's queue before 429")
    # --- hardening (issue 11): text limits, where the app listens, the load balancer's signed identity --
    max_comment_chars: int = Field(2000, ge=10, description="Longest feedback comment (characters)")
    max_answer_chars: int = Field(8000, ge=10, description="Longest corrected answer or imported Q&A answer")
    server_address: str = Field(
        "127.0.0.1", description="Where `docent app` listens; 0.0.0.0 only behind a load balancer or container port"
    )
    server_port: int = Field(8501, ge=1, le=65535)
    auth_alb_arns: str = Field(
        "", description="auth_mode=header: comma-separated ARNs of the ALBs whose signed x-amzn-oidc-data is accepted"
    )
    auth_alb_user_claim: str = Field("email", description="The token claim that names the user")
    auth_alb_key_url: str = Field(
        "https://public-keys.auth.elb.{region}.amazonaws.com/{kid}",
        description="Where the ALB's public keys are fetched ({region}, {kid}); differs in GovCloud",
    )
    auth_header_unsigned: bool = Field(
        False, description="auth_mode=header without a signed token: only for a proxy on the same host (loopback)"
    )
    # --- HTTP API (issue 13: `docent api`) ------------------------------------------------
    api_auth: Literal["app", "local", "jwt", "header"] = Field(
        "app", description="app = follow DOCENT_AUTH_MODE (local -> local, header -> header, oidc -> jwt)"
    )
    api_jwt_issuer: str | None = Field(
        None, description="Expected `iss`, e.g. https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    )
    api_jwt_audience: str | None = Field(
        None, description="Expected `aud` (or Cognito access tokens' `client_id`); empty = not checked"
    )
    api_jwks_url: str | None = Field(None, description="JWKS document; default {issuer}/.well-known/jwks.json")
    api_jwt_algorithms: str = Field("RS256", description="Comma-separated accepted signing algorithms")
    api_jwt_user_claims: str = Field(
        "email,preferred_username,username,sub", description="First claim present names the user"
    )
    api_jwt_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat")
    api_rate_limit_per_minute: int = Field(120, ge=0, description="Requests per identity per minute; 0 = off")
    api_max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON request body")
    api_max_upload_bytes: int = Field(64 << 20, ge=1024, description="Largest upload request (all files)")
    # --- S3 content repository and serverless (issue 13 part B) ----------------------------
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, an emulator); unset = AWS")
    s3_link_base_url: str | None = Field(
        None, description="Where the bucket is published (e.g. a CloudFront URL): links become this + '/' + key"
    )
    # --- uploaded originals (issue 12, item 3): where every app replica finds them -----------
    uploads_backend: Literal["local", "s3"] = Field(
        "local", description="local = DATA_DIR/uploads (one machine); s3 = DOCENT_UPLOADS_S3_BUCKET (any replicas)"
    )
    uploads_s3_bucket: str | None = Field(None, description="Bucket that keeps uploaded files (uploads_backend=s3)")
    uploads_s3_prefix: str = Field("uploads/", description="Key prefix of the uploaded files in that bucket")

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        problems: list[str] = []
        if self.index_backend == "opensearch" and not self.opensearch_url:
            problems.append("DOCENT_INDEX_BACKEND=opensearch needs DOCENT_OPENSEARCH_URL (the domain endpoint).")
        if self.opensearch_auth == "basic" and (not self.opensearch_username or not self.opensearch_password):
            problems.append(
                "DOCENT_OPENSEARCH_AUTH=basic needs DOCENT_OPENSEARCH_USERNAME and DOCENT_OPENSEARCH_PASSWORD."
            )
        if self.opensearch_auth == "sigv4" and not self.aws_region:
            problems.append("DOCENT_OPENSEARCH_AUTH=sigv4 needs DOCENT_AWS_REGION (e.g. eu-west-1).")
        if self.opensearch_service == "aoss" and self.opensearch_auth != "sigv4":
            problems.append(
                "OpenSearch Serverless (DOCENT_OPENSEARCH_SERVICE=aoss) only accepts DOCENT_OPENSEARCH_AUTH=sigv4."
            )
        if self.embeddings_backend == "sagemaker" and not self.embeddings_endpoint:
            problems.append("DOCENT_EMBEDDINGS_BACKEND=sagemaker needs DOCENT_EMBEDDINGS_ENDPOINT (the endpoint name).")
        if self.embeddings_quantize == "int8" and self.embeddings_runtime == "torch":
            problems.append(
                "DOCENT_EMBEDDINGS_QUANTIZE=int8 runs on ONNX Runtime: set DOCENT_EMBEDDINGS_RUNTIME=onnx "
                "(or auto), or DOCENT_EMBEDDINGS_QUANTIZE=none."
            )
        if self.llm_backend == "sagemaker" and not self.sagemaker_rag_endpoint:
            problems.append(
                "DOCENT_LLM_BACKEND=sagemaker needs DOCENT_SAGEMAKER_RAG_ENDPOINT (the base model's endpoint)."
            )
        if self.llm_backend == "bedrock" and not self.bedrock_model_id:
            problems.append("DOCENT_LLM_BACKEND=bedrock needs DOCENT_BEDROCK_MODEL_ID.")
        if self.llm_backend == "openai" and not (self.openai_base_url and self.openai_model):
            problems.append("DOCENT_LLM_BACKEND=openai needs DOCENT_OPENAI_BASE_URL and DOCENT_OPENAI_MODEL.")
        if self.store_backend == "dynamodb" and not (self.aws_region or self.dynamodb_endpoint_url):
            problems.append("DOCENT_STORE_BACKEND=dynamodb needs DOCENT_AWS_REGION (or DOCENT_DYNAMODB_ENDPOINT_URL).")
        if self.child_overlap_chars >= self.child_chunk_chars:
            problems.append("DOCENT_CHILD_OVERLAP_CHARS must be smaller than DOCENT_CHILD_CHUNK_CHARS.")
        if self.parent_chunk_chars < self.child_chunk_chars:
            problems.append("DOCENT_PARENT_CHUNK_CHARS must be at least DOCENT_CHILD_CHUNK_CHARS.")
        if self.router_threshold is not None and not 0.0 < self.router_threshold < 1.0:
            problems.append("DOCENT_ROUTER_THRESHOLD must be between 0 and 1 (it compares a probability-like score).")
        if self.auth_mode == "oidc" and self.role_admins == "":
            problems.append("DOCENT_AUTH_MODE=oidc needs at least one admin in DOCENT_ROLE_ADMINS.")
        if self.auth_mode == "header" and not self.auth_alb_arns.strip() and not self.auth_header_unsigned:
            problems.append(
                "DOCENT_AUTH_MODE=header needs DOCENT_AUTH_ALB_ARNS (the load balancer whose signed "
                "x-amzn-oidc-data is checked), or DOCENT_AUTH_HEADER_UNSIGNED=true for a proxy on the same host."
            )
        if self.auth_header_unsigned and not is_loopback(self.server_address):
            problems.append(
                f"DOCENT_AUTH_HEADER_UNSIGNED=true with DOCENT_SERVER_ADDRESS={self.server_address} lets anyone who "
                "reaches the port claim any identity: listen on 127.0.0.1, or use DOCENT_AUTH_ALB_ARNS."
            )
        problems.extend(_uploads_problems(self))
        if "{kid}" not in self.auth_alb_key_url:
            problems.append("DOCENT_AUTH_ALB_KEY_URL must contain {kid} (and usually {region}).")
        if problems:
            raise ConfigError("Docent cannot start with these settings:\n- " + "\n- ".join(problems))
        return self

    @property
    def api_auth_mode(self) -> str:
        """How `docent api` knows who calls: local, jwt or header (issue 13)."""
        if self.api_auth != "app":
            return self.api_auth
        return {"local": "local", "header": "header", "oidc": "jwt"}[self.auth_mode]

    # Paths of the embedded default, all under data_dir.
    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded originals are kept with DOCENT_UPLOADS_BACKEND=local."""
        return self.data_dir / "uploads"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def onnx_cache_dir(self) -> Path:
        return self.embeddings_onnx_cache_dir or self.cache_dir / "onnx"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "docent.sqlite3"

    @property
    def calibration_file(self) -> Path:
        return self.calibration_path or self.data_dir / "calibration.json"


BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _uploads_problems(settings: Settings) -> list[str]:
    """What is wrong with the uploads settings (DOCENT_UPLOADS_*), as fixes a person can make."""
    problems = []
    bucket = (settings.uploads_s3_bucket or "").strip()
    if settings.uploads_backend == "s3" and not bucket:
        problems.append(
            "DOCENT_UPLOADS_BACKEND=s3 needs DOCENT_UPLOADS_S3_BUCKET (the bucket that keeps uploaded files), "
            "or DOCENT_UPLOADS_BACKEND=local."
        )
    if bucket and not BUCKET_NAME.match(bucket):
        problems.append(
            f"DOCENT_UPLOADS_S3_BUCKET={bucket!r} is not a bucket name: write the name alone (3-63 lower-case "
            "letters, digits, dots or hyphens), without s3:// or a folder; the folder goes in DOCENT_UPLOADS_S3_PREFIX."
        )
    prefix = settings.uploads_s3_prefix
    if prefix.startswith("/") or ".." in prefix.split("/") or "\\" in prefix:
        problems.append(
            f"DOCENT_UPLOADS_S3_PREFIX={prefix!r} must be a key prefix such as 'docent/uploads/' "
            "(no leading '/', no '..', no backslashes)."
        )
    return problems


def is_loopback(address: str | None) -> bool:
    """True for 127.x, ::1 and localhost: addresses only this machine can reach.

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("")
    (True, False, False)
    """
    import ipaddress

    host = (address or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's validation errors into one readable ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "DOCENT_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {msg}")
        raise ConfigError("Docent cannot start with these settings:\n- " + "\n- ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
