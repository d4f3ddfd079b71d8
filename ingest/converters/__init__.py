"""File converters: one class per format, each turning a file into an `ingest.documents.Document`.

`convert_file` picks the converter by suffix and always answers with a `Document` or a
`ConversionError` whose message says what was wrong and what to do (never a traceback), so an
ingestion run can report the file and go on.

Sections of PDF, XLSX and CSV documents are lazy and re-iterable (each pass reads the file again);
iterate them, do not index them or take their `len()`.

>>> from pathlib import Path; import tempfile
>>> root = Path(tempfile.mkdtemp()); (root / "hr").mkdir()
>>> _ = (root / "hr" / "leave.md").write_text("# Leave\\n\\nBook leave in the HR portal.\\n")
>>> doc = convert_file(root / "hr" / "leave.md", root)
>>> doc.source, doc.kind, doc.sections[0].text
('hr/leave.md', 'markdown', 'Book leave in the HR portal.')
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ingest.converters.base import Converter
from ingest.converters.html import HTMLToDocument
from ingest.converters.markdown import MarkdownToDocument
from ingest.converters.pdf import PDFToDocument
from ingest.converters.spreadsheet import CSVToDocument, XLSXToDocument
from ingest.converters.text import TextToDocument
from ingest.converters.word import DOCXToDocument
from ingest.documents import ConversionError, Document

log = logging.getLogger(__name__)

CONVERTER_FACTORIES: dict[str, Callable[[], Converter]] = {
    ".md": MarkdownToDocument,
    ".markdown": MarkdownToDocument,
    ".txt": TextToDocument,
    ".html": HTMLToDocument,
    ".htm": HTMLToDocument,
    ".pdf": PDFToDocument,
    ".xlsx": XLSXToDocument,
    ".xlsm": XLSXToDocument,
    ".csv": CSVToDocument,
    ".tsv": CSVToDocument,
    ".docx": DOCXToDocument,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(CONVERTER_FACTORIES)

_LEGACY_ADVICE = {
    ".doc": "save it as .docx in Word",
    ".xls": "save it as .xlsx in Excel",
    ".ppt": "export it as PDF",
    ".pptx": "export it as PDF",
    ".rtf": "save it as .docx in Word",
    ".odt": "save it as .docx",
    ".ods": "save it as .xlsx",
}

__all__ = [
    "CONVERTER_FACTORIES",
    "SUPPORTED_SUFFIXES",
    "CSVToDocument",
    "Converter",
    "DOCXToDocument",
    "HTMLToDocument",
    "MarkdownToDocument",
    "PDFToDocument",
    "TextToDocument",
    "XLSXToDocument",
    "convert_file",
    "is_supported",
    "limited_converters",
    "source_name",
]


def limited_converters(max_uncompressed_bytes: int, max_ratio: int) -> dict[str, Converter]:
    """The Office converters with these zip limits (from settings); the others need none."""
    word = DOCXToDocument(max_uncompressed_bytes=max_uncompressed_bytes, max_ratio=max_ratio)
    excel = XLSXToDocument(max_uncompressed_bytes=max_uncompressed_bytes, max_ratio=max_ratio)
    return {".docx": word, ".xlsx": excel, ".xlsm": excel}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def source_name(path: Path, root: Path) -> str:
    """`path` relative to `root` with POSIX slashes; raises ValueError when `path` is outside `root`."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        try:
            relative = path.resolve().relative_to(root.resolve())
        except ValueError:
            raise ValueError(f"{path} is not inside the ingested folder {root}") from None
    return relative.as_posix()


def convert_file(path: Path, root: Path, converters: dict[str, Converter] | None = None) -> Document:
    """Convert one file under `root`; `converters` (suffix -> converter) overrides the defaults."""
    path, root = Path(path), Path(root)
    source = source_name(path, root)
    suffix = path.suffix.lower()
    converter = (converters or {}).get(suffix)
    if converter is None:
        factory = CONVERTER_FACTORIES.get(suffix)
        if factory is None:
            raise ConversionError(_unsupported(suffix))
        converter = factory()
    try:
        return converter.convert(path, source)
    except ConversionError:
        raise
    except Exception as error:  # a converter bug or an exotic file must not stop the whole run
        log.debug("converter failed on %s", source, exc_info=True)
        raise ConversionError(
            f"could not read this file ({type(error).__name__}: {error}): check it opens in its usual app, "
            "re-save it, and ingest again"
        ) from error


def _unsupported(suffix: str) -> str:
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if advice := _LEGACY_ADVICE.get(suffix):
        return f"unsupported file type '{suffix}': {advice} and ingest again (Docent reads {supported})"
    shown = suffix or "(no extension)"
    return f"unsupported file type '{shown}': Docent reads {supported}; convert it to one of these and ingest again"
