"""Where the app listens (issue 11, item 5): loopback unless a setting says otherwise."""

from __future__ import annotations

import pytest

from cli.app import exposure_warning, streamlit_args
from config.settings import ConfigError, load_settings
from tests.fixtures.alb import ARN


def test_the_app_listens_on_loopback_by_default():
    args = streamlit_args(load_settings())
    assert args[args.index("--server.address") + 1] == "127.0.0.1"
    assert exposure_warning(load_settings()) is None


def test_a_setting_opens_it_and_local_mode_is_warned_about():
    settings = load_settings(server_address="0.0.0.0")
    args = streamlit_args(settings, port=9000)
    assert args[args.index("--server.address") + 1] == "0.0.0.0"
    assert args[args.index("--server.port") + 1] == "9000"
    assert "everyone who reaches the port" in exposure_warning(settings)
    assert exposure_warning(load_settings(server_address="0.0.0.0", auth_mode="header", auth_alb_arns=ARN)) is None


def test_makefile_and_dockerfile_start_the_app_the_same_way():
    from tests.fixtures.app_corpus import REPO

    assert "docent app --port" in (REPO / "Makefile").read_text()
    docker = (REPO / "Dockerfile").read_text()
    assert 'CMD ["docent", "app"]' in docker and "--server.address=0.0.0.0" not in docker


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"auth_mode": "header"}, "DOCENT_AUTH_ALB_ARNS"),
        ({"auth_mode": "header", "auth_header_unsigned": True, "server_address": "0.0.0.0"}, "listen on 127.0.0.1"),
    ],
)
def test_header_mode_settings_that_trust_anyone_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


def test_header_mode_settings_that_are_safe_start():
    assert load_settings(auth_mode="header", auth_alb_arns=ARN).auth_alb_user_claim == "email"
    assert load_settings(auth_mode="header", auth_header_unsigned=True).server_address == "127.0.0.1"
