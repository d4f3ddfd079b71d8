"""Request and response bodies of the HTTP API (they make the served OpenAPI document).

Responses that mirror existing records (an answer, a turn, an index source) are built from those
records' own `to_dict()`; the models here only describe them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from feedback.conversations import MAX_TITLE_CHARS

CONVERSATION_ID = r"^[A-Za-z0-9_-]{8,64}$"  # the app's session id format (the app's SESSION_ID)


class ErrorBody(BaseModel):
    error: str = Field(description="A short code: bad_request, unauthorized, forbidden, not_found, ...")
    detail: str = Field(description="What was wrong and what to do, for a person")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=20_000, description="The question; the chain enforces DOCENT_MAX_QUESTION_CHARS")
    conversation_id: str | None = Field(
        None,
        pattern=CONVERSATION_ID,
        description="Continue this conversation of yours (follow-ups use its history); omit to start one",
    )


class ReferenceOut(BaseModel):
    source: str
    title: str
    locator: str
    url: str | None
    score: float
    snippet: str = ""
    n: int = 0


class RetrievedOut(BaseModel):
    source: str
    locator: str
    score: float
    title: str = ""


class AskResponse(BaseModel):
    """`docent ask --json` (feedback/session.py ask_record) plus the ids a client needs next."""

    question: str
    standalone_question: str
    answer: str
    route: str
    abstained: bool
    confidence: float
    confidence_band: str
    references: list[ReferenceOut]
    matched_question: str | None = None
    match_similarity: float | None = None
    llm_called: bool = False
    backend: str = ""
    model: str = ""
    index_version: str = ""
    images: list[str] = []
    timings_ms: dict[str, float] = {}
    notice: str | None = None
    retrieved: list[RetrievedOut] = Field(
        default_factory=list, description="The passages retrieval ranked for the question, cited or not, best first"
    )
    raw_confidence: float | None = Field(
        None, description="The route's score before calibration; `confidence` is the calibrated probability"
    )
    session: str = Field(description="The conversation id, as `docent ask --json` names it")
    conversation_id: str = Field(description="Send it back with the next question to ask a follow-up")
    turn_id: str = Field(description="Rate this answer with POST /v1/feedback")
    saved: str = Field(description="saved, or queued (kept locally until the store is back)")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: str = Field(min_length=1, max_length=128)
    kind: Literal["thumbs", "review"] = "thumbs"
    thumbs: Literal[1, -1] | None = Field(None, description="+1 up, -1 down; required for kind=thumbs")
    severity: Literal["minor", "major"] | None = None
    likert: int | None = Field(None, ge=1, le=5, description="1 strongly disagree .. 5 strongly agree")
    corrected_answer: str | None = Field(None, max_length=20_000)
    comment: str | None = Field(None, max_length=5_000)
    approved: bool = Field(False, description="Reviewers only: add corrected_answer to the Q&A set")


class FeedbackResponse(BaseModel):
    status: Literal["saved", "queued"]
    message: str
    qa: str | None = Field(None, description="What an approved correction did to the Q&A set")


class TurnOut(BaseModel):
    turn_id: str
    created_at: str
    question: str
    standalone_question: str
    answer: str
    route: str
    abstained: bool
    confidence: float
    confidence_band: str
    matched_question: str | None = None
    references: list[ReferenceOut]
    notice: str | None = None


class ConversationSummary(BaseModel):
    conversation_id: str
    title: str = Field(description="The owner's title, or the first question's first line")
    started_at: str
    last_at: str = Field(description="The last activity (the newest turn); the list is sorted by it")
    turns: int = Field(description="Visible turns (cleared ones are not counted)")
    first_question: str
    shared: bool = Field(description="A read-only share link is on (POST/DELETE .../share)")


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class Conversation(BaseModel):
    conversation_id: str
    turns: list[TurnOut]


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(
        max_length=2_000,  # the request's bound; the title itself is checked by feedback.conversations.clean_title
        description=f"The new title: one line of 1-{MAX_TITLE_CHARS} characters once whitespace is collapsed",
    )


class ConversationRecord(BaseModel):
    """A conversation's record after a rename, delete, restore or revoke."""

    conversation_id: str
    title: str
    created_at: str
    updated_at: str
    shared: bool
    deleted: bool = Field(description="Out of the list and chat (turns kept for reviewers); restore undoes it")


class ShareLink(BaseModel):
    conversation_id: str
    token: str = Field(description="Opens the conversation read-only with GET /v1/shared/{token}")
    url_path: str = Field(description="The app's share link, relative to the app's address: /chat?share=<token>")


class SharedConversation(BaseModel):
    conversation_id: str
    title: str
    owner: str = Field(description="Who shared it")
    turns: list[TurnOut]


class SourceOut(BaseModel):
    source: str
    title: str
    kind: str
    parents: int
    chunks: int
    indexed_at: str


class DocumentList(BaseModel):
    backend: str
    embedding_model: str | None
    version: str | None
    sources: list[SourceOut]


class FileReport(BaseModel):
    source: str
    status: str = Field(description="added, updated, unchanged or skipped (with the reason)")
    reason: str = ""
    parents: int = 0
    chunks: int = 0


class IngestReport(BaseModel):
    summary: str = Field(description="The line `docent ingest` prints")
    files: list[FileReport]


class DeleteReport(BaseModel):
    source: str
    removed_upload: bool = Field(description="The uploaded copy under the data folder was removed too")


class QAPairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=5_000)
    answer: str = Field(min_length=1, max_length=20_000)
    context: str = Field("", max_length=20_000)
    images: list[str] = Field(default_factory=list, max_length=20)


class QARequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[QAPairIn] = Field(min_length=1, max_length=5_000)
    replace: bool = Field(False, description="Replace the answer of questions already in the set")


class QAResponse(BaseModel):
    added: int
    duplicates: int
    replaced: int
    status: Literal["saved", "queued"]
    message: str


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = {}
