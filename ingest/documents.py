"""Plain data that converters produce and the splitter consumes.

A converter turns one file into a `Document`: an ordered list of `Section`s, each carrying the
locator that makes a deep link possible (heading path, page, sheet and row range, anchor).

>>> doc = Document(source="guide/setup.md", title="Setup", sections=[
...     Section(text="Install it.", headings=["Setup", "Install"], anchor="install")])
>>> doc.sections[0].headings
['Setup', 'Install']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.errors import DocentError


@dataclass
class Section:
    """A contiguous piece of a document with one locator.

    `headings` is the heading path (outermost first). `page` is 1-based. `rows` is the 1-based,
    inclusive spreadsheet row range as shown in Excel (the header row is row 1).
    """

    text: str
    headings: list[str] = field(default_factory=list)
    page: int | None = None
    sheet: str | None = None
    rows: tuple[int, int] | None = None
    anchor: str | None = None


@dataclass
class Document:
    """One converted file. `source` is the path relative to the ingested root (POSIX slashes)."""

    source: str
    title: str
    sections: list[Section]
    kind: str = "text"  # markdown | text | html | pdf | xlsx | csv | docx
    url: str | None = None  # the original's URL when the file says it (e.g. a wiki page's canonical link)


class ConversionError(DocentError):
    """A file could not be converted; the message says why in words a person can act on."""
