"""Conversations as their owner sees them: a list with titles, search, rename, delete with undo,
and read-only share links the owner can revoke (issue 12).

The stores keep one record per conversation beside its turns (SQLite: the `sessions` table;
DynamoDB: the `{prefix}-conversations` table keyed by owner). What is shared here is pure:
titles, search, share tokens.

A share token is `<conversation id>.<secret>`: the id finds the record in one read, the secret
(compared in constant time) proves the owner shared it. Sharing again keeps the same link;
revoking forgets the secret, so every earlier link stops working, and sharing after a revoke makes
a new one.

>>> title_from_question("  how do I   book annual leave?\\n")
'how do I book annual leave?'
>>> parse_share_token("0123456789abcdef0123456789abcdef.s3cr3t-Value_1234") is not None
True
>>> parse_share_token("../etc/passwd") is None
True
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

TITLE_CHARS = 80  # longer titles are cut at a word with an ellipsis
MAX_TITLE_CHARS = 200  # a title typed by the owner
LIST_LIMIT = 100
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class Conversation:
    """One conversation in its owner's list. `title` is what to show (the owner's or the first question)."""

    session_id: str
    owner: str
    created_at: str
    updated_at: str
    first_question: str = ""
    custom_title: str = ""
    shared: bool = False
    deleted: bool = False

    @property
    def title(self) -> str:
        return self.custom_title or title_from_question(self.first_question) or "New conversation"


def title_from_question(question: str, limit: int = TITLE_CHARS) -> str:
    """A one-line title: whitespace collapsed, cut at a word boundary past `limit` characters."""
    text = " ".join((question or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:  # end at a word when one ends in the second half
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def clean_title(title: str) -> str:
    """The owner's title, checked: one line, not empty, at most MAX_TITLE_CHARS."""
    text = " ".join((title or "").split())
    if not text:
        raise ValueError("The title is empty: type a few words, or press Cancel to keep the current one.")
    if len(text) > MAX_TITLE_CHARS:
        raise ValueError(f"The title has {len(text)} characters; keep it to {MAX_TITLE_CHARS}.")
    return text


def new_share_secret() -> str:
    return secrets.token_urlsafe(18)


def share_token(session_id: str, secret: str) -> str:
    return f"{session_id}.{secret}"


def parse_share_token(token: str | None) -> tuple[str, str] | None:
    """(session id, secret) from a share link's token, or None when it is not one."""
    if not token or not isinstance(token, str) or token.count(".") != 1:
        return None
    session_id, secret = token.split(".")
    if not _SESSION_ID.match(session_id) or not _SECRET.match(secret):
        return None
    return session_id, secret


def secret_matches(stored: str | None, given: str) -> bool:
    return bool(stored) and secrets.compare_digest(str(stored), given)


def search_conversations(
    conversations: Iterable[Conversation], query: str | None, questions: dict[str, list[str]] | None = None
) -> list[Conversation]:
    """Those whose title or any question contains every word of `query` (case-blind).

    `questions` maps session id -> its visible questions; without it only titles are searched.
    """
    words = (query or "").casefold().split()
    if not words:
        return list(conversations)
    found = []
    for conv in conversations:
        text = " ".join([conv.title, conv.first_question, *(questions or {}).get(conv.session_id, [])]).casefold()
        if all(w in text for w in words):
            found.append(conv)
    return found


def newest_first(conversations: Iterable[Conversation], limit: int = LIST_LIMIT) -> list[Conversation]:
    return sorted(conversations, key=lambda c: (c.updated_at, c.session_id), reverse=True)[:limit]
