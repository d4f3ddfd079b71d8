"""sentence-transformers models on ONNX Runtime: exported once from the local weights, then run
without PyTorch.

Why: on a 2-core CPU MiniLM on PyTorch bounds ingest (~34 chunks/s) and costs ~6 ms per query;
the same weights on onnxruntime run ~1.7x faster, and a process whose export is cached never
imports torch (seconds of start-up). The fp32 graph is the PyTorch model itself (traced by
`torch.onnx.export`), tokenised by the model's own fast tokenizer with sentence-transformers'
max_seq_length, and pooled + normalised here exactly as sentence-transformers does, so its vectors
equal PyTorch's (cosine >= 0.9999, tests/unit/test_onnx_embeddings.py) and keep the same model id:
existing indexes and the embedding cache stay valid. int8 (dynamic quantisation) changes the
vectors, so it gets its own model id and the index refuses to mix it with fp32 vectors.

The export lives in `<cache_dir>/<model>-<hash of the model files>/` (model.onnx, model-int8.onnx,
tokenizer.json, layout.json); changed weights get a new folder, never a stale graph.

>>> emb = OnnxEmbeddings(cache_dir="data/cache/onnx")     # doctest: +SKIP
>>> emb.embed_query("how do I rotate keys?").shape          # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config.errors import DocentError
from config.settings import DEFAULT_EMBEDDING_MODEL
from index.protocol import INT8_SUFFIX

EXPORT_VERSION = "1"  # bump when the exported graph or layout.json changes: forces a re-export
OPSET = 17
_SUPPORTED_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
    "sentence_transformers.base.modules.transformer.Transformer",
    "sentence_transformers.sentence_transformer.modules.Pooling",
    "sentence_transformers.sentence_transformer.modules.Normalize",
}
_WEIGHT_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".bin")
_SKIP_DIRS = {"onnx", "openvino", ".git", ".cache"}


_SESSIONS: dict[tuple[str, int, int, int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _shared_session(graph: Path, threads: int | None):
    """One ONNX Runtime session per graph file and thread setting in a process.

    Opening one optimises the graph, which took 20-50 s on a loaded 2-core machine; a CLI run that
    ingests then answers, the API's services and a test process each built several. Sessions are
    safe to run from several threads. The key holds the file's size and mtime, so a re-exported graph
    gets a session of its own.
    """
    import onnxruntime as ort

    stat = graph.stat()
    key = (str(graph.resolve()), stat.st_mtime_ns, stat.st_size, threads)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
            session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
            _SESSIONS[key] = session
        return session


class OnnxEmbeddingsError(DocentError):
    """The ONNX runtime cannot serve this model (missing package, unsupported layout, failed export)."""


@dataclass(frozen=True)
class ModelLayout:
    """What turns the transformer's token embeddings into the sentence vector (from the model's configs)."""

    dim: int
    max_seq_length: int
    pooling: str  # mean | cls | max
    normalize: bool
    do_lower_case: bool = False


def model_id_for(model: str, quantize: str) -> str:
    """fp32 keeps PyTorch's id (same vectors); int8 gets its own, so index and cache never mix them."""
    return model if quantize == "none" else f"{model}{INT8_SUFFIX}"


# -- model folder --------------------------------------------------------------------------
def resolve_model_dir(model: str) -> Path:
    """The local folder holding the model: the packaged MiniLM, a path, or the hub cache."""
    if model == DEFAULT_EMBEDDING_MODEL:
        from index.embeddings import packaged_minilm_path

        packaged = packaged_minilm_path()
        if packaged:
            return Path(packaged)
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model))  # honours HF_HUB_OFFLINE, like sentence-transformers
    except Exception as exc:  # noqa: BLE001 - any hub failure means the same thing to the user
        raise OnnxEmbeddingsError(
            f"The embedding model '{model}' is neither a local folder nor in the Hugging Face cache "
            f"({type(exc).__name__}). Point DOCENT_EMBEDDINGS_MODEL at a folder with the model, or "
            "download it once with network access."
        ) from None


def unsupported_reason(model_dir: Path) -> str | None:
    """Why this model cannot run here (None when it can): only Transformer -> Pooling [-> Normalize]."""
    modules_file = model_dir / "modules.json"
    if not modules_file.exists():
        return f"{model_dir} has no modules.json (not a sentence-transformers model)"
    modules = json.loads(modules_file.read_text())
    other = [m.get("type", "?") for m in modules if m.get("type") not in _SUPPORTED_MODULES]
    if other:
        return f"its modules {other} are not Transformer, Pooling or Normalize"
    pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
    if pooling is None:
        return "it has no Pooling module"
    config = json.loads((model_dir / pooling.get("path", "") / "config.json").read_text())
    modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"], ["pooling_mode_max_tokens"]):
        return f"its pooling {modes} is not plain mean, cls or max"
    return None


def model_fingerprint(model_dir: Path, memo_file: Path | None = None) -> str:
    """SHA-256 of the files that define the model (weights, configs, tokenizer).

    Hashing ~90 MB of weights costs ~0.2 s, so the result is memoised by (path, size, mtime) of
    those files in `memo_file`: a query process with an unchanged model reads a small JSON instead.
    """
    files = sorted(
        p
        for p in model_dir.rglob("*")
        if p.is_file() and p.suffix in _WEIGHT_SUFFIXES and not (set(p.relative_to(model_dir).parts[:-1]) & _SKIP_DIRS)
    )
    if not files:
        raise OnnxEmbeddingsError(f"{model_dir} holds no model files: check DOCENT_EMBEDDINGS_MODEL.")
    stamp = hashlib.sha256(str(model_dir.resolve()).encode())
    for p in files:
        st = p.stat()
        stamp.update(f"{p.relative_to(model_dir).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    key = stamp.hexdigest()
    memo: dict[str, str] = {}
    if memo_file is not None and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except ValueError:
            memo = {}
        if key in memo:
            return memo[key]
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(model_dir).as_posix().encode() + b"\0")
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    value = digest.hexdigest()
    if memo_file is not None:
        memo[key] = value
        _write_atomic(memo_file, json.dumps(memo, indent=1).encode())
    return value


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def export_folder(cache_dir: Path, model: str, fingerprint: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.strip("/"))[-60:] or "model"
    return Path(cache_dir) / f"{slug}-{fingerprint[:16]}-v{EXPORT_VERSION}"


# -- export (the only place that imports torch) ------------------------------------------------
def export_model(model_dir: Path, folder: Path) -> None:
    """Trace the transformer to `folder/model.onnx` and save its tokenizer and pooling layout.

    Imports torch and sentence-transformers (seconds): only done once per model version.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    st = SentenceTransformer(str(model_dir), device="cpu")
    st.eval()
    transformer = st[0]
    pooling = json.loads((model_dir / (_module_path(model_dir, "Pooling") or "") / "config.json").read_text())
    mode = (
        "cls" if pooling.get("pooling_mode_cls_token") else "max" if pooling.get("pooling_mode_max_tokens") else "mean"
    )
    layout = ModelLayout(
        dim=int(
            st.get_embedding_dimension()
            if hasattr(st, "get_embedding_dimension")
            else st.get_sentence_embedding_dimension()
        ),
        max_seq_length=int(st.max_seq_length),
        pooling=mode,
        normalize=_module_path(model_dir, "Normalize") is not None,
        do_lower_case=bool(getattr(transformer, "do_lower_case", False)),
    )
    tokenizer = st.tokenizer
    inputs = tokenizer(["a sentence to trace", "and another, a little longer one"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in inputs]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, auto_model):
            super().__init__()
            self.auto_model = auto_model

        def forward(self, *args):
            return self.auto_model(**dict(zip(names, args)), return_dict=True).last_hidden_state

    wrapper = TokenEmbeddings(transformer.auto_model).eval()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".model.{os.getpid()}.onnx"
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            tuple(inputs[n] for n in names),
            str(tmp),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    _write_atomic(folder / "layout.json", json.dumps(asdict(layout), indent=1).encode())
    tmp.replace(folder / "model.onnx")  # last: its presence means the export is complete


def _module_path(model_dir: Path, kind: str) -> str | None:
    for module in json.loads((model_dir / "modules.json").read_text()):
        if module.get("type", "").endswith(kind):
            return module.get("path", "")
    return None


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.onnx")
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8)
    tmp.replace(dst)


# -- pooling (pure) ----------------------------------------------------------------------------
def pool(token_embeddings: np.ndarray, attention_mask: np.ndarray, layout: ModelLayout) -> np.ndarray:
    """sentence-transformers' Pooling (+ Normalize): mean over real tokens, [CLS], or max."""
    mask: np.ndarray = attention_mask.astype(np.float32)[:, :, None]
    if layout.pooling == "cls":
        vectors = token_embeddings[:, 0]
    elif layout.pooling == "max":
        vectors = np.where(mask > 0, token_embeddings, -1e9).max(axis=1)
    else:
        summed = (token_embeddings * mask).sum(axis=1)
        vectors = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms  # always unit length: the index compares by dot product


class OnnxEmbeddings:
    """An Embedder on onnxruntime. The first use exports the model (torch) unless the export is cached.

    `quantize="int8"` runs a dynamically quantised copy: faster, different vectors, its own model id.
    """

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        cache_dir: str | Path = "data/cache/onnx",
        batch_size: int = 1,
        quantize: str = "none",
        threads: int | None = None,
    ):
        if quantize not in ("none", "int8"):
            raise OnnxEmbeddingsError(f"quantize must be 'none' or 'int8', not '{quantize}'.")
        self.model = model
        self.model_id = model_id_for(model, quantize)
        self.quantize = quantize
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self.exported = False  # True when this instance had to run the export
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._layout: ModelLayout | None = None
        self.model_dir = resolve_model_dir(model)
        reason = unsupported_reason(self.model_dir)
        if reason:
            raise OnnxEmbeddingsError(
                f"The embedding model '{model}' cannot run on ONNX Runtime: {reason}. "
                "Set DOCENT_EMBEDDINGS_RUNTIME=torch."
            )
        self.dim = 384 if model == DEFAULT_EMBEDDING_MODEL else self._load()[2].dim

    @property
    def folder(self) -> Path:
        fingerprint = model_fingerprint(self.model_dir, self.cache_dir / "fingerprints.json")
        return export_folder(self.cache_dir, self.model, fingerprint)

    def _load(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._open()
        return self._session, self._tokenizer, self._layout

    def _open(self) -> None:
        try:
            import onnxruntime  # noqa: F401 - here for the clear error; _shared_session uses it
        except ImportError:
            raise OnnxEmbeddingsError(
                "onnxruntime is not installed: `pip install -r requirements.txt -c constraints.txt`, "
                "or set DOCENT_EMBEDDINGS_RUNTIME=torch."
            ) from None
        from tokenizers import Tokenizer

        folder = self.folder
        fp32 = folder / "model.onnx"
        graph = folder / "model-int8.onnx" if self.quantize == "int8" else fp32
        if not graph.exists():
            self._export_once(folder, fp32, graph)
        layout = ModelLayout(**json.loads((folder / "layout.json").read_text()))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=layout.max_seq_length)
        tokenizer.enable_padding(
            pad_id=tokenizer.padding["pad_id"] if tokenizer.padding else 0,
            pad_token=tokenizer.padding["pad_token"] if tokenizer.padding else "[PAD]",
        )
        session = _shared_session(graph, self.threads)
        self._input_names = [i.name for i in session.get_inputs()]
        self._layout, self._tokenizer, self._session = layout, tokenizer, session

    def _export_once(self, folder: Path, fp32: Path, graph: Path) -> None:
        """Export under a file lock: processes sharing the cache (app and CLI, test workers) export once."""
        from filelock import FileLock

        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder.parent / f"{folder.name}.lock")):
            if not fp32.exists():  # another process may have finished it while we waited
                try:
                    export_model(self.model_dir, folder)
                except Exception as exc:
                    raise OnnxEmbeddingsError(
                        f"Exporting '{self.model}' to ONNX failed ({type(exc).__name__}: {exc}). "
                        "Set DOCENT_EMBEDDINGS_RUNTIME=torch to use PyTorch instead."
                    ) from exc
                self.exported = True
            if not graph.exists():
                quantize_int8(fp32, graph)
                self.exported = True

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        session, tokenizer, layout = self._load()
        if layout.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (tokens,) = session.run(["token_embeddings"], {n: feeds[n] for n in self._input_names})
        return pool(tokens, feeds["attention_mask"], layout)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [str(t).strip() for t in texts]
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def warm_up(self) -> None:
        """Export (if needed) and open the session now instead of on the first question."""
        self._load()
