"""Spreadsheets (.xlsx/.xlsm and .csv/.tsv): rows become 'Header: value | ...' records.

Each section holds up to `rows_per_section` data rows and says which sheet and which rows (1-based,
inclusive, as the spreadsheet app shows them) it came from. Both converters stream: sections are
re-iterable objects that read the file again when iterated, so a huge sheet never sits in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.converters.base import (
    DEFAULT_MAX_OFFICE_RATIO,
    DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES,
    TEXT_SAMPLE_BYTES,
    check_zip_limits,
    clip_title,
    detect_encoding,
    ensure_not_empty,
    humanise_stem,
    record_line,
    refuse_ole_container,
)
from ingest.documents import ConversionError, Document, Section

log = logging.getLogger(__name__)


def format_cell(value: object) -> str:
    """A cell value as a person reads it: 3.0 -> '3', dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def sections_from_rows(
    rows: Iterable[tuple[int, list[str]]], headings: list[str], sheet: str | None, rows_per_section: int
) -> Iterator[Section]:
    """Numbered rows -> sections: the first non-empty row is the header, the rest are records."""
    header: list[str] | None = None
    header_row = 0
    batch: list[str] = []
    first = last = 0
    for number, values in rows:
        if not any(values):
            continue
        if header is None:
            header, header_row = values, number
            continue
        line = record_line(header, values)
        if not batch:
            first = number
        batch.append(line)
        last = number
        if len(batch) >= rows_per_section:
            yield Section(text="\n".join(batch), headings=headings, sheet=sheet, rows=(first, last))
            batch = []
    if batch:
        yield Section(text="\n".join(batch), headings=headings, sheet=sheet, rows=(first, last))
    elif header is not None and last == 0:  # a header-only sheet still says something (a title, a list)
        yield Section(
            text=" | ".join(v for v in header if v), headings=headings, sheet=sheet, rows=(header_row, header_row)
        )


class _Rows:
    """Base for the lazy, re-iterable section sequences below."""

    def __init__(self, path: Path, title: str, rows_per_section: int) -> None:
        self.path = path
        self.title = title
        self.rows_per_section = rows_per_section

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


def _check_rows_per_section(rows_per_section: int) -> None:
    if rows_per_section < 1:
        raise ValueError(f"rows_per_section must be at least 1, got {rows_per_section}")


# --- Excel ---------------------------------------------------------------------------------------


def _open_workbook(path: Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    ensure_not_empty(path)
    refuse_ole_container(path, "workbook")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        reason = (
            "not an Excel .xlsx file" if isinstance(error, zipfile.BadZipFile | InvalidFileException) else str(error)
        )
        raise ConversionError(
            f"not a readable workbook ({reason}): open it in Excel, save it as .xlsx, and ingest again"
        ) from error


def _sheet_rows(sheet) -> Iterator[tuple[int, list[str]]]:
    # Some writers store a wrong sheet size, which would cut rows or columns off: ignore it.
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    # In read-only mode openpyxl fills gaps with empty rows, so position == Excel row number.
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, [format_cell(value) for value in values]


class WorkbookSections(_Rows):
    """Lazy sections of a workbook, sheet by sheet."""

    def __iter__(self) -> Iterator[Section]:
        workbook = _open_workbook(self.path)
        try:
            for sheet in workbook.worksheets:
                headings = [self.title, sheet.title]
                try:
                    yield from sections_from_rows(_sheet_rows(sheet), headings, sheet.title, self.rows_per_section)
                except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
                    log.warning("%s: stopped reading sheet %r (%s)", self.path.name, sheet.title, error)
        finally:
            workbook.close()


class XLSXToDocument:
    """Converts .xlsx/.xlsm workbooks; every sheet's rows become records grouped `rows_per_section` at a time.

    >>> doc = XLSXToDocument(rows_per_section=20).convert(Path("staff.xlsx"), "staff.xlsx")  # doctest: +SKIP
    >>> first = next(iter(doc.sections))  # doctest: +SKIP
    >>> first.sheet, first.rows, first.text.splitlines()[0]  # doctest: +SKIP
    ('People', (2, 21), 'Name: Ada | Team: Platform')
    """

    kind = "xlsx"

    def __init__(
        self,
        rows_per_section: int = 20,
        max_uncompressed_bytes: int = DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES,
        max_ratio: int = DEFAULT_MAX_OFFICE_RATIO,
    ) -> None:
        _check_rows_per_section(rows_per_section)
        self.rows_per_section = rows_per_section
        self.max_uncompressed_bytes = max_uncompressed_bytes
        self.max_ratio = max_ratio

    def convert(self, path: Path, source: str) -> Document:
        ensure_not_empty(path)
        check_zip_limits(path, "workbook", self.max_uncompressed_bytes, self.max_ratio)
        workbook = _open_workbook(path)
        try:
            title = clip_title(workbook.properties.title or "") if workbook.properties else ""
            has_text = any(any(values) for sheet in workbook.worksheets for _, values in _sheet_rows(sheet))
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
            raise ConversionError(
                f"not a readable workbook ({error}): open it in Excel, save it again, and ingest again"
            ) from error
        finally:
            workbook.close()
        if not has_text:
            raise ConversionError("empty file: the workbook has no cells with values")
        title = title or humanise_stem(path.stem)
        return Document(
            source=source, title=title, sections=WorkbookSections(path, title, self.rows_per_section), kind=self.kind
        )


# --- CSV -----------------------------------------------------------------------------------------


def _csv_dialect(sample: str, suffix: str) -> type[csv.Dialect] | csv.Dialect:
    if suffix == ".tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _csv_format(path: Path) -> tuple[str, type[csv.Dialect] | csv.Dialect]:
    ensure_not_empty(path)
    with path.open("rb") as handle:
        sample_bytes = handle.read(TEXT_SAMPLE_BYTES)
    encoding = detect_encoding(sample_bytes)
    sample = sample_bytes.decode(encoding, errors="replace")
    cut = sample.rfind("\n")  # sniff whole lines only
    return encoding, _csv_dialect(sample[: cut if cut > 0 else len(sample)], path.suffix.lower())


def _csv_rows(path: Path, encoding: str, dialect) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, dialect)
        try:
            for number, values in enumerate(reader, start=1):
                yield number, [format_cell(value) for value in values]
        except csv.Error as error:
            log.warning("%s: stopped reading at line %d (%s)", path.name, reader.line_num, error)


class CSVSections(_Rows):
    """Lazy sections of a CSV/TSV file."""

    def __init__(self, path: Path, title: str, rows_per_section: int, encoding: str, dialect) -> None:
        super().__init__(path, title, rows_per_section)
        self.encoding = encoding
        self.dialect = dialect

    def __iter__(self) -> Iterator[Section]:
        rows = _csv_rows(self.path, self.encoding, self.dialect)
        yield from sections_from_rows(rows, [self.title], None, self.rows_per_section)


class CSVToDocument:
    """Converts .csv/.tsv files (delimiter sniffed, utf-8 with or without BOM, or Windows/latin-1).

    Row numbers are the rows a spreadsheet app shows: the header is row 1.

    >>> doc = CSVToDocument().convert(Path("holidays.csv"), "holidays.csv")  # doctest: +SKIP
    >>> next(iter(doc.sections)).rows  # doctest: +SKIP
    (2, 21)
    """

    kind = "csv"

    def __init__(self, rows_per_section: int = 20) -> None:
        _check_rows_per_section(rows_per_section)
        self.rows_per_section = rows_per_section

    def convert(self, path: Path, source: str) -> Document:
        encoding, dialect = _csv_format(path)
        if not any(any(values) for _, values in _csv_rows(path, encoding, dialect)):
            raise ConversionError("empty file: no values in it")
        title = humanise_stem(path.stem)
        sections = CSVSections(path, title, self.rows_per_section, encoding, dialect)
        return Document(source=source, title=title, sections=sections, kind=self.kind)
