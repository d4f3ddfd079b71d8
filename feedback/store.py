"""The `FeedbackStore` Protocol: where turns, feedback and Q&A pairs live.

Backends: feedback/sqlite.py (embedded default) and feedback/dynamodb.py; feedback/outbox.py wraps
a remote store so a write is never lost while it is unreachable.

>>> from config.settings import Settings
>>> store = open_store(Settings(data_dir="/tmp/docent-doc"))           # doctest: +SKIP
>>> store.save_turn(Turn.new(session_id="s", user="u", question="q?", answer="a")).message  # doctest: +SKIP
'Saved.'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from config.errors import DocentError
from feedback.conversations import Conversation
from feedback.records import Feedback, QAPair, Turn, format_time

if TYPE_CHECKING:
    pass

ReviewFilter = Literal["unrated", "thumbs_down", "low_confidence"]
REVIEW_FILTERS = ("unrated", "thumbs_down", "low_confidence")
DEFAULT_LOW_CONFIDENCE = 0.5
TimeBound = date | datetime | str | None


class StoreError(DocentError, RuntimeError):
    """A store operation failed; the message says what and what to do."""


class StoreUnavailableError(StoreError):
    """The store could not be reached (connection, endpoint, throttling): retrying later may work."""


class SessionOwnerError(StoreError):
    """A turn was to be added to a conversation that belongs to another user (issue 11)."""


class RecordTooLargeError(StoreError, ValueError):
    """A record can never be stored by this backend (e.g. over DynamoDB's 400 KB item limit); retrying won't help."""


class UnknownTurnError(StoreError, KeyError):
    """Feedback names a turn the store does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown turn"


@dataclass
class SaveResult:
    """What a write tells the UI: `saved`, or `queued` (kept locally, delivered when the store is back).

    >>> SaveResult("queued").message
    'Saved (queued for delivery).'
    """

    status: Literal["saved", "queued"] = "saved"

    @property
    def queued(self) -> bool:
        return self.status == "queued"

    @property
    def message(self) -> str:
        return "Saved (queued for delivery)." if self.queued else "Saved."


@dataclass
class QAAddResult:
    """Counts of `add_qa_pairs`; unpacks as `(added, duplicates)`.

    >>> added, duplicates = QAAddResult(added=2, duplicates=1)
    >>> QAAddResult(added=2, duplicates=1).message
    '2 added, 1 already in the set.'
    """

    added: int = 0
    duplicates: int = 0
    replaced: int = 0
    status: Literal["saved", "queued"] = "saved"
    duplicate_questions: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[int]:
        return iter((self.added, self.duplicates))

    @property
    def message(self) -> str:
        text = f"{self.added} added, {self.duplicates} already in the set"
        if self.replaced:
            text += f", {self.replaced} replaced"
        return text + (" (queued for delivery)." if self.status == "queued" else ".")


@runtime_checkable
class FeedbackStore(Protocol):
    """Turns, reviewers' feedback and the Q&A set. Dates: `since`/`until` are inclusive days
    (a `date` or 'YYYY-MM-DD') or exact moments (a `datetime` or ISO date-time)."""

    def save_turn(self, turn: Turn) -> SaveResult:
        """Store a turn once; saving the same turn_id again changes nothing (safe to re-deliver).

        The first turn of a session makes `turn.user` its owner; a turn by anyone else for that
        session raises SessionOwnerError (a conversation id is not a password)."""

    def get_turn(self, turn_id: str) -> Turn | None: ...

    def session_owner(self, session_id: str) -> str | None:
        """Who the conversation belongs to; None when no turn was ever saved in it."""

    def session_turns(self, session_id: str, user: str) -> list[Turn]:
        """The session's visible turns, oldest first, when `user` owns it; [] otherwise (as for an unknown id)."""

    def clear_session(self, session_id: str, user: str) -> int:
        """Hide the session's turns from chat history (they stay for review and export) when `user` owns
        it; returns how many (0 for someone else's session: nothing changes)."""

    # conversations (feedback/conversations.py): the owner's list, titles, delete/undo, share links
    def conversations(self, user: str, search: str | None = None, limit: int = 100) -> list[Conversation]:
        """`user`'s conversations that have a visible turn and are not deleted, newest activity first;
        `search` keeps those whose title or any visible question holds every word of it."""

    def conversation(self, session_id: str, user: str) -> Conversation | None:
        """The conversation's record when `user` owns it (deleted ones too); None otherwise."""

    def rename_conversation(self, session_id: str, user: str, title: str) -> bool:
        """Give the owner's title (checked by clean_title; an empty one raises ValueError); False if not theirs."""

    def delete_conversation(self, session_id: str, user: str) -> bool:
        """Take it out of the list and chat; its share link stops working; turns stay for reviewers."""

    def restore_conversation(self, session_id: str, user: str) -> bool:
        """Undo delete_conversation."""

    def share_conversation(self, session_id: str, user: str) -> str:
        """The token of a read-only share link (the same one until revoked); raises StoreError if not theirs."""

    def revoke_share(self, session_id: str, user: str) -> bool:
        """Every share link of the conversation stops working; True when one existed."""

    def shared_conversation(self, token: str) -> tuple[Conversation, list[Turn]] | None:
        """What a share link shows: the conversation and its visible turns; None when the token is unknown,
        revoked or the conversation deleted."""

    def check_record(self, record: Turn | Feedback | QAPair) -> None:
        """Raise RecordTooLargeError when this backend could never store `record`.

        Called before a write is queued, so nothing is acknowledged that is certain to be refused later."""

    def list_turns(self, since: TimeBound = None, until: TimeBound = None, route: str | None = None) -> list[Turn]:
        """All turns (hidden ones too) created in the window, oldest first."""

    def save_feedback(self, feedback: Feedback) -> SaveResult:
        """Upsert by (turn_id, reviewer, kind); keeps the first created_at; a stale revision is ignored."""

    def feedback_for_turn(self, turn_id: str) -> list[Feedback]: ...

    def list_feedback(
        self,
        since: TimeBound = None,
        until: TimeBound = None,
        route: str | None = None,
        reviewer: str | None = None,
        severity: str | None = None,
    ) -> list[Feedback]:
        """Feedback created in the window (by its created_at), oldest first; route is the turn's route."""

    def review_queue(
        self,
        filter: ReviewFilter = "unrated",
        route: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        confidence_below: float | None = None,
        limit: int = 200,
    ) -> list[Turn]:
        """Turns waiting for a reviewer, newest first."""

    def add_qa_pairs(self, pairs: Sequence[QAPair], *, replace: bool = False) -> QAAddResult:
        """Add pairs; a question already in the set (after normalisation) is a duplicate unless replace."""

    def list_qa_pairs(self) -> list[QAPair]: ...

    def delete_qa_pair(self, pair_id: str) -> bool: ...

    def qa_version(self) -> str:
        """Changes whenever the Q&A set changes; cheap to call on every question."""

    def close(self) -> None: ...


# --- pure helpers shared by the backends ------------------------------------------------------


def _parse_bound(value: TimeBound, name: str) -> tuple[datetime, bool]:
    """Returns (moment, is_whole_day)."""
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), True
    text = str(value).strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day), True
        return datetime.fromisoformat(text.replace("Z", "+00:00")), False
    except ValueError:
        raise ValueError(
            f"{name}={value!r} is not a date; use YYYY-MM-DD (e.g. 2026-11-01) or an ISO date-time."
        ) from None


def time_window(since: TimeBound, until: TimeBound) -> tuple[str | None, str | None]:
    """Inclusive bounds as canonical UTC strings: (lowest created_at, highest created_at).

    A whole day as `until` covers that day up to its last microsecond.
    """
    lo = hi = None
    if since is not None:
        lo = format_time(_parse_bound(since, "since")[0])
    if until is not None:
        moment, whole_day = _parse_bound(until, "until")
        if whole_day:
            moment = moment + timedelta(days=1) - timedelta(microseconds=1)
        hi = format_time(moment)
    if lo and hi and lo > hi:
        raise ValueError(f"since ({lo[:10]}) is after until ({hi[:10]}); swap them.")
    return lo, hi


def in_window(created_at: str, lo: str | None, hi: str | None) -> bool:
    return (lo is None or created_at >= lo) and (hi is None or created_at <= hi)


def days_between(lo: str, hi: str) -> list[str]:
    start, end = date.fromisoformat(lo[:10]), date.fromisoformat(hi[:10])
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def check_review_filter(filter: str) -> None:
    if filter not in REVIEW_FILTERS:
        raise ValueError(f"review filter {filter!r} is unknown; use one of {', '.join(REVIEW_FILTERS)}.")


def select_for_review(
    turns: Iterable[Turn],
    ratings: dict[str, list[int | None]],
    filter: ReviewFilter,
    confidence_below: float | None,
    limit: int,
) -> list[Turn]:
    """Pick queue turns. `ratings` maps turn_id -> the thumbs of each feedback on it (None for reviews)."""
    check_review_filter(filter)
    threshold = confidence_below
    if filter == "low_confidence" and threshold is None:
        threshold = DEFAULT_LOW_CONFIDENCE
    chosen: list[Turn] = []
    for turn in turns:
        given = ratings.get(turn.turn_id, [])
        if filter == "unrated" and given:
            continue
        if filter == "thumbs_down" and -1 not in given:
            continue
        if threshold is not None and not turn.confidence < threshold:
            continue
        chosen.append(turn)
    chosen.sort(key=lambda t: t.created_at, reverse=True)
    return chosen[:limit]


def session_owner_message(session_id: str) -> str:
    return (
        f"Conversation {session_id[:8]}… belongs to another user; it cannot be continued from this account. "
        "Start a new chat (the New chat button, or open Docent without ?s= in the address)."
    )


def not_your_conversation(session_id: str) -> str:
    return (
        f"There is no conversation {session_id[:8]}… of yours: it was never started from this account. "
        "Pick one from the Conversations list in the sidebar."
    )


def merge_feedback(existing: Feedback | None, incoming: Feedback) -> Feedback | None:
    """The record to keep after an upsert, or None if `incoming` is an older revision than stored."""
    if existing is None:
        return incoming
    if incoming.updated_at < existing.updated_at:
        return None
    merged = Feedback.from_dict(incoming.to_dict())
    merged.created_at = min(existing.created_at, incoming.created_at)
    return merged
