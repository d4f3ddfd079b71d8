r"""One way to show text that people typed (questions, comments, corrections, names): as text.

Streamlit renders Markdown in st.markdown, captions, alerts, toasts and even expander and badge
labels, and its Markdown turns `![x](https://host/beacon.png)` into an image every viewer's browser
fetches, `[Reset your password](https://evil)` into a link, and bare `https://…`, `www.…` and
e-mail addresses into links too (GFM autolinks, found in text *after* backslash escapes are
resolved). So (issue 11):

- `show_text(text)`      a body of user text: st.text, never parsed.
- `inline(text)`         user text inside a Markdown string or a label: Markdown's special
                         characters escaped, autolink triggers broken with an invisible U+2060.
- `safe_markdown(text)`  an answer (a reviewer's approved correction is an answer too): Markdown
                         formatting stays (bold, lists, code) but no image, no link, no HTML.
- `show_answer(text)`    st.markdown(safe_markdown(text)).

>>> print(inline("![x](https://t.example/p.png)").replace(WORD_JOINER, "+"))
\!\[x\]\(https+://t.example/p.png\)
>>> print(safe_markdown("see [here](https://x.test) **now**").replace(WORD_JOINER, "+"))
see \[here\](https+://x.test) **now**
"""

from __future__ import annotations

import re
from typing import Any

WORD_JOINER = "\u2060"  # zero-width, invisible: splits "https:" from "//", "www" from ".", "@" from the domain
# what can start Markdown, HTML, an entity, a Streamlit directive or math inside a line ("?", ",", "'",
# "/", ":" and "." cannot: they stay unescaped so labels read the same in code as on screen)
_INLINE_SPECIALS = frozenset("\\`*_{}[]()#+-!|<>~$&")
_SCHEME = re.compile(r"(?i)(https?|ftp|file|mailto|data|javascript|vbscript|tel|www)(?=[:.])")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
# characters that start a link, an image, raw HTML, an entity, or undo an escape
_ANSWER_SPECIALS = frozenset("\\![]<>&")


def _break_autolinks(text: str) -> str:
    """Insert U+2060 where GFM would start an autolink: after a scheme's ':', after 'www', after '@'."""
    text = _SCHEME.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return text.replace("@", "@" + WORD_JOINER)


def inline(text: Any, max_chars: int | None = None) -> str:
    """User text for a Markdown string or a widget label: shown literally, on one line.

    Escapes the characters that start Markdown syntax (CommonMark lets any punctuation be escaped) and
    breaks autolinks; whitespace collapses to single spaces (labels are one line, so no block syntax).
    """
    flat = " ".join(str(text if text is not None else "").split())
    if max_chars is not None and len(flat) > max_chars:
        flat = flat[: max_chars - 1] + "…"
    return "".join("\\" + c if c in _INLINE_SPECIALS else c for c in _break_autolinks(flat))


def _escape_answer_text(text: str) -> str:
    """Outside code: escape what starts a link, image, HTML or entity; break autolinks; code spans kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "`":
            run = 0
            while i + run < n and text[i + run] == "`":
                run += 1
            close = _closing_backticks(text, i + run, run)
            if close is not None:
                out.append(text[i : close + run])  # a code span: rendered literally by Markdown already
                i = close + run
                continue
            out.append("\\`" * run)
            i += run
            continue
        if c in _ANSWER_SPECIALS:
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _closing_backticks(text: str, start: int, run: int) -> int | None:
    """Index of the next run of exactly `run` backticks on the same line, or None."""
    j = start
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    while j < end:
        if text[j] == "`":
            k = j
            while k < end and text[k] == "`":
                k += 1
            if k - j == run:
                return j
            j = k
        else:
            j += 1
    return None


def safe_markdown(text: Any) -> str:
    """An answer as Markdown without images, links, autolinks or HTML; fenced code blocks kept as they are."""
    lines = str(text if text is not None else "").split("\n")
    out: list[str] = []
    fence: tuple[str, int] | None = None  # (fence character, length) while inside a fenced block
    for line in lines:
        if fence is not None:
            out.append(line)
            m = _FENCE.match(line)
            if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= fence[1] and not m.group(3).strip():
                fence = None
            continue
        m = _FENCE.match(line)
        if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            fence = (m.group(2)[0], len(m.group(2)))
            out.append(line)
            continue
        out.append(_break_autolinks(_escape_answer_text(line)))
    return "\n".join(out)


# --- Streamlit ------------------------------------------------------------------------------------


def _st(where: Any):
    if where is not None:
        return where
    import streamlit as st

    return st


def show_text(text: Any, where: Any = None) -> None:
    """A question, comment or correction as plain text (st.text parses neither Markdown nor HTML)."""
    _st(where).text(str(text if text is not None else ""))


def show_answer(text: Any, where: Any = None) -> None:
    """An answer with its formatting, through `safe_markdown`."""
    _st(where).markdown(safe_markdown(text))
