"""Asking and feedback: /v1/ask, /v1/feedback (the conversation list is api/routes_conversations.py).

A conversation belongs to the user who asked its first question: the store keeps that owner
(`session_owner`, issue 11) and returns a conversation's turns only to it, so every backend and
every caller (app, CLI, API) applies the same rule. Someone else's conversation answers 404, as an
unknown id does, so ids cannot be probed; reviewers and analysts read turns through the review
and export routes instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from api.auth import ForbiddenError
from api.deps import NotFound, caller, json_body, services
from api.schemas import AskRequest, AskResponse, FeedbackRequest, FeedbackResponse
from config.roles import Identity

router = APIRouter(prefix="/v1", tags=["chat"])


# --- pure helpers ---------------------------------------------------------------------------------


def sse(event: str, data: dict) -> bytes:
    """One server-sent event; JSON data never contains a raw newline, so one `data:` line suffices."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


# --- routes ---------------------------------------------------------------------------------------


def _conversation_for(services_, identity: Identity, conversation_id: str | None) -> str:
    """The id to ask in: a new one, or an existing conversation of this caller's (404 otherwise)."""
    if conversation_id is None:
        return uuid.uuid4().hex
    if services_.store.session_owner(conversation_id) != identity.user:
        raise NotFound(
            f"There is no conversation {conversation_id} of yours: omit conversation_id to start a new "
            "one, or list yours with GET /v1/conversations."
        )
    if _deleted(services_.store, conversation_id, identity.user):  # as in the app: out of chat until restored
        raise NotFound(
            f"Conversation {conversation_id} is deleted: restore it with POST /v1/conversations/{conversation_id}"
            "/restore, or omit conversation_id to start a new one."
        )
    return conversation_id


def _deleted(store, conversation_id: str, user: str) -> bool:
    from feedback.store import StoreUnavailableError

    try:
        record = store.conversation(conversation_id, user)
    except StoreUnavailableError:  # the outbox keeps follow-ups going while the store is away
        return False
    return record is not None and record.deleted


def _record(result, chat, event) -> dict:
    from feedback.session import ask_record

    record = ask_record(result, chat.session_id)
    saved = chat.last_save.status if chat.last_save is not None else "saved"
    return {**record, "conversation_id": chat.session_id, "turn_id": event.data.get("turn_id", ""), "saved": saved}


@router.post(
    "/ask",
    response_model=AskResponse,
    dependencies=[Depends(json_body)],
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON, or with `Accept: text/event-stream` the chain's events: "
            "`route`, `token`s and `final` (the JSON body), or `error`",
        }
    },
)
def ask(body: AskRequest, request: Request, identity: Identity = Depends(caller)):
    """Ask a question (a follow-up when `conversation_id` names one of your conversations)."""
    from feedback.session import ChatSession

    svc = services(request)
    session_id = _conversation_for(svc, identity, body.conversation_id)
    chat = ChatSession(svc.chain, svc.store, session_id, user=identity.user)
    events = chat.ask(body.question)
    first = next(events)  # InvalidQuestion surfaces here, before anything is sent
    if wants_stream(request):
        return StreamingResponse(
            _stream(first, events, chat),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    final = first if first.kind == "final" else None
    for event in events:
        if event.kind == "final":
            final = event
    assert final is not None and final.result is not None
    return _record(final.result, chat, final)


def _stream(first, events: Iterator, chat) -> Iterator[bytes]:
    import logging

    def render(event) -> bytes:
        if event.kind == "final":
            return sse("final", _record(event.result, chat, event))
        if event.kind == "token":
            return sse("token", {"text": event.text})
        return sse(event.kind, dict(event.data))

    try:
        yield render(first)
        for event in events:
            yield render(event)
    except Exception as exc:  # noqa: BLE001 - the status line is gone: report in the stream
        logging.getLogger("docent.api").warning("streamed answer failed: %s", exc, exc_info=exc)
        yield sse(
            "error", {"error": "stream_failed", "detail": f"The answer could not be finished ({exc}); ask again."}
        )


@router.post("/feedback", response_model=FeedbackResponse, dependencies=[Depends(json_body)])
def feedback(body: FeedbackRequest, request: Request, identity: Identity = Depends(caller)):
    """Rate an answer (thumbs) or review it. Employees rate their own answers; reviewers any answer, and
    only reviewers may approve a correction into the Q&A set."""
    from api.deps import BadRequest
    from feedback.review import review_limits, save_review, save_thumbs

    svc = services(request)
    store = svc.store
    turn = store.get_turn(body.turn_id)
    reviewer = identity.has("reviewer")
    if turn is None or not (reviewer or turn.user == identity.user):
        raise NotFound(f"There is no answer {body.turn_id} of yours to rate: use the turn_id that /v1/ask returned.")
    if body.kind == "thumbs":
        if body.thumbs is None:
            raise BadRequest("kind=thumbs needs thumbs: 1 (up) or -1 (down).")
        saved = save_thumbs(store, turn.turn_id, identity.user, body.thumbs)
        return {"status": saved.status, "message": saved.message}
    if body.approved and not reviewer:
        raise ForbiddenError(
            "Approving a correction into the Q&A set needs the reviewer role; send approved=false "
            "to leave your correction for a reviewer."
        )
    outcome = save_review(
        store,
        turn,
        identity.user,
        severity=body.severity,
        likert=body.likert,
        corrected_answer=body.corrected_answer,
        comment=body.comment,
        approved=body.approved,
        thumbs=body.thumbs,
        limits=review_limits(svc.settings),
    )
    status = "queued" if "queued" in outcome.saved else "saved"
    return {"status": status, "message": outcome.saved, "qa": outcome.qa}
