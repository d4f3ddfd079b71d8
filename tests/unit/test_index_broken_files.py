"""A corrupt vector file is rebuilt from SQLite; a lost database is said, not hidden (issue 11, item 6)."""

from __future__ import annotations

import pytest

from index.embedded import EmbeddedIndex
from tests.contract.index_contract import CORPUS, EMB, make_source

QUESTION = "GlobalProtect client badge"


def _populated(path):
    idx = EmbeddedIndex(path)
    idx.ensure_model(EMB.model_id, EMB.dim)
    for source, text in CORPUS.items():
        idx.replace_source(*make_source(source, text))
    idx.flush()
    return idx


@pytest.mark.parametrize("damage", [b"", b"not a faiss file at all" * 10, "truncated"])
def test_corrupt_vector_file_is_rebuilt_from_sqlite_and_said(tmp_path, damage):
    path = tmp_path / "index"
    _populated(path)
    faiss_file = path / "vectors.faiss"
    good = faiss_file.read_bytes()
    faiss_file.write_bytes(good[: len(good) // 2] if damage == "truncated" else damage)

    reopened = EmbeddedIndex(path)
    reopened.warm_up()  # used to raise from faiss.read_index and stop the app
    _, dense = reopened.candidates(QUESTION, EMB.embed_query(QUESTION), 3)
    assert dense and dense[0].parent_id == "it/vpn.md-p0"
    [notice] = reopened.health()
    assert "vectors.faiss could not be read" in notice and "rebuilt" in notice and "nothing was lost" in notice
    # the good file was written back: the next start reads it without rebuilding
    again = EmbeddedIndex(path)
    again.warm_up()
    assert again.health() == []
    assert again._vectors().ntotal == reopened._vectors().ntotal


def test_missing_database_of_a_populated_index_is_reported(tmp_path):
    path = tmp_path / "index"
    _populated(path)
    assert EmbeddedIndex(path).health() == []
    for name in ("index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"):
        (path / name).unlink(missing_ok=True)

    reopened = EmbeddedIndex(path)
    [notice] = reopened.health()
    assert "index.sqlite3 is missing or was replaced" in notice and "docent ingest" in notice
    assert f"{len(CORPUS)} documents" in notice
    # still said on the next start (the empty database SQLite created is not the one that was lost)
    assert EmbeddedIndex(path).health() == [notice]
    # rebuilding by an ingest clears it
    reopened.ensure_model(EMB.model_id, EMB.dim)
    reopened.replace_source(*make_source("hr/leave.md", CORPUS["hr/leave.md"]))
    reopened.flush()
    assert EmbeddedIndex(path).health() == []


def test_a_new_empty_index_has_nothing_to_report(tmp_path):
    assert EmbeddedIndex(tmp_path / "fresh").health() == []


def test_index_status_says_so(tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    from config.settings import load_settings

    index_dir = load_settings().index_dir
    _populated(index_dir)
    (index_dir / "index.sqlite3").unlink()
    with pytest.raises(SystemExit) as code:
        main(["index", "status"])
    captured = capsys.readouterr()
    assert code.value.code == 1
    assert "missing or was replaced" in captured.err and "Traceback" not in captured.err
