"""Plain text files: paragraphs grouped into sections of bounded size."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.converters.base import finished_document, humanise_stem, normalise_whitespace, read_text
from ingest.documents import Document, Section

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


class TextToDocument:
    """Converts .txt files; blank-line-separated paragraphs are grouped up to `max_chars` per section.

    >>> from pathlib import Path; import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "leave_policy.txt"
    >>> _ = path.write_text("First paragraph.\\n\\nSecond one.")
    >>> doc = TextToDocument().convert(path, "leave_policy.txt")
    >>> doc.title, doc.sections[0].headings, doc.sections[0].text
    ('Leave policy', ['Leave policy'], 'First paragraph.\\n\\nSecond one.')
    """

    kind = "text"

    def __init__(self, max_chars: int = 2000) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        self.max_chars = max_chars

    def convert(self, path: Path, source: str) -> Document:
        text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
        title = humanise_stem(path.stem)
        paragraphs = [p for p in (normalise_whitespace(part) for part in _PARAGRAPH_BREAK.split(text)) if p]
        sections = [Section(text=group, headings=[title]) for group in self._groups(paragraphs)]
        return finished_document(source, title, sections, self.kind)

    def _groups(self, paragraphs: list[str]) -> list[str]:
        groups: list[str] = []
        current: list[str] = []
        size = 0
        for paragraph in paragraphs:
            if current and size + len(paragraph) > self.max_chars:
                groups.append("\n\n".join(current))
                current, size = [], 0
            current.append(paragraph)
            size += len(paragraph) + 2
        if current:
            groups.append("\n\n".join(current))
        return groups
