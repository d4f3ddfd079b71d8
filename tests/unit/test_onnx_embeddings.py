"""The ONNX Runtime embedder (issue 14): same vectors as PyTorch, a cached export, int8 kept apart,
and settings that pick the runtime (falling back to PyTorch with a notice when onnxruntime is missing)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from config.settings import ConfigError, Settings, load_settings
from index import factory
from index import onnx_embeddings as ox
from index.embedded import EmbeddedIndex
from index.embeddings import LocalEmbeddings
from index.protocol import EmbeddingModelMismatch

pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]

# Varied on purpose: short and long (past MiniLM's 256-token limit), identifiers, numbers, markup,
# accents and other scripts, blank and whitespace-only, repeated words.
_LONG = (
    "SageMaker training jobs read data from Amazon S3, write checkpoints and model artifacts back "
    "to S3, and stream logs to CloudWatch. "
)
TEXTS = [
    "hello",
    "How do I rotate keys?",
    "  leading and trailing spaces  ",
    "",
    "   ",
    "CreateTrainingJob with MaxRuntimeInSeconds=86400 on ml.p3.2xlarge",
    "whats the max payload for async inference",
    "serverless endpoint max memory",
    "num_round eta max_depth for xgboost",
    "clarify dpl formula",
    "hpo warm start vs transfer learning",
    "Café résumé naïve façade coöperate",
    "機械学習モデルのデプロイ",
    "Обучение модели на GPU",
    "emoji 🚀 in a sentence ✅",
    "<h1>HTML</h1> <p>markup &amp; entities</p>",
    "```python\nimport sagemaker\n```",
    "| col a | col b |\n|---|---|\n| 1 | 2 |",
    "1 2 3 4 5 6 7 8 9 10",
    "a" * 3000,
    "word " * 400,
    _LONG * 12,
    _LONG * 3,
    ("token-heavy-identifier_" * 80),
    "Amazon SageMaker Model Monitor > Data quality\nMonitor drift in data quality with baselines.",
    "Studio Lab is free; no AWS account is needed.",
    "VPC subnets security groups interface endpoints",
    "ml.g5.12xlarge has 4 GPUs",
    "GDPR HIPAA PCI compliance for SageMaker",
    "Ground Truth labeling workforce private vendor public",
    "A2I human review loops",
    "Feature Store online offline store TTL",
    "Debugger rules vanishing gradient",
    "JumpStart foundation models fine-tune",
    "Data Wrangler import from Snowflake",
    "How much does it cost?",
    "Why did my endpoint return a 413 error?",
    "is there a free tier",
    "Neo compile for Jetson",
    "geospatial earth observation jobs",
    "Pipelines step caching",
    "model registry approval status",
    "batch transform split_type Line",
    "multi-model endpoint cold start",
    "inference recommender load test",
    "Canvas time series forecast",
    "Autopilot ensembling HPO mode",
    "RStudio on SageMaker license",
    "Kubernetes operators end of support",
    "spot training checkpoints s3",
]


@pytest.fixture(scope="module")
def onnx_dir(onnx_cache_dir):
    return onnx_cache_dir  # the run's shared export (tests/conftest.py): exported at most once per run


@pytest.fixture(scope="module")
def onnx_fp32(onnx_dir):
    emb = ox.OnnxEmbeddings(cache_dir=onnx_dir)
    emb.warm_up()
    return emb


@pytest.mark.slow
def test_fp32_vectors_match_pytorch(onnx_fp32, minilm_torch):
    assert len(TEXTS) >= 50
    ours = onnx_fp32.embed_documents(TEXTS)
    theirs = minilm_torch.embed_documents(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    cosines = (ours * theirs).sum(axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, f"text {worst} ({TEXTS[worst][:40]!r}) cosine {cosines[worst]:.6f}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert onnx_fp32.model_id == minilm_torch.model_id  # same vectors, so indexes and the cache stay valid
    assert np.allclose(onnx_fp32.embed_query(TEXTS[1]), ours[1], atol=1e-5)  # a batch of one is no different


@pytest.mark.slow
def test_second_load_uses_the_cached_export(onnx_fp32, onnx_dir, monkeypatch):
    files = sorted(p.name for p in onnx_fp32.folder.iterdir())
    assert {"model.onnx", "tokenizer.json", "layout.json"} <= set(files)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the export is cached")

    monkeypatch.setattr(ox, "export_model", no_export)
    again = ox.OnnxEmbeddings(cache_dir=onnx_dir)
    vector = again.embed_query("rotate keys")
    assert not again.exported
    assert np.allclose(vector, onnx_fp32.embed_query("rotate keys"), atol=1e-6)


@pytest.mark.slow
def test_embedders_in_one_process_share_the_session_until_the_graph_changes(onnx_fp32, onnx_dir, tmp_path):
    again = ox.OnnxEmbeddings(cache_dir=onnx_dir)
    again.warm_up()
    assert again._load()[0] is onnx_fp32._load()[0]  # opening a session optimises the graph: once per process

    copy = tmp_path / "onnx"
    shutil.copytree(onnx_dir, copy, ignore=shutil.ignore_patterns("*.lock"))
    elsewhere = ox.OnnxEmbeddings(cache_dir=copy)
    assert elsewhere._load()[0] is not onnx_fp32._load()[0]  # another file, another session
    graph = elsewhere.folder / "model.onnx"
    graph.write_bytes(graph.read_bytes())  # rewritten in place: a new mtime
    rewritten = ox.OnnxEmbeddings(cache_dir=copy)
    assert rewritten._load()[0] is not elsewhere._load()[0]
    assert np.allclose(rewritten.embed_query("rotate keys"), onnx_fp32.embed_query("rotate keys"), atol=1e-6)


@pytest.mark.slow
def test_a_process_with_a_cached_export_never_imports_torch(onnx_fp32, onnx_dir):
    code = (
        "import sys; from index.onnx_embeddings import OnnxEmbeddings; "
        f"e = OnnxEmbeddings(cache_dir={str(onnx_dir)!r}); v = e.embed_query('rotate keys'); "
        "print(v.shape[0], e.exported, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["384", "False", "False", "False"]


@pytest.mark.slow
def test_int8_has_its_own_model_id_and_the_index_refuses_to_mix(onnx_fp32, onnx_dir, tmp_path):
    int8 = ox.OnnxEmbeddings(cache_dir=onnx_dir, quantize="int8")
    assert int8.model_id != onnx_fp32.model_id
    vectors = int8.embed_documents(TEXTS[:8])
    assert (onnx_fp32.folder / "model-int8.onnx").exists()
    cosines = (vectors * onnx_fp32.embed_documents(TEXTS[:8])).sum(axis=1)
    assert 0.7 < cosines.min() and cosines.max() < 1.0 + 1e-6  # close, yet not the same vectors

    index = EmbeddedIndex(tmp_path / "index")
    index.ensure_model(onnx_fp32.model_id, onnx_fp32.dim)
    with pytest.raises(EmbeddingModelMismatch, match="DOCENT_EMBEDDINGS_QUANTIZE"):
        index.ensure_model(int8.model_id, int8.dim)


def test_model_ids_and_the_quantize_setting():
    assert ox.model_id_for("m", "none") == "m"
    assert ox.model_id_for("m", "int8") == "m#onnx-int8"
    with pytest.raises(ConfigError, match="DOCENT_EMBEDDINGS_RUNTIME=onnx"):
        load_settings(embeddings_runtime="torch", embeddings_quantize="int8")


def test_settings_choose_the_runtime(tmp_path, onnx_cache_dir, monkeypatch):
    torch_emb = factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="torch"))
    assert isinstance(torch_emb, LocalEmbeddings) and torch_emb.batch_size == 64
    for runtime in ("onnx", "auto"):
        emb = factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime=runtime))
        assert isinstance(emb, ox.OnnxEmbeddings)
        assert emb.cache_dir == onnx_cache_dir  # DOCENT_EMBEDDINGS_ONNX_CACHE_DIR, set by tests/conftest.py
        assert emb.batch_size == 1  # one text at a time unless DOCENT_EMBEDDINGS_BATCH_SIZE says otherwise
    batched = factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="onnx", embeddings_batch_size=8))
    assert batched.batch_size == 8
    int8 = factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="auto", embeddings_quantize="int8"))
    assert isinstance(int8, ox.OnnxEmbeddings) and int8.model_id.endswith("#onnx-int8")
    monkeypatch.delenv("DOCENT_EMBEDDINGS_ONNX_CACHE_DIR")
    assert (
        factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="auto")).cache_dir
        == tmp_path / "cache" / "onnx"
    )


def test_missing_onnxruntime_falls_back_to_torch_with_a_notice(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(factory, "onnxruntime_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="index.factory"):
        emb = factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="auto"))
    assert isinstance(emb, LocalEmbeddings)
    assert "onnxruntime is not installed" in caplog.text and "DOCENT_EMBEDDINGS_RUNTIME=torch" in caplog.text
    with pytest.raises(ox.OnnxEmbeddingsError, match="onnxruntime is not installed"):
        factory.make_embedder(Settings(data_dir=tmp_path, embeddings_runtime="onnx"))


def _st_folder(root: Path, modules: list[dict], pooling: dict) -> Path:
    root.mkdir(parents=True)
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (root / "config.json").write_text("{}")
    return root


_MEAN = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
_TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
_POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}


def test_unsupported_layouts_are_named(tmp_path):
    ok = _st_folder(tmp_path / "ok", [_TRANSFORMER, _POOLING], _MEAN)
    assert ox.unsupported_reason(ok) is None
    dense = _st_folder(
        tmp_path / "dense",
        [_TRANSFORMER, _POOLING, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
        _MEAN,
    )
    assert "Dense" in ox.unsupported_reason(dense)
    weighted = _st_folder(tmp_path / "w", [_TRANSFORMER, _POOLING], {"pooling_mode_weightedmean_tokens": True})
    assert "weightedmean" in ox.unsupported_reason(weighted)
    assert "modules.json" in ox.unsupported_reason(tmp_path)


def test_unsupported_model_falls_back_under_auto_and_fails_clearly_under_onnx(tmp_path, monkeypatch, caplog):
    folder = _st_folder(
        tmp_path / "m",
        [_TRANSFORMER, _POOLING, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
        _MEAN,
    )
    monkeypatch.setattr(factory, "LocalEmbeddings", lambda model, batch_size: ("torch", model))
    with caplog.at_level(logging.WARNING, logger="index.factory"):
        emb = factory.make_embedder(
            Settings(data_dir=tmp_path, embeddings_model=str(folder), embeddings_runtime="auto")
        )
    assert emb == ("torch", str(folder))
    assert "cannot run on ONNX Runtime" in caplog.text
    with pytest.raises(ox.OnnxEmbeddingsError, match="DOCENT_EMBEDDINGS_RUNTIME=torch"):
        factory.make_embedder(Settings(data_dir=tmp_path, embeddings_model=str(folder), embeddings_runtime="onnx"))


def test_model_fingerprint_follows_the_files_and_is_memoised(tmp_path):
    folder = _st_folder(tmp_path / "m", [_TRANSFORMER, _POOLING], _MEAN)
    (folder / "model.safetensors").write_bytes(b"weights v1")
    (folder / "README.md").write_text("not part of the model")
    memo = tmp_path / "fingerprints.json"
    first = ox.model_fingerprint(folder, memo)
    assert memo.exists() and first in json.loads(memo.read_text()).values()
    assert ox.model_fingerprint(folder, memo) == first
    (folder / "README.md").write_text("edited docs do not invalidate the export")
    assert ox.model_fingerprint(folder, memo) == first
    (folder / "model.safetensors").write_bytes(b"weights v2")
    second = ox.model_fingerprint(folder, memo)
    assert second != first
    assert ox.export_folder(tmp_path, "org/model", first) != ox.export_folder(tmp_path, "org/model", second)


def test_pooling_matches_sentence_transformers_definitions():
    tokens = np.array([[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    mean = ox.pool(tokens, mask, ox.ModelLayout(2, 8, "mean", True))
    assert np.allclose(mean, np.array([[2.0, 2.0]]) / np.sqrt(8.0))  # the padded token is ignored
    cls = ox.pool(tokens, mask, ox.ModelLayout(2, 8, "cls", True))
    assert np.allclose(cls, [[1.0, 0.0]])
    biggest = ox.pool(tokens, mask, ox.ModelLayout(2, 8, "max", True))
    assert np.allclose(biggest, np.array([[3.0, 4.0]]) / 5.0)
    empty = ox.pool(np.zeros((1, 2, 2), np.float32), np.zeros((1, 2)), ox.ModelLayout(2, 8, "mean", True))
    assert np.all(np.isfinite(empty))


def test_processes_sharing_the_cache_export_once(tmp_path, monkeypatch):
    calls = []

    def slow_export(model_dir, folder):
        calls.append(folder)
        folder.mkdir(parents=True, exist_ok=True)
        threading.Event().wait(0.3)  # long enough for the other caller to reach the lock
        (folder / "model.onnx").write_bytes(b"graph")

    monkeypatch.setattr(ox, "export_model", slow_export)
    folder = tmp_path / "m-abc-v1"
    first, second = ox.OnnxEmbeddings(cache_dir=tmp_path), ox.OnnxEmbeddings(cache_dir=tmp_path)
    threads = [
        threading.Thread(target=e._export_once, args=(folder, folder / "model.onnx", folder / "model.onnx"))
        for e in (first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [folder]
    assert [first.exported, second.exported].count(True) == 1
