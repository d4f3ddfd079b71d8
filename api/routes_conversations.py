"""A caller's conversations: the app's list (titles, newest first, search), rename, delete with undo,
and read-only share links the owner can revoke (issue 12), under /v1/conversations and /v1/shared.

The store holds every rule (feedback/conversations.py): these routes only translate. A conversation
that is not the caller's answers 404 like an unknown id, so ids cannot be probed; a share link opens
its conversation read-only for anyone signed in, until its owner revokes it or deletes the
conversation.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from api.deps import InvalidInput, NotFound, caller, json_body, services
from api.schemas import (
    CONVERSATION_ID,
    Conversation,
    ConversationList,
    ConversationRecord,
    RenameRequest,
    SharedConversation,
    ShareLink,
    TurnOut,
)
from config.roles import Identity
from feedback.conversations import MAX_TITLE_CHARS

router = APIRouter(prefix="/v1", tags=["conversations"])
EVERY = 1_000_000  # "no limit" for the store's list, when an `until` may skip its newest entries


# --- pure helpers ---------------------------------------------------------------------------------


def turn_out(turn) -> dict:
    data = turn.to_dict()
    return {key: data[key] for key in TurnOut.model_fields}


def summary_out(conv, turns) -> dict:
    """A list row: the store's record (title, activity, sharing) and its visible turns (the count)."""
    return {
        "conversation_id": conv.session_id,
        "title": conv.title,
        "started_at": conv.created_at,
        "last_at": conv.updated_at,
        "turns": len(turns),
        "first_question": conv.first_question or (turns[0].question if turns else ""),
        "shared": conv.shared,
    }


def record_out(conv) -> dict:
    return {
        "conversation_id": conv.session_id,
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "shared": conv.shared,
        "deleted": conv.deleted,
    }


def share_path(token: str) -> str:
    """The app's share link (Streamlit/conversations_view.py share_url), relative to the app's address."""
    return f"/chat?{urlencode({'share': token})}"


def checked_title(title: str) -> str:
    """The title as the store will keep it (feedback.conversations.clean_title), with the API's wording."""
    text = " ".join(title.split())
    if not text:
        raise InvalidInput('title is empty: send a few words, e.g. {"title": "Leave questions"}.')
    if len(text) > MAX_TITLE_CHARS:
        raise InvalidInput(f"title has {len(text)} characters; keep it to {MAX_TITLE_CHARS}.")
    return text


def not_yours(conversation_id: str) -> NotFound:
    return NotFound(f"There is no conversation {conversation_id} of yours; GET /v1/conversations lists them.")


def checked_id(conversation_id: str) -> str:
    if not re.match(CONVERSATION_ID, conversation_id):
        raise NotFound(f"{conversation_id!r} is not a conversation id (8-64 letters, digits, - or _).")
    return conversation_id


# --- routes ---------------------------------------------------------------------------------------


@router.get("/conversations", response_model=ConversationList)
def list_conversations(
    request: Request,
    q: str | None = Query(
        None, max_length=500, description="Keep those whose title or any question holds every word (case-blind)"
    ),
    since: date | None = Query(None, description="Last activity on or after this day (UTC); default: any"),
    until: date | None = Query(None, description="Last activity on or before this day (UTC); default: any"),
    limit: int = Query(50, ge=1, le=500),
    identity: Identity = Depends(caller),
):
    """Your conversations, newest activity first, as the app lists them (deleted and cleared ones are left out)."""
    from feedback.store import in_window, time_window

    store = services(request).store
    lo, hi = time_window(since, until)  # since after until: 422
    rows = []
    for conv in store.conversations(identity.user, search=q, limit=limit if until is None else EVERY):
        if not in_window(conv.updated_at, lo, hi):
            continue
        turns = store.session_turns(conv.session_id, identity.user)  # [] only if it was cleared meanwhile
        if turns:
            rows.append(summary_out(conv, turns))
        if len(rows) == limit:
            break
    return {"conversations": rows}


@router.get("/conversations/{conversation_id}", response_model=Conversation)
def get_conversation(request: Request, conversation_id: str, identity: Identity = Depends(caller)):
    """One of your conversations, oldest turn first."""
    turns = services(request).store.session_turns(checked_id(conversation_id), identity.user)
    if not turns:  # unknown, someone else's, cleared or deleted: the same answer, so ids cannot be probed
        raise not_yours(conversation_id)
    return {"conversation_id": conversation_id, "turns": [turn_out(t) for t in turns]}


def _own_record(store, conversation_id: str, user: str):
    conv = store.conversation(conversation_id, user)
    if conv is None:
        raise not_yours(conversation_id)
    return conv


def _changed(store, changed: bool, conversation_id: str, user: str) -> dict:
    """The conversation after a store change that reported whether it applied (False: not the caller's)."""
    if not changed:
        raise not_yours(conversation_id)
    return record_out(_own_record(store, conversation_id, user))


@router.patch("/conversations/{conversation_id}", response_model=ConversationRecord, dependencies=[Depends(json_body)])
def rename_conversation(
    body: RenameRequest, request: Request, conversation_id: str, identity: Identity = Depends(caller)
):
    """Rename one of your conversations (the list shows the title instead of the first question)."""
    store = services(request).store
    title = checked_title(body.title)
    changed = store.rename_conversation(checked_id(conversation_id), identity.user, title)
    return _changed(store, changed, conversation_id, identity.user)


@router.delete("/conversations/{conversation_id}", response_model=ConversationRecord)
def delete_conversation(request: Request, conversation_id: str, identity: Identity = Depends(caller)):
    """Delete one of your conversations: out of the list and chat, its share link stops working; its turns
    stay for reviewers. POST .../restore undoes it."""
    store = services(request).store
    changed = store.delete_conversation(checked_id(conversation_id), identity.user)
    return _changed(store, changed, conversation_id, identity.user)


@router.post("/conversations/{conversation_id}/restore", response_model=ConversationRecord)
def restore_conversation(request: Request, conversation_id: str, identity: Identity = Depends(caller)):
    """Undo a delete: the conversation is back in the list and chat, and its share link (if any) works again."""
    store = services(request).store
    changed = store.restore_conversation(checked_id(conversation_id), identity.user)
    return _changed(store, changed, conversation_id, identity.user)


@router.post("/conversations/{conversation_id}/share", response_model=ShareLink)
def share_conversation(request: Request, conversation_id: str, identity: Identity = Depends(caller)):
    """A read-only link to one of your conversations for anyone signed in: the same link until you revoke it."""
    from feedback.store import StoreError, StoreUnavailableError

    store = services(request).store
    conv = _own_record(store, checked_id(conversation_id), identity.user)
    if conv.deleted:
        raise NotFound(
            f"Conversation {conversation_id} is deleted: restore it (POST /v1/conversations/{conversation_id}"
            "/restore) before sharing it."
        )
    try:
        token = store.share_conversation(conversation_id, identity.user)
    except StoreUnavailableError:
        raise
    except StoreError:  # deleted or gone between the two reads
        raise not_yours(conversation_id) from None
    return {"conversation_id": conversation_id, "token": token, "url_path": share_path(token)}


@router.delete("/conversations/{conversation_id}/share", response_model=ConversationRecord)
def revoke_share(request: Request, conversation_id: str, identity: Identity = Depends(caller)):
    """Stop sharing one of your conversations: every earlier link stops working (sharing again makes a new one)."""
    store = services(request).store
    _own_record(store, checked_id(conversation_id), identity.user)
    store.revoke_share(conversation_id, identity.user)
    return record_out(_own_record(store, conversation_id, identity.user))


@router.get("/shared/{token}", response_model=SharedConversation)
def shared_conversation(request: Request, token: str, identity: Identity = Depends(caller)):
    """What a share link shows, read-only, to anyone signed in: the title, who shared it, and its turns."""
    found = services(request).store.shared_conversation(token)
    if found is None:
        raise NotFound(
            "This share link does not open a conversation: its owner stopped sharing it or deleted it, or the "
            "token is incomplete. Ask them for a new link."
        )
    conv, turns = found
    return {
        "conversation_id": conv.session_id,
        "title": conv.title,
        "owner": conv.owner,
        "turns": [turn_out(t) for t in turns],
    }
