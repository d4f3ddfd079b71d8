# Docent: `make run` starts the app on the embedded default, `make test` runs the whole suite.
# Both set everything up on a fresh machine (virtual environment, packages, browser for e2e tests).

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
# uv installs the pinned set about ten times faster than pip, and skips pip's ahead-of-time bytecode
# compilation of every installed file (about half of pip's time here): Python compiles and caches only the
# modules a process imports. pip's find-links (PIP_FIND_LINKS: a machine's own wheels) are passed on.
UV_PIP = $(VENV)/bin/uv pip install -q --python $(PY) $(foreach links,$(PIP_FIND_LINKS),--find-links $(links))

# Let Python cache compiled bytecode (some machines, this project's CI among them, set PYTHONDONTWRITEBYTECODE;
# then every process the suite or the app starts compiles every module it imports again).
unexport PYTHONDONTWRITEBYTECODE
PORT ?= 8501
DEMO ?= assets/demo

.PHONY: install install-dev system-deps run demo test test-fast lint bench clean

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install uv -c constraints.txt || echo "uv could not be installed: pip installs the packages"
	$(UV_PIP) -r requirements.txt -c constraints.txt || $(PIP) install --no-compile -r requirements.txt -c constraints.txt
	$(PIP) install --no-deps --no-build-isolation -e . -c constraints.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(UV_PIP) -r requirements-dev.txt -c constraints.txt || $(PIP) install --no-compile -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian packages the tests need: Chromium (+ emoji font) for the browser tests, Node.js for dynalite.
system-deps:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || missing="$$missing fonts-noto-color-emoji"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Ingest the demo knowledge base and Q&A set (unchanged files are skipped), then open the app.
demo: install
	$(VENV)/bin/docent ingest $(DEMO)/docs
	$(VENV)/bin/docent qa import $(DEMO)/qa_pairs.csv

run: demo
	$(VENV)/bin/docent app --port $(PORT)   # listens on DOCENT_SERVER_ADDRESS (127.0.0.1 unless set)

# Three workers, one test file each at a time: most tests wait on a server, a browser or a subprocess,
# so three keep two cores busy; a file's module fixtures (servers, indexes) stay in one worker.
PYTEST_WORKERS ?= 3

# The suite embeds with MiniLM on ONNX Runtime from one export (tests/conftest.py). Exporting imports torch
# (minutes on a loaded 2-core machine), so it starts in the background while lint runs and pytest collects;
# the export is file-locked, and the tests wait for it. The folder is kept across runs (keyed by the model's hash).
TEST_ONNX_DIR := $(CURDIR)/.cache/test-onnx
EXPORT_MINILM := from index.onnx_embeddings import OnnxEmbeddings as E; E(cache_dir='$(TEST_ONNX_DIR)').warm_up()

test: install-dev system-deps
	@mkdir -p .cache
	@HF_HUB_OFFLINE=1 $(PY) -c "$(EXPORT_MINILM)" > .cache/test-onnx-export.log 2>&1 & \
	$(MAKE) --no-print-directory lint && \
	DOCENT_TEST_ONNX_CACHE_DIR=$(TEST_ONNX_DIR) HF_HUB_OFFLINE=1 \
	  $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30; \
	status=$$?; wait; exit $$status

test-fast: install-dev
	DOCENT_TEST_ONNX_CACHE_DIR=$(TEST_ONNX_DIR) HF_HUB_OFFLINE=1 \
	  $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not e2e and not slow"

# Style, formatting, import contracts (pyproject.toml [tool.importlinter]) and types.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) bench/bench_retrieval.py && $(PY) bench/bench_router.py && $(PY) bench/bench_chain.py

clean:
	rm -rf $(VENV) .cache data
