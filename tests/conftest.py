"""Suite-wide guards: no network beyond loopback, a private data dir per test, offline hubs."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
# Never pick up a developer's .env or AWS profile in tests.
for _name in list(os.environ):
    if _name.startswith("DOCENT_") and not _name.startswith("DOCENT_TEST_"):
        del os.environ[_name]
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_ALLOWED_HOSTS = {"localhost"}


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in _ALLOWED_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only reach loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only reach loopback, not {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
if os.environ.get("DOCENT_TEST_OPENSEARCH_URL"):  # the opt-in real-cluster run may leave loopback
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def onnx_cache_dir(tmp_path_factory):
    """One ONNX export folder for the whole run, shared by the xdist workers and the servers the tests
    start (the export is file-locked, so it happens once per run, ~1 min with torch's import);
    DOCENT_TEST_ONNX_CACHE_DIR keeps it across runs."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder = Path(os.environ.get("DOCENT_TEST_ONNX_CACHE_DIR") or root / "onnx-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCENT_EMBEDDINGS_ONNX_CACHE_DIR", str(folder))
        # The product's default: MiniLM on ONNX Runtime from the shared export, so a process the suite
        # starts (app, API, CLI) never imports torch (40-75 s on a loaded 2-core machine).
        # DOCENT_TEST_EMBEDDINGS_RUNTIME=torch runs the whole suite on PyTorch instead.
        patch.setenv("DOCENT_EMBEDDINGS_RUNTIME", os.environ.get("DOCENT_TEST_EMBEDDINGS_RUNTIME", "onnx"))
        yield folder


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    data = tmp_path / "docent-data"
    monkeypatch.setenv("DOCENT_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)  # no stray .env from the repo root
    from config.settings import get_settings

    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def minilm(onnx_cache_dir):
    """The packaged all-MiniLM-L6-v2 on the suite's runtime (loaded once per worker; on ONNX Runtime the
    first use exports it into the shared folder, which every later process and server then reuses)."""
    from config.settings import Settings
    from index.factory import make_embedder

    emb = make_embedder(Settings(embeddings_onnx_cache_dir=onnx_cache_dir))
    emb.embed_query("warm up")
    return emb


@pytest.fixture(scope="session")
def minilm_torch():
    """The packaged all-MiniLM-L6-v2 on PyTorch (sentence-transformers), for the tests that compare to it."""
    from index.embeddings import LocalEmbeddings

    emb = LocalEmbeddings()
    emb.embed_query("warm up")
    return emb


# Files that share a worker (an xdist scope of their own, run one after the other):
# - "torch": every file that imports torch/transformers in the test process (tiny Mistral, MiniLM on
#   PyTorch). That import took 1-5 min of CPU per process on the loaded 2-core machine; grouped, one
#   worker pays it once instead of all three.
# - "browser": the two files that start a Streamlit server and Chromium; run together they starved
#   each other (and everything else) of the two cores.
SHARED_WORKER = {
    "tests/integration/test_finetune_train.py": "torch",
    "tests/contract/test_sagemaker_langchain.py": "torch",
    "tests/contract/test_sagemaker_llm.py": "torch",
    "tests/unit/test_onnx_embeddings.py": "torch",
    "tests/contract/test_sagemaker_embeddings.py": "torch",
    "tests/unit/test_finetune_config.py": "torch",
    "tests/unit/test_local_llm.py": "torch",
    "tests/integration/test_local_llm_chain.py": "torch",
    # two browser groups (each file starts a Streamlit server and Chromium): one alone took three minutes
    "tests/e2e/test_app_browser.py": "browser",
    "tests/e2e/test_conversations_browser.py": "browser",
    "tests/e2e/test_knowledge_browser.py": "browser",
    "tests/e2e/test_safe_text_browser.py": "browser-b",
    "tests/e2e/test_review_export_browser.py": "browser-b",
    "tests/e2e/test_chat_turn_browser.py": "browser-b",
    "tests/e2e/test_source_viewer_browser.py": "browser-b",
}

# Seconds each slow file took in a timed run (`--junitxml`, three workers on the loaded 2-core machine,
# 2026-11-29); refresh from such a run when they change. Scopes (a file, or a SHARED_WORKER group) are
# handed to workers longest first, so no long one starts last while the other workers sit idle.
SLOWEST_FILES = {
    "tests/integration/test_finetune_train.py": 950,  # holds the fine-tuning loop test too (one training)
    "tests/contract/test_feedback_store.py": 660,
    "tests/contract/test_sagemaker_langchain.py": 500,
    "tests/contract/test_sagemaker_llm.py": 480,
    "tests/unit/test_onnx_embeddings.py": 480,
    "tests/e2e/test_app_browser.py": 390,
    "tests/integration/test_cli_ingest_ask.py": 310,
    "tests/unit/test_app_chat.py": 270,
    "tests/serverless/test_ingest_handler.py": 260,
    "tests/e2e/test_safe_text_browser.py": 255,
    "tests/e2e/test_review_export_browser.py": 200,  # the new browser files: 2.5 x their idle seconds (2026-11-30)
    "tests/e2e/test_conversations_browser.py": 130,
    "tests/e2e/test_chat_turn_browser.py": 120,
    "tests/e2e/test_knowledge_browser.py": 65,
    "tests/e2e/test_source_viewer_browser.py": 40,
    "tests/quality/test_demo_gold.py": 220,
    "tests/unit/test_ingest_s3.py": 205,
    "tests/unit/test_app_access.py": 185,
    "tests/unit/test_finetune_config.py": 160,
    "tests/api/test_routes.py": 155,
    "tests/unit/test_finetune_cli.py": 140,
    "tests/api/test_schemathesis.py": 130,
    "tests/unit/test_app_analytics.py": 130,
    "tests/api/test_served.py": 125,
    "tests/unit/test_langchain_standard.py": 105,
    "tests/contract/test_sagemaker_embeddings.py": 110,
    "tests/api/test_jwt.py": 85,
    "tests/unit/test_app_knowledge.py": 85,
    "tests/unit/test_serve_hardening.py": 80,
    "tests/contract/test_bedrock_llm.py": 80,
    "tests/contract/test_openai_llm.py": 80,
    "tests/unit/test_ingest_large_files.py": 75,
    "tests/integration/test_cli_eval.py": 75,
    "tests/unit/test_app_ownership.py": 75,
    "tests/serverless/test_rag_page.py": 75,
    "tests/serverless/test_template.py": 70,
    "tests/unit/test_local_llm.py": 60,
}


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _scope(nodeid: str) -> str:
    path = _file(nodeid)
    return SHARED_WORKER.get(path, path)


_SCOPE_SECONDS: dict[str, int] = {}
for _path, _seconds in SLOWEST_FILES.items():
    _SCOPE_SECONDS[_scope(_path)] = _SCOPE_SECONDS.get(_scope(_path), 0) + _seconds


def pytest_collection_modifyitems(config, items):
    """Longest scopes first (a scope's files together, a file's tests together and in their order)."""
    items.sort(key=lambda item: (-_SCOPE_SECONDS.get(_scope(item.nodeid), 0), _scope(item.nodeid)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the SHARED_WORKER groups are one unit each; units go out in collection
    order (`--no-loadscope-reorder`), which pytest_collection_modifyitems made longest first."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupedFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return GroupedFileScheduling(config, log)
