"""Without node/npm the dynalite fixture skips on a laptop and fails in CI."""

from __future__ import annotations

import pytest

from tests.fixtures import dynalite as fixture


@pytest.fixture
def no_node(monkeypatch):
    monkeypatch.setattr(fixture.shutil, "which", lambda name: None)


def test_skips_locally(no_node, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node"):
        fixture.ensure_dynalite()


def test_fails_in_ci(no_node, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        fixture.ensure_dynalite()
