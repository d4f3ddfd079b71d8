"""A conversation: the chain plus the store that remembers it. The app and `docent ask` use this.

History is per session and lives in the store, so it survives a page reload and is never shared
between users (the seed kept one global memory for everyone). A session belongs to the user who
asked its first question: the store returns its history only to them and refuses anyone else's
turn in it (SessionOwnerError), so knowing an id is not enough to read or continue it (issue 11).

>>> # session = ChatSession(chain, store, session_id="abc", user="ana@corp.com")
>>> # for event in session.ask("how do I book leave?"): ...
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chain.pipeline import DocentChain
from chain.types import AnswerResult, ChainEvent


def turn_from_result(result: AnswerResult, session_id: str, user: str, turn_id: str | None = None):
    from feedback.records import Turn

    return Turn(
        turn_id=turn_id or uuid.uuid4().hex,
        session_id=session_id,
        user=user,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        question=result.question,
        answer=result.answer,
        standalone_question=result.standalone_question,
        route=result.route,
        abstained=result.abstained,
        confidence=result.confidence,
        matched_question=result.matched_question,
        references=list(result.references),
        confidence_band=result.confidence_band,
        notice=result.notice,
        images=list(result.images),
        backend=result.backend,
        model=result.model,
        index_version=result.index_version,
        timings_ms=result.timings_ms,
    )


def ask_record(result: AnswerResult, session_id: str) -> dict[str, Any]:
    """What `docent ask --json` prints for one answer; the HTTP API's /v1/ask returns the same fields."""
    return {**result.to_dict(), "session": session_id}


class ChatSession:
    def __init__(self, chain: DocentChain, store, session_id: str, user: str = "local"):
        self.chain = chain
        self.store = store
        self.session_id = session_id
        self.user = user
        self.last_turn_id: str | None = None
        self.last_save = None

    def history(self) -> list[tuple[str, str]]:
        turns = self.store.session_turns(self.session_id, self.user)
        return [(t.standalone_question or t.question, t.answer) for t in turns]

    def ask(self, question: str, filters=None) -> Iterator[ChainEvent]:
        """Stream the chain's events; the turn is saved when the final event arrives.

        Someone else's session is refused before any work (SessionOwnerError)."""
        from feedback.store import SessionOwnerError, session_owner_message

        owner = self.store.session_owner(self.session_id)
        if owner is not None and owner != self.user:
            raise SessionOwnerError(session_owner_message(self.session_id))
        for event in self.chain.answer(question, self.history(), filters):
            if event.kind == "final" and event.result is not None:
                turn = turn_from_result(event.result, self.session_id, self.user)
                self.last_save = self.store.save_turn(turn)
                self.last_turn_id = turn.turn_id
                event.data["turn_id"] = turn.turn_id
            yield event

    def clear(self) -> int:
        return self.store.clear_session(self.session_id, self.user)
