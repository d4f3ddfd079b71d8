"""A small API over a toy-embedder index (fast: no model load) for in-process route tests."""

from __future__ import annotations

import pytest

from tests.contract.index_contract import EMB
from tests.fixtures.small_index import small_index


class ApiEnv:
    """Settings, store, index and chain shared by the clients a test makes (one per auth setup)."""

    def __init__(self, data_dir, **overrides):
        from chain.service import build_chain
        from config.settings import load_settings
        from feedback.factory import open_store

        overrides.setdefault("api_rate_limit_per_minute", 0)
        overrides.setdefault("auth_header_unsigned", True)  # api_auth=header trusts the proxy on loopback
        self.settings = load_settings(data_dir=data_dir, **overrides)
        self.store = open_store(self.settings)
        self.index = small_index(self.settings.index_dir)
        self.chain = build_chain(self.settings, self.store, embedder=EMB, index=self.index)

    def app(self, verifier=None, **changes):
        from api.app import create_app

        settings = self.settings.model_copy(update=changes) if changes else self.settings
        return create_app(
            settings, store=self.store, chain=self.chain, index=self.index, embedder=EMB, verifier=verifier
        )

    def client(self, verifier=None, **changes):
        from fastapi.testclient import TestClient

        return TestClient(self.app(verifier, **changes), raise_server_exceptions=False)


@pytest.fixture
def env(tmp_path):
    env = ApiEnv(
        tmp_path / "data", role_reviewers="rev@corp.com", role_analysts="ana@corp.com", role_admins="boss@corp.com"
    )
    yield env
    env.store.close()


def as_user(user: str) -> dict[str, str]:
    """Headers of a request through the trusted proxy (auth header mode)."""
    return {"X-Amzn-Oidc-Identity": user}
