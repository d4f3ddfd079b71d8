"""Build the configured index backend and embedder from settings."""

from __future__ import annotations

import importlib.util
import logging

from config.settings import Settings
from index.embeddings import Embedder, LocalEmbeddings
from index.protocol import KnowledgeIndex

log = logging.getLogger(__name__)


def open_index(settings: Settings) -> KnowledgeIndex:
    if settings.index_backend == "opensearch":
        from index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings=settings)
    from index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_dir)


# Texts per batch when DOCENT_EMBEDDINGS_BATCH_SIZE is unset. On ONNX Runtime one text at a time encoded
# 61 chunks/s of the guide against 34 in batches of 32 (2-core machine, docs/benchmarks.md): a batch pads to
# its longest text and its activations outgrow the caches.
ONNX_BATCH_SIZE = 1
TORCH_BATCH_SIZE = 64  # PyTorch and a SageMaker endpoint


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for: `sagemaker`, or `local` on ONNX Runtime or PyTorch.

    `DOCENT_EMBEDDINGS_RUNTIME=auto` (the default) picks ONNX Runtime when it is installed and the
    model's layout runs there, else PyTorch with a logged notice; `onnx` asked for explicitly and not
    possible is an error that says what to do.
    """
    if settings.embeddings_backend == "sagemaker":
        from index.sagemaker_embeddings import SageMakerEmbeddings

        return SageMakerEmbeddings.from_settings(settings)
    runtime = settings.embeddings_runtime
    if runtime == "torch":
        return LocalEmbeddings(settings.embeddings_model, batch_size=settings.embeddings_batch_size or TORCH_BATCH_SIZE)
    from index.onnx_embeddings import OnnxEmbeddings, OnnxEmbeddingsError

    if not onnxruntime_available():
        message = (
            "onnxruntime is not installed: install it (`pip install -r requirements.txt -c constraints.txt`) "
            "for ~1.7x faster embeddings, or set DOCENT_EMBEDDINGS_RUNTIME=torch to silence this notice."
        )
        if runtime == "onnx" or settings.embeddings_quantize == "int8":
            raise OnnxEmbeddingsError(message.replace(" to silence this notice", ""))
        log.warning("Embeddings run on PyTorch: %s", message)
        return LocalEmbeddings(settings.embeddings_model, batch_size=settings.embeddings_batch_size or TORCH_BATCH_SIZE)
    try:
        return OnnxEmbeddings(
            settings.embeddings_model,
            cache_dir=settings.onnx_cache_dir,
            batch_size=settings.embeddings_batch_size or ONNX_BATCH_SIZE,
            quantize=settings.embeddings_quantize,
        )
    except OnnxEmbeddingsError as exc:
        if runtime == "onnx" or settings.embeddings_quantize == "int8":
            raise
        log.warning("Embeddings run on PyTorch: %s", exc)
        return LocalEmbeddings(settings.embeddings_model, batch_size=settings.embeddings_batch_size or TORCH_BATCH_SIZE)
