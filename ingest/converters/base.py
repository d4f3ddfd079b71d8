"""What every converter shares: the `Converter` role and small text helpers.

>>> normalise_whitespace("  Hello \\t world \\n\\n\\n\\nBye ")
'Hello world\\n\\nBye'
>>> Slugger().slug("Install the CLI (v2)!")
'install-the-cli-v2'
>>> humanise_stem("getting_started-guide")
'Getting started guide'
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from ingest.documents import ConversionError, Document, Section

EMPTY_FILE = "empty file"
# An encrypted Office file (.docx/.xlsx with a password) is an OLE compound file, not a zip.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TEXT_SAMPLE_BYTES = 64 * 1024
# Office packages (issue 11): limits on what a .docx/.xlsx may expand to, so a small zip bomb is refused.
DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES = 128 * 2**20
DEFAULT_MAX_OFFICE_RATIO = 100
RATIO_CHECK_MIN_BYTES = 8 * 2**20  # small parts may compress very well (empty sheets, styles) and harm nobody


class Converter(Protocol):
    """Turns one file into a `Document`, or raises `ConversionError` with a reason a person can act on."""

    def convert(self, path: Path, source: str) -> Document: ...


_INLINE_SPACE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_RUN = re.compile(r"\n{3,}")


def normalise_whitespace(text: str, keep_indent: bool = False) -> str:
    """Collapse runs of spaces inside lines and runs of blank lines; keep paragraph breaks.

    With `keep_indent` the leading indentation of each line survives (code blocks).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = []
    for line in text.split("\n"):
        if keep_indent:
            stripped = line.lstrip(" \t")
            indent = line[: len(line) - len(stripped)].replace("\t", "    ")
            line = indent + _INLINE_SPACE.sub(" ", stripped).rstrip() if stripped.strip() else ""
        else:
            line = _INLINE_SPACE.sub(" ", line).strip()
        lines.append(line)
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")


class Slugger:
    """GitHub-style heading slugs; a repeated heading gets -1, -2, ... like GitHub does."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, heading: str) -> str:
        base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


def humanise_stem(stem: str) -> str:
    words = re.sub(r"[_\-\s]+", " ", stem).strip()
    if not words:
        return stem
    return words[0].upper() + words[1:]


def clip_title(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ensure_not_empty(path: Path) -> None:
    """Raise for a missing, unreadable or 0-byte file."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ConversionError(
            f"cannot read the file ({error.strerror or error}): check it exists and is readable"
        ) from error
    if size == 0:
        raise ConversionError(EMPTY_FILE)


def refuse_ole_container(path: Path, what: str) -> None:
    """Office files with a password (and legacy .doc/.xls) are OLE containers, not zip packages."""
    with path.open("rb") as handle:
        if handle.read(len(OLE_MAGIC)) == OLE_MAGIC:
            raise ConversionError(
                f"password-protected or old-format {what}: remove the password (or save it as {path.suffix.lower() or what}"
                " from Office) and ingest again"
            )


# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def check_zip_limits(path: Path, what: str, max_uncompressed_bytes: int, max_ratio: int) -> None:
    """Refuse an Office package (a zip) that would expand past the limits: a zip bomb, or simply too big.

    Only the zip's directory is read (the sizes it records). A part whose recorded size lies is cut
    at that size by zipfile and then fails its CRC check, so it cannot expand further unseen.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the converter's own reader says why
    total = sum(m.file_size for m in members)
    limit_mib = max_uncompressed_bytes / 2**20
    if total > max_uncompressed_bytes:
        raise ConversionError(
            f"this {what} expands to {total / 2**20:.0f} MiB, over the {limit_mib:.0f} MiB limit for Office "
            "files (DOCENT_INGEST_MAX_OFFICE_UNCOMPRESSED_MB): split it into smaller files, or raise the limit "
            "if you trust it, and ingest again"
        )
    for member in members:
        if member.file_size > RATIO_CHECK_MIN_BYTES and member.file_size > max_ratio * max(member.compress_size, 1):
            raise ConversionError(
                f"this {what} looks like a zip bomb: its part {member.filename} expands from "
                f"{member.compress_size / 1024:.0f} KiB to {member.file_size / 2**20:.0f} MiB (over {max_ratio}:1, "
                "DOCENT_INGEST_MAX_OFFICE_RATIO); open it in Office, save it again, and ingest again"
            )


def detect_encoding(sample: bytes) -> str:
    """By byte-order mark (UTF-8/16/32, as Windows Notepad and Excel write them), else utf-8 when the
    sample decodes as such, else cp1252, else latin-1.

    >>> detect_encoding("Hello".encode("utf-16")), detect_encoding("Hello".encode("utf-32"))
    ('utf-16', 'utf-32')
    """
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if b"\x00" in sample:
        raise ConversionError(
            "not a text file (it contains binary data): check the file type; UTF-16 or UTF-32 text needs a "
            "byte-order mark (save it as 'UTF-8' or 'Unicode' from your editor), then ingest again"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def read_text(path: Path) -> str:
    """Whole text of a small text file, decoded leniently; raises for empty or binary files."""
    ensure_not_empty(path)
    data = path.read_bytes()
    encoding = detect_encoding(data[:TEXT_SAMPLE_BYTES])
    return data.decode(encoding, errors="replace")


def clean_sections(sections: Iterable[Section], keep_indent: bool = False) -> Iterator[Section]:
    """Normalise each section's text and drop the ones with no text."""
    for section in sections:
        text = normalise_whitespace(section.text, keep_indent=keep_indent)
        if text.strip():
            section.text = text
            yield section


def finished_document(
    source: str, title: str, sections: Iterable[Section], kind: str, url: str | None = None, keep_indent: bool = False
) -> Document:
    """A `Document` with clean, non-empty sections; raises `ConversionError` when nothing has text."""
    kept = list(clean_sections(sections, keep_indent=keep_indent))
    if not kept:
        raise ConversionError(f"{EMPTY_FILE}: no text found in it")
    return Document(source=source, title=clip_title(title) or source, sections=kept, kind=kind, url=url)


def records_from_rows(rows: list[list[str]]) -> list[str]:
    """Table rows as lines: 'Header: value | ...' when the first row reads as a header, else 'a | b'.

    >>> records_from_rows([["Name", "Age"], ["Ada", "36"], ["Bob", ""]])
    ['Name: Ada | Age: 36', 'Name: Bob']
    """
    rows = [[cell.strip() for cell in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header = rows[0]
    if len(rows) > 1 and all(header):
        return [line for row in rows[1:] if (line := record_line(header, row))]
    return [" | ".join(cell for cell in row if cell) for row in rows]


def record_line(header: list[str], values: list[str]) -> str:
    """One data row as 'Header1: v1 | Header2: v2', skipping empty cells."""
    parts = []
    for index, value in enumerate(values):
        if not value:
            continue
        name = header[index] if index < len(header) and header[index] else column_name(index)
        parts.append(f"{name}: {value}")
    return " | ".join(parts)


def column_name(index: int) -> str:
    """'Column A' for index 0, like the spreadsheet letters."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return f"Column {letters}"
