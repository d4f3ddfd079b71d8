"""User text is never rendered as Markdown (issue 11, item 2): the helpers every page uses.

Markdown is parsed back with markdown-it (CommonMark, as Streamlit's parser) plus the GFM autolink
patterns Streamlit's frontend applies to text, so "no link, no image" is checked on the parse, not
on the string."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Streamlit"))
from safe_text import inline, safe_markdown  # noqa: E402

PAYLOADS = [
    "![beacon](https://tracker.example/pixel.png?u=ana)",
    "[Reset your password here](https://evil.example/reset)",
    "<img src=https://tracker.example/x.png> <a href='https://evil.example'>x</a>",
    "visit https://evil.example/login or www.evil.example or write to help@evil.example",
    "[ref]: https://evil.example\n\nclick [ref] or ![img][ref]",
    "<https://evil.example/autolink> &#x3C;img src=x&#x3E;",
    "\\![x](https://tracker.example/escaped.png)",
    "`code` then [x](https://evil.example) and ``a ` b`` ![i](https://tracker.example/i.png)",
    "```\nfenced [x](https://evil.example)\n```\n![after](https://tracker.example/after.png)",
    "``` a`b\n[x](https://evil.example)\n```",
]
# Streamlit's frontend (mdast-util-gfm-autolink-literal) links these in text nodes after parsing
_GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.I)
_GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")


def _rendered_links_and_images(markdown: str) -> list[str]:
    found = []
    for token in MarkdownIt("commonmark").parse(markdown):
        for child in token.children or []:
            if child.type in ("image", "link_open", "html_inline"):
                found.append(child.type)
            if child.type == "text" and (_GFM_URL.search(child.content) or _GFM_EMAIL.search(child.content)):
                found.append(f"autolink: {child.content}")
        if token.type == "html_block":
            found.append("html_block")
    return found


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_links_and_images_before_and_nothing_after(payload):
    assert _rendered_links_and_images(payload)  # the payload is live Markdown as typed
    assert _rendered_links_and_images(inline(payload)) == []
    assert _rendered_links_and_images(safe_markdown(payload)) == []


def test_inline_shows_the_same_characters():
    payload = "![beacon](https://tracker.example/p.png) **x** <b>"
    html = MarkdownIt("commonmark").render(inline(payload))
    visible = re.sub(r"<[^>]+>", "", html).replace("\u2060", "").strip()
    assert visible == payload.replace("<", "&lt;").replace(">", "&gt;")


def test_safe_markdown_keeps_formatting_and_code():
    answer = "**Book** it in Workday:\n\n- step one [1]\n- `Time Off`\n\n```\nkeep [x](y)\n```"
    html = MarkdownIt("commonmark").render(safe_markdown(answer))
    assert "<strong>Book</strong>" in html and "<li>step one [1]</li>" in html and "<code>Time Off</code>" in html
    assert "keep [x](y)" in html


def test_labels_are_one_line_and_cut():
    assert "\n" not in inline("a\nb")
    assert inline("x" * 100, max_chars=10).endswith("…")
