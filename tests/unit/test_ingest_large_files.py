"""Large and hostile files (issue 11, item 7): progress without a terminal, resume after a stop, the
per-file chunk limit, zip bombs refused, UTF-16/32 text read by its byte-order mark."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest

from index.embedded import EmbeddedIndex
from index.embeddings import CachedEmbeddings
from ingest.sync import SyncOptions, sync_paths
from tests.fixtures.documents import build_docx, build_xlsx

# Big enough for several embedding batches and a resume; the 200k-row figure comes from bench/, not here.
ROWS = 40_000


class HashEmbedder:
    """Fast and deterministic (the toy bag-of-words embedder is too slow for 10^5 chunks on 2 cores)."""

    model_id, dim = "hash-8", 8

    def __init__(self, fail_after_calls: int | None = None):
        self.fail_after_calls = fail_after_calls
        self.calls = 0
        self.texts = 0

    def embed_documents(self, texts):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a run
        self.calls += 1
        self.texts += len(texts)
        raw = np.array(
            [np.frombuffer(hashlib.blake2b(t.encode(), digest_size=32).digest(), np.uint32) for t in texts],
            dtype=np.float32,
        ).reshape(len(texts), self.dim)
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


@pytest.fixture
def huge_csv(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    with (folder / "orders.csv").open("w", encoding="utf-8") as fh:
        fh.write("order,customer,city,amount,status\n")
        for i in range(ROWS):
            fh.write(f"ORD-{i:07d},Customer {i % 9973},City {i % 211},{(i * 37) % 10000}.{i % 100:02d},shipped\n")
    return folder


def test_huge_csv_shows_progress_without_a_terminal_and_resumes_after_a_stop(huge_csv, tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    # bigger chunks than the default keep the index writes affordable here (~1,200 chunks)
    monkeypatch.setenv("DOCENT_CHILD_CHUNK_CHARS", "2000")
    monkeypatch.setenv("DOCENT_PARENT_CHUNK_CHARS", "8000")
    stopped = HashEmbedder(fail_after_calls=3)
    monkeypatch.setattr("index.factory.make_embedder", lambda settings: stopped)
    with pytest.raises(SystemExit) as code:
        main(["ingest", str(huge_csv)])
    err = capsys.readouterr().err
    assert code.value.code == 130
    assert "[1/1] orders.csv" in err  # progress lines although stderr is not a terminal here
    assert "embedded 256 chunks so far (orders.csv)" in err
    assert "Run the same command again to resume" in " ".join(err.split()) and "Traceback" not in err
    assert stopped.texts == 3 * 256

    resumed = HashEmbedder()
    monkeypatch.setattr("index.factory.make_embedder", lambda settings: resumed)
    with pytest.raises(SystemExit) as code:
        main(["ingest", str(huge_csv)])
    err = capsys.readouterr().err
    assert code.value.code == 0, err
    index = EmbeddedIndex(tmp_path / "data" / "index")
    [record] = index.list_sources().values()
    assert record.children > 1_000
    # the three batches embedded before the stop were not embedded again
    assert resumed.texts == record.children - 3 * 256
    assert f"{3 * 256} cached" in " ".join(err.split())


def test_a_file_over_the_chunk_limit_is_skipped_with_the_reason(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "big.txt").write_text("\n\n".join(f"Paragraph {i} says something new." * 20 for i in range(200)))
    (folder / "small.txt").write_text("Office hours are nine to five.")
    index = EmbeddedIndex(tmp_path / "index")
    summary = sync_paths([folder], index, HashEmbedder(), SyncOptions(max_chunks_per_file=50))
    [skipped] = summary.skipped
    assert skipped.source == "big.txt"
    assert "more than 50 chunks" in skipped.reason and "DOCENT_INGEST_MAX_CHUNKS_PER_FILE" in skipped.reason
    assert set(index.list_sources()) == {"small.txt"}


def _inflate(path, part: str, payload: bytes) -> None:
    """Rewrite one part of an Office zip with `payload` (deflated: repetitive XML shrinks ~1000x)."""
    with zipfile.ZipFile(path) as src:
        items = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in items:
            dst.writestr(info.filename, payload if info.filename == part else data)


def _bomb_body(closing: bytes, unit: bytes, size: int) -> bytes:
    return b'<?xml version="1.0"?>' + unit * (size // len(unit)) + closing


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_office_zip_bomb_is_refused_before_parsing(tmp_path, kind):
    folder = tmp_path / "kb"
    folder.mkdir()
    if kind == "docx":
        path = build_docx(folder, "bomb.docx")
        body = _bomb_body(b"", b"<w:p><w:r><w:t>again and again</w:t></w:r></w:p>", 40 * 2**20)
        _inflate(path, "word/document.xml", body)
    else:
        path = build_xlsx(folder, "bomb.xlsx")
        body = _bomb_body(b"", b'<row><c t="inlineStr"><is><t>again</t></is></c></row>', 40 * 2**20)
        _inflate(path, "xl/worksheets/sheet1.xml", body)
    assert path.stat().st_size < 400 * 1024  # small on disk, 40 MiB of XML inside
    index = EmbeddedIndex(tmp_path / "index")
    summary = sync_paths([folder], index, HashEmbedder(), SyncOptions())
    [skipped] = summary.skipped
    assert "zip bomb" in skipped.reason and "MiB" in skipped.reason
    assert index.list_sources() == {}


def test_office_file_over_the_uncompressed_limit_is_refused(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    build_docx(folder, "handbook.docx")
    summary = sync_paths(
        [folder], EmbeddedIndex(tmp_path / "index"), HashEmbedder(), SyncOptions(max_office_uncompressed_bytes=1024)
    )
    [skipped] = summary.skipped
    assert "over the 0 MiB limit" in skipped.reason or "limit for Office files" in skipped.reason
    assert "DOCENT_INGEST_MAX_OFFICE_UNCOMPRESSED_MB" in skipped.reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_with_a_bom_is_read(tmp_path, encoding):
    folder = tmp_path / "kb"
    folder.mkdir()
    text = "Parking permits are issued by Facilities — ask Zoë at the front desk."
    bom = {"utf-16-be": "\ufeff"}.get(encoding, "")  # utf-16/utf-32 codecs write their own BOM
    (folder / "parking.txt").write_bytes((bom + text).encode(encoding))
    (folder / "rooms.csv").write_bytes((bom + "room,floor\nAtlas,3\nZoë,4\n").encode(encoding))
    index = EmbeddedIndex(tmp_path / "index")
    summary = sync_paths([folder], index, HashEmbedder(), SyncOptions())
    assert summary.skipped == []

    def found_in(query: str) -> str:
        [hit, *_] = index.lexical(query, 3)
        return index.get_parents([hit.parent_id])[hit.parent_id].source

    assert found_in("Zoë front desk") == "parking.txt"
    assert found_in("Atlas") == "rooms.csv"


def test_cached_embedder_commits_each_batch(tmp_path):
    """The resume guarantee rests on this: a batch is on disk as soon as it was embedded."""
    inner = HashEmbedder()
    cache = CachedEmbeddings(inner, tmp_path / "cache.sqlite3")
    cache.embed_documents(["a", "b"])
    again = CachedEmbeddings(HashEmbedder(fail_after_calls=0), tmp_path / "cache.sqlite3")
    assert again.embed_documents(["a", "b"]).shape == (2, 8)
