"""Markdown files: one section per heading, with the heading path and a deep-link anchor.

Headings may carry an explicit anchor (`# Title<a name="some-id"></a>`, or `{#some-id}`); otherwise
the anchor is the GitHub slug of the heading. Inline HTML and link URLs are dropped, link text,
code blocks and tables are kept as text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.converters.base import Slugger, finished_document, humanise_stem, read_text
from ingest.documents import Document, Section

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_H2 = re.compile(r"^ {0,3}-+[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+")
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*?\b(?:name|id)\s*=\s*["']?([^"'\s>]+)["']?[^>]*>""", re.IGNORECASE)
_ATTRIBUTE_ANCHOR = re.compile(r"\s*\{#([\w\-.:]+)\}\s*$")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\s*\)")
# Links to web pages or anchors also appear inside code (AWS docs do this); nothing else is touched there.
_URL_LINK = re.compile(r"\[([^\]\n]*)\]\((?:https?://|#)[^()\s]*(?:\([^()\s]*\)[^()\s]*)*\s*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+)>")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9\-]*(?:\s[^<>]*)?/?>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_BRACKETED = re.compile(r"^\[\s*(.*?)\s*\]$")
_FRONT_MATTER_TITLE = re.compile(r"""^title:\s*["']?(.*?)["']?\s*$""", re.IGNORECASE)
# Escaped punctuation is parked in the Unicode private-use area while markup is stripped.
_PARK = 0xE000


def _park_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda match: chr(_PARK + ord(match.group(1))), text)


def _unpark(text: str) -> str:
    return re.sub("[\ue000-\ue07f]", lambda match: chr(ord(match.group(0)) - _PARK), text)


def clean_inline(text: str) -> str:
    """Markdown/HTML inline markup to plain text: keeps link text and code, drops URLs and tags.

    >>> clean_inline(r"See [the **guide**](https://x.io/a) \\(v2\\) <b>now</b>&amp; `run()`")
    'See the guide (v2) now& run()'
    """
    text = _park_escapes(text)
    codes: list[str] = []

    def park_code(match: re.Match[str]) -> str:
        codes.append(_URL_LINK.sub(r"\1", match.group(2).strip()))
        return f"\ue100{len(codes) - 1}\ue101"

    text = _CODE_SPAN.sub(park_code, text)
    text = _HTML_COMMENT.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\1", text).replace("**", "")
    text = re.sub("\ue100(\\d+)\ue101", lambda match: codes[int(match.group(1))], text)
    return html.unescape(_unpark(text))


def clean_heading(raw: str) -> tuple[str, str | None]:
    """Heading text without markup, plus the explicit anchor it carries (if any).

    >>> clean_heading('Create a Workflow \\\\- Console<a name="a2i-console"></a>')
    ('Create a Workflow - Console', 'a2i-console')
    """
    anchor = None
    if match := _HTML_ANCHOR.search(raw):
        anchor = match.group(1)
    if match := _ATTRIBUTE_ANCHOR.search(raw):
        anchor = anchor or match.group(1)
        raw = raw[: match.start()]
    text = " ".join(clean_inline(raw).split())
    if match := _BRACKETED.match(text):  # tab-style headings: "#### [ Python SDK ]"
        text = match.group(1)
    return text, anchor


@dataclass
class _Draft:
    headings: list[str]
    anchor: str | None
    lines: list[str] = field(default_factory=list)


class MarkdownToDocument:
    """Converts .md/.markdown files into sections by heading path.

    >>> from pathlib import Path; import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "setup.md"
    >>> _ = path.write_text("# Setup\\n\\n## Install<a name=\\"inst\\"></a>\\n\\nRun `pip install docent`.\\n")
    >>> section = MarkdownToDocument().convert(path, "setup.md").sections[0]
    >>> section.headings, section.anchor, section.text
    (['Setup', 'Install'], 'inst', 'Run pip install docent.')
    """

    kind = "markdown"

    def convert(self, path: Path, source: str) -> Document:
        text = read_text(path)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        lines, front_title = _split_front_matter(lines)
        drafts, first_h1 = _parse(lines)
        title = front_title or first_h1 or humanise_stem(path.stem)
        sections = []
        for draft in drafts:
            headings = draft.headings or [title]
            sections.append(Section(text="\n".join(draft.lines), headings=headings, anchor=draft.anchor))
        return finished_document(source, title, sections, self.kind, keep_indent=True)


def _split_front_matter(lines: list[str]) -> tuple[list[str], str | None]:
    if not lines or lines[0].strip() != "---":
        return lines, None
    for index in range(1, min(len(lines), 200)):
        if lines[index].strip() in ("---", "..."):
            title = None
            for line in lines[1:index]:
                if match := _FRONT_MATTER_TITLE.match(line.strip()):
                    title = clean_inline(match.group(1)).strip() or None
            return lines[index + 1 :], title
    return lines, None


def _parse(lines: list[str]) -> tuple[list[_Draft], str | None]:
    slugger = Slugger()
    stack: list[tuple[int, str]] = []
    drafts = [_Draft(headings=[], anchor=None)]
    first_h1: str | None = None
    fence: str | None = None
    fence_indent = 0

    def start(level: int, raw: str) -> None:
        nonlocal first_h1
        text, anchor = clean_heading(raw)
        if not text:
            return
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        if level == 1 and first_h1 is None:
            first_h1 = text
        drafts.append(_Draft(headings=[name for _, name in stack], anchor=anchor or slugger.slug(text)))

    for index, line in enumerate(lines):
        current = drafts[-1]
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            else:
                current.lines.append(_URL_LINK.sub(r"\1", _dedent(line, fence_indent)))
            continue
        if match := _FENCE.match(line):
            fence, fence_indent = match.group(2), len(match.group(1))
            current.lines.append("")
            continue
        if match := _ATX.match(line):
            raw = _CLOSING_HASHES.sub("", match.group(2) or "")
            start(len(match.group(1)), raw)
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and not line.lstrip().startswith(("|", ">", "-", "*", "+")) and "|" not in line:
            previous = lines[index - 1] if index else ""
            if not previous.strip() and (_SETEXT_H1.match(following) or _SETEXT_H2.match(following)):
                start(1 if _SETEXT_H1.match(following) else 2, line.strip())
                lines[index + 1] = ""
                continue
        if _TABLE_DELIMITER.match(line) or _LINK_DEFINITION.match(line):
            continue
        if _RULE.match(line):
            current.lines.append("")
            continue
        current.lines.append(clean_inline(line))
    return drafts, first_h1


def _dedent(line: str, width: int) -> str:
    """Remove up to `width` leading spaces (the fence's own indentation inside a list item)."""
    stripped = line.lstrip(" ")
    return line[min(width, len(line) - len(stripped)) :]
