"""One CLI error handler: a message and its fix, exit 1, no traceback unless --debug."""

from __future__ import annotations

import socket

import pytest

from cli import main as cli_main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out + captured.err


def test_unreachable_opensearch_is_a_message_not_a_traceback(capsys, monkeypatch):
    monkeypatch.setenv("DOCENT_INDEX_BACKEND", "opensearch")
    monkeypatch.setenv("DOCENT_OPENSEARCH_URL", f"http://127.0.0.1:{_closed_port()}")
    code, output = _run(capsys, "index", "status")
    assert code == 1
    assert "could not be reached" in output and "DOCENT_OPENSEARCH_URL" in output
    assert "Traceback" not in output


def test_a_bad_setting_names_the_setting(capsys, monkeypatch):
    monkeypatch.setenv("DOCENT_STORE_BACKEND", "dynamodb")
    monkeypatch.setenv("DOCENT_INDEX_BACKEND", "nonsense")
    code, output = _run(capsys, "index", "status")
    assert code == 1
    assert "DOCENT_INDEX_BACKEND" in output.upper() or "index_backend" in output
    assert "Traceback" not in output


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    import index.factory

    def broken(settings):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(index.factory, "open_index", broken)
    code, output = _run(capsys, "index", "status")
    assert code == 1
    assert "unexpected RuntimeError: disk on fire" in output and "--debug" in output
    assert "Traceback" not in output
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli_main.main(["index", "status", "--debug"])


def test_usage_errors_are_messages_too(capsys):
    code, output = _run(capsys, "no-such-command")
    assert code != 0
    assert "No such command" in output
