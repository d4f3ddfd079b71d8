"""HTML and saved wiki pages: sections by h1-h6 with heading paths, anchors from element ids.

Page chrome (scripts, styles, navigation, page header/footer, asides) is dropped. The page's
canonical URL (`<link rel="canonical">` or `og:url`) becomes `Document.url` so citations can link
to the live page rather than the saved copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from ingest.converters.base import (
    Slugger,
    detect_encoding,
    ensure_not_empty,
    finished_document,
    humanise_stem,
    records_from_rows,
)
from ingest.documents import ConversionError, Document, Section

_DROPPED_TAGS = ["script", "style", "noscript", "template", "nav", "aside", "iframe", "svg", "button", "select"]
_DROPPED_ROLES = ["navigation", "banner", "contentinfo", "search", "complementary"]
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_PARAGRAPH_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "ul",
    "ol",
    "dl",
    "figure",
    "form",
    "fieldset",
    "details",
    "hr",
    "address",
    "header",
    "footer",
}
_SPACES = re.compile(r"\s+")
_LINE_TAGS = {"li", "dt", "dd", "tr", "caption", "figcaption", "summary", "option", "label"}


class HTMLToDocument:
    """Converts .html/.htm pages (including saved wiki pages) into sections by heading.

    >>> from pathlib import Path; import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "vpn.html"
    >>> _ = path.write_text('<title>VPN</title><h2 id="setup">Set up</h2><p>Open the app.</p>')
    >>> doc = HTMLToDocument().convert(path, "vpn.html")
    >>> doc.title, doc.sections[0].headings, doc.sections[0].anchor
    ('VPN', ['Set up'], 'setup')
    """

    kind = "html"

    def convert(self, path: Path, source: str) -> Document:
        from bs4 import BeautifulSoup, Comment, Doctype, ProcessingInstruction

        ensure_not_empty(path)
        data = path.read_bytes()
        detect_encoding(data[:4096])  # refuses binary files early with a readable message
        try:
            soup = BeautifulSoup(data, "lxml")
        except Exception as error:  # lxml/bs4 raise assorted errors on garbage
            raise ConversionError(f"not a readable HTML page ({error}): check the file and ingest again") from error
        for node in soup.find_all(string=lambda s: isinstance(s, Comment | Doctype | ProcessingInstruction)):
            node.extract()

        url = _canonical_url(soup)
        title = _page_title(soup) or humanise_stem(path.stem)
        for tag in soup.find_all(_DROPPED_TAGS):
            tag.decompose()
        for tag in soup.find_all(attrs={"role": _DROPPED_ROLES}):
            if not tag.decomposed:
                tag.decompose()
        for tag in soup.find_all(["header", "footer"]):
            # Page-level chrome goes; an article's own <header> usually holds its h1 and stays.
            if not tag.decomposed and tag.find_parent(["article", "main", "section"]) is None:
                tag.decompose()

        root = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.body or soup
        walker = _Walker(title)
        walker.walk(root)
        return finished_document(source, title, walker.finish(), self.kind, url=url)


def _canonical_url(soup) -> str | None:
    candidates = []
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or []
        rel = rel if isinstance(rel, list) else rel.split()
        if "canonical" in (value.lower() for value in rel):
            candidates.append(link["href"])
    for meta in soup.find_all("meta", content=True):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:url":
            candidates.append(meta["content"])
    for candidate in candidates:
        candidate = candidate.strip()
        parsed = urlparse(candidate)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return candidate
    return None


def _page_title(soup) -> str | None:
    if soup.title and soup.title.get_text(strip=True):
        return " ".join(soup.title.get_text().split())
    heading = soup.find("h1")
    if heading and heading.get_text(strip=True):
        return " ".join(heading.get_text(" ").split())
    return None


def _heading_anchor(heading, slugger: Slugger, text: str) -> str:
    """The heading's id, an id/name inside it, its section's id, a preceding <a name>, else a slug."""
    if heading.get("id"):
        return heading["id"]
    inner = heading.find(lambda tag: tag.get("id") or (tag.name == "a" and tag.get("name")))
    if inner is not None:
        return inner.get("id") or inner["name"]
    parent = heading.parent
    if parent is not None and parent.get("id") and parent.name not in ("body", "main", "html"):
        first_heading = parent.find(list(_HEADINGS))
        if first_heading is heading:
            return parent["id"]
    previous = heading.find_previous_sibling()
    if previous is not None and previous.name == "a" and (previous.get("name") or previous.get("id")):
        if not previous.get_text(strip=True):
            return previous.get("name") or previous["id"]
    return slugger.slug(text)


class _Walker:
    """Walks the DOM in document order, cutting a new section at each heading."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.slugger = Slugger()
        self.stack: list[tuple[int, str]] = []
        self.sections: list[Section] = []
        self.parts: list[str] = []
        self.headings: list[str] = [title]
        self.anchor: str | None = None

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                self.parts.append(_SPACES.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self._start_section(child, _HEADINGS[name])
            elif name == "table":
                rows = [
                    [" ".join(cell.get_text(" ").split()) for cell in row.find_all(["th", "td"], recursive=False)]
                    for row in child.find_all("tr")
                ]
                self.parts.append("\n\n" + "\n".join(records_from_rows(rows)) + "\n\n")
            elif name == "pre":
                self.parts.append("\n\n" + child.get_text() + "\n\n")
            elif name == "br":
                self.parts.append("\n")
            elif name in ("img",):
                continue
            elif name in _PARAGRAPH_TAGS:
                self.parts.append("\n\n")
                self.walk(child)
                self.parts.append("\n\n")
            elif name in _LINE_TAGS:
                self.parts.append("\n")
                self.walk(child)
            else:
                self.walk(child)

    def _start_section(self, heading, level: int) -> None:
        text = " ".join(heading.get_text(" ").split())
        if not text:
            return
        self._flush()
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        self.headings = [name for _, name in self.stack]
        self.anchor = _heading_anchor(heading, self.slugger, text)

    def _flush(self) -> None:
        text = "".join(self.parts)
        self.parts = []
        if text.strip():
            self.sections.append(Section(text=text, headings=list(self.headings), anchor=self.anchor))

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections
