"""Parent/child chunking: parents are the sections the answer step reads, children the small
overlapping pieces that are matched. Every parent keeps its section's locator and deep link.

>>> from ingest.documents import Document, Section
>>> doc = Document("a.md", "A", [Section("One. Two. Three.", ["A", "Intro"], anchor="intro")], kind="markdown")
>>> [(p.url, len(c)) for p, c in split_document(doc, child_chars=100, overlap=10, parent_chars=400)]
[('a.md#intro', 1)]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from index.protocol import Child, Parent
from ingest.documents import Document, Section

_PARA = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\n")


def _units(text: str, size: int) -> list[str]:
    """Paragraphs, then sentences, then words: the largest pieces no longer than `size`."""
    out: list[str] = []
    for para in _PARA.split(text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= size:
            out.append(para)
            continue
        for sent in _SENTENCE.split(para):
            sent = sent.strip()
            if not sent:
                continue
            if len(sent) <= size:
                out.append(sent)
                continue
            words, line = sent.split(" "), ""
            for word in words:
                while len(word) > size:  # a token longer than a chunk (base64, URLs): hard cut
                    if line:
                        out.append(line)
                        line = ""
                    out.append(word[:size])
                    word = word[size:]
                if line and len(line) + 1 + len(word) > size:
                    out.append(line)
                    line = word
                else:
                    line = f"{line} {word}" if line else word
            if line:
                out.append(line)
    return out


def pack(text: str, size: int, overlap: int = 0) -> list[str]:
    """Pack `text` into chunks of at most `size` characters, cut at natural boundaries, with up to
    `overlap` characters of the previous chunk repeated at the start of the next one."""
    units = _units(text, size)
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for unit in units:
        sep = 1 if current else 0
        if current and length + sep + len(unit) > size:
            chunks.append("\n".join(current))
            tail: list[str] = []
            tail_len = 0
            for prev in reversed(current):
                if tail_len + len(prev) + 1 > overlap or tail_len + len(prev) + 1 + len(unit) > size:
                    break
                tail.insert(0, prev)
                tail_len += len(prev) + 1
            current, length = tail, max(tail_len - 1, 0)
            sep = 1 if current else 0
        current.append(unit)
        length += sep + len(unit)
    if current:
        chunks.append("\n".join(current))
    return chunks


def deep_link(doc: Document, section: Section, base_url: str | None = None) -> str | None:
    """A link to the exact place: `file.pdf#page=12`, `page.html#anchor`, `book.xlsx#'Sheet'!2:41`."""
    if doc.url:
        target = doc.url
    elif base_url:
        target = base_url.rstrip("/") + "/" + quote(doc.source)
    else:
        target = doc.source
    if section.page is not None:
        return f"{target}#page={section.page}"
    if section.sheet is not None and section.rows is not None:
        return f"{target}#'{quote(section.sheet)}'!{section.rows[0]}:{section.rows[1]}"
    if section.anchor:
        return f"{target}#{quote(section.anchor)}"
    return target


def source_key(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def split_document(
    doc: Document, *, child_chars: int, overlap: int, parent_chars: int, base_url: str | None = None
) -> Iterator[tuple[Parent, list[Child]]]:
    """Yield (parent, its children) for every section of `doc`, in document order."""
    key = source_key(doc.source)
    n_parent = 0
    for section in doc.sections:
        text = section.text.strip()
        if not text:
            continue
        url = deep_link(doc, section, base_url)
        headings = section.headings or [doc.title]
        for part in pack(text, parent_chars):
            parent = Parent(
                id=f"{key}-{n_parent:05d}",
                source=doc.source,
                title=doc.title,
                text=part,
                kind=doc.kind,
                headings=list(headings),
                page=section.page,
                sheet=section.sheet,
                rows=section.rows,
                anchor=section.anchor,
                url=url,
            )
            n_parent += 1
            section_path = " > ".join(h for h in headings if h != doc.title) or ""
            children = [
                Child(
                    id=f"{parent.id}-{i:03d}",
                    parent_id=parent.id,
                    source=doc.source,
                    kind=doc.kind,
                    title=doc.title,
                    section=section_path,
                    text=piece,
                )
                for i, piece in enumerate(pack(part, child_chars, overlap))
            ]
            yield parent, children


def batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
