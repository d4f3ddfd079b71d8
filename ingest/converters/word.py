"""Word (.docx) files: sections by heading path from the paragraph styles, tables as records."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.converters.base import (
    DEFAULT_MAX_OFFICE_RATIO,
    DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES,
    check_zip_limits,
    ensure_not_empty,
    finished_document,
    humanise_stem,
    records_from_rows,
    refuse_ole_container,
)
from ingest.documents import ConversionError, Document, Section

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
TITLE_LEVEL = 0


def heading_level(style) -> int | None:
    """0 for 'Title', 1-9 for 'Heading N' (or a custom style based on one), else None."""
    for _ in range(5):  # follow a short chain of base styles
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return TITLE_LEVEL
        if match := _HEADING_STYLE.match(name):
            return int(match.group(1))
        style = style.base_style
    return None


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # merged cells repeat the same cell object
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return rows


class DOCXToDocument:
    """Converts .docx files; 'Title' and 'Heading 1..9' paragraphs start sections with a heading path.

    >>> doc = DOCXToDocument().convert(Path("onboarding.docx"), "onboarding.docx")  # doctest: +SKIP
    >>> doc.sections[0].headings  # doctest: +SKIP
    ['Onboarding', 'First day']
    """

    kind = "docx"

    def __init__(
        self,
        max_uncompressed_bytes: int = DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES,
        max_ratio: int = DEFAULT_MAX_OFFICE_RATIO,
    ) -> None:
        self.max_uncompressed_bytes = max_uncompressed_bytes
        self.max_ratio = max_ratio

    def convert(self, path: Path, source: str) -> Document:
        from docx.table import Table

        ensure_not_empty(path)
        check_zip_limits(path, "Word document", self.max_uncompressed_bytes, self.max_ratio)
        document = _open(path)
        stack: list[tuple[int, str]] = []
        drafts: list[tuple[list[str], list[str]]] = [([], [])]  # (heading path, text blocks)
        title_paragraph: str | None = None
        first_heading: str | None = None
        try:
            blocks = list(document.iter_inner_content())
            for block in blocks:
                if isinstance(block, Table):
                    drafts[-1][1].append("\n".join(records_from_rows(_table_rows(block))))
                    continue
                text = block.text.strip()
                if not text:
                    continue
                level = heading_level(block.style)
                if level is None:
                    drafts[-1][1].append(block.text)
                    continue
                text = " ".join(text.split())
                if level == TITLE_LEVEL and title_paragraph is None:
                    title_paragraph = text
                first_heading = first_heading or (text if level >= 1 else None)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, text))
                drafts.append(([name for _, name in stack], []))
            core_title = (document.core_properties.title or "").strip()
        except (KeyError, ValueError, AttributeError, zipfile.BadZipFile) as error:
            raise ConversionError(
                f"not a readable Word document ({error}): open it in Word, save it again, and ingest again"
            ) from error

        title = title_paragraph or core_title or first_heading or humanise_stem(path.stem)
        sections = [Section(text="\n\n".join(parts), headings=headings or [title]) for headings, parts in drafts]
        return finished_document(source, title, sections, self.kind)


def _open(path: Path):
    import docx
    from docx.opc.exceptions import OpcError

    ensure_not_empty(path)
    refuse_ole_container(path, "Word document")
    try:
        return docx.Document(str(path))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        reason = "not a .docx file" if isinstance(error, OpcError | zipfile.BadZipFile) else str(error)
        raise ConversionError(
            f"not a readable Word document ({reason}): open it in Word, save it as .docx, and ingest again"
        ) from error
