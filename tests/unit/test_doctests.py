"""The runnable examples in the packages' docstrings (doctest), one test per module that has some.

They run here rather than through pytest's `--doctest-modules`: that imports every module of every package
at collection, in each xdist worker, which cost minutes of CPU per worker on the loaded 2-core machine.
Here a module is imported only by the one test that runs its examples. The modules are found by reading
the files (an example line starts with `>>> ` and is not a comment), so a new module with examples is picked up by itself.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "config",
    "index",
    "llm",
    "chain",
    "ingest",
    "feedback",
    "finetune",
    "evaluation",
    "api",
    "cli",
    "serverless",
)
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _is_example(line: str) -> bool:
    """`>>> code`; a `>>> # comment` line is an illustration that doctest does not run."""
    line = line.lstrip()
    return line.startswith(">>> ") and not line[4:].lstrip().startswith("#")


def modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if any(_is_example(line) for line in path.read_text(encoding="utf-8").splitlines()):
                found.append(".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"))
    return found


def test_modules_with_examples_are_found():
    modules = modules_with_examples()
    assert "config.text" in modules and "ingest.converters" in modules
    assert "chain.pipeline" not in modules  # only `>>> # ...` illustrations there
    assert not any(name.startswith("tests") for name in modules)


@pytest.mark.parametrize("module_name", modules_with_examples())
def test_docstring_examples_pass(module_name):
    module = importlib.import_module(module_name)
    tests = [t for t in doctest.DocTestFinder().find(module, module_name) if t.examples]
    assert tests, f"{module_name} has `>>> ` lines but doctest finds no examples in its docstrings"
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()
