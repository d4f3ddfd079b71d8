"""PDF files: one section per page with its exact 1-based page number, read lazily.

`Document.sections` is a `PDFPages`: iterating it reads the file again, a batch of pages at a
time with a fresh reader per batch, so a 2,000-page manual never sits in memory as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.converters.base import clip_title, ensure_not_empty, humanise_stem, normalise_whitespace
from ingest.documents import ConversionError, Document, Section

log = logging.getLogger(__name__)

ENCRYPTED = "encrypted PDF: remove the password and ingest again"
NO_TEXT = (
    "no extractable text in this PDF: it is probably scanned images; run it through OCR "
    "(e.g. ocrmypdf) and ingest the result"
)
_PAGES_PER_READER = 64  # pypdf caches parsed objects per reader; a fresh reader per batch bounds memory


@contextmanager
def _open_reader(path: Path):
    """A decrypted pypdf reader over an open file, or `ConversionError` saying why not."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    with path.open("rb") as handle:
        if b"%PDF-" not in handle.read(1024):
            raise ConversionError("not a PDF file (it has no PDF header): check the file type and ingest again")
        handle.seek(0)
        try:
            reader = PdfReader(handle)
            if reader.is_encrypted:
                try:
                    unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
                except (DependencyError, NotImplementedError, PyPdfError):
                    unlocked = False
                if not unlocked:
                    raise ConversionError(ENCRYPTED)
            page_count = len(reader.pages)
        except ConversionError:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
            raise ConversionError(
                f"not a readable PDF ({_short(error)}): open it in a PDF viewer, re-save or re-export it, and ingest again"
            ) from error
        if page_count == 0:
            raise ConversionError("empty file: the PDF has no pages")
        yield reader


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _page_text(reader, index: int) -> str:
    try:
        return normalise_whitespace(reader.pages[index].extract_text() or "")
    except Exception as error:  # one broken page must not lose the rest of the document
        log.warning("skipping page %d: its text could not be extracted (%s)", index + 1, _short(error))
        return ""


class PDFPages:
    """Re-iterable, lazy sequence of one `Section` per page that has text (page numbers 1-based)."""

    def __init__(self, path: Path, title: str, page_count: int) -> None:
        self.path = path
        self.title = title
        self.page_count = page_count

    def __iter__(self) -> Iterator[Section]:
        for start in range(0, self.page_count, _PAGES_PER_READER):
            with _open_reader(self.path) as reader:
                for index in range(start, min(start + _PAGES_PER_READER, len(reader.pages))):
                    text = _page_text(reader, index)
                    if text:
                        yield Section(text=text, headings=[self.title], page=index + 1)

    def __repr__(self) -> str:
        return f"PDFPages({str(self.path)!r}, pages={self.page_count})"


class PDFToDocument:
    """Converts a .pdf into one section per page; refuses encrypted and image-only PDFs with advice.

    >>> doc = PDFToDocument().convert(Path("handbook.pdf"), "hr/handbook.pdf")  # doctest: +SKIP
    >>> [(s.page, s.text[:20]) for s in doc.sections]  # doctest: +SKIP
    [(1, 'Employee handbook...'), (2, 'Leave is booked in ...')]
    """

    kind = "pdf"

    def convert(self, path: Path, source: str) -> Document:
        ensure_not_empty(path)
        with _open_reader(path) as reader:
            page_count = len(reader.pages)
            first_text = ""
            for index in range(page_count):
                first_text = _page_text(reader, index)
                if first_text:
                    break
            if not first_text:
                raise ConversionError(NO_TEXT)
            title = _metadata_title(reader)
            if not title:
                page_one = first_text if index == 0 else ""
                first_line = next((line for line in page_one.splitlines() if line.strip()), "")
                title = clip_title(first_line) if first_line else humanise_stem(path.stem)
        return Document(source=source, title=title, sections=PDFPages(path, title, page_count), kind=self.kind)


def _metadata_title(reader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata else None
    except Exception:  # broken info dictionaries are common and never fatal
        return None
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    if not title or title.lower() in ("untitled", "title", "document"):
        return None
    return clip_title(title)
