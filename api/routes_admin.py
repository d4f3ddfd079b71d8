"""Exports (analysts), documents and the Q&A set (admins): /v1/export, /v1/documents, /v1/qa.

The work is done by what the app and the CLI already use: feedback/export.py's `export_bytes`,
ingest/sync.py with the same converters, limits and report as `docent ingest`, its `delete_source`
and the store's `add_qa_pairs`.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from api.deps import NotFound, UnsupportedMediaType, json_body, multipart_body, role, services
from api.schemas import DeleteReport, DocumentList, IngestReport, QARequest, QAResponse
from config.roles import Identity
from feedback.export import EXPORT_MIME

router = APIRouter(prefix="/v1")


@router.get(
    "/export",
    tags=["analytics"],
    response_class=Response,
    responses={200: {"content": {mime: {} for mime in EXPORT_MIME.values()}, "description": "The export file"}},
)
def export(
    request: Request,
    what: Literal["turns", "feedback", "finetune"] = Query(..., description="turns, feedback or finetune"),
    fmt: Literal["csv", "xlsx", "parquet", "jsonl"] = Query("csv", alias="format"),
    since: date | None = Query(None, description="First day included, YYYY-MM-DD (UTC)"),
    until: date | None = Query(None, description="Last day included, YYYY-MM-DD (UTC)"),
    identity: Identity = Depends(role("analyst", "Exporting")),
):
    """The same files as `docent export` and the Analytics page's downloads."""
    from api.deps import BadRequest
    from feedback.export import export_bytes, export_name

    if since and until and since > until:
        raise BadRequest(f"since {since} is after until {until}; swap them.")
    data = export_bytes(services(request).store, what, fmt, since, until)
    name = export_name(what, fmt, since, until)
    return Response(
        data, media_type=EXPORT_MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/documents", tags=["documents"], response_model=DocumentList)
def list_documents(request: Request, identity: Identity = Depends(role("admin", "Listing documents"))):
    """What the index holds, source by source (`docent index status --sources`)."""
    index = services(request).index
    stats = index.stats()
    sources = [
        {
            "source": r.source,
            "title": r.title,
            "kind": r.kind,
            "parents": r.parents,
            "chunks": r.children,
            "indexed_at": r.indexed_at,
        }
        for r in index.list_sources().values()
    ]
    return {
        "backend": stats.backend,
        "embedding_model": stats.embedding_model,
        "version": stats.version,
        "sources": sources,
    }


def check_upload_names(names: list[str]) -> list[str]:
    """Safe file names (no folders) of a supported type, or 415/400 naming the file: nothing is written first."""
    from api.deps import BadRequest
    from ingest.converters import SUPPORTED_SUFFIXES
    from ingest.uploads import safe_filename

    if not names:
        raise BadRequest("No files were sent: add one or more `files` fields (curl -F files=@guide.pdf).")
    cleaned = []
    for raw in names:
        try:
            name = safe_filename(raw or "")
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedMediaType(
                f"{raw}: Docent cannot read '{suffix or 'no extension'}' files; send one of "
                f"{', '.join(sorted(SUPPORTED_SUFFIXES))}."
            )
        if name in cleaned:
            raise BadRequest(f"{name} is sent twice; send each file once.")
        cleaned.append(name)
    return cleaned


@router.post("/documents", tags=["documents"], response_model=IngestReport, dependencies=[Depends(multipart_body)])
def upload_documents(
    request: Request,
    response: Response,
    files: list[UploadFile] = File(..., description="One or more documents"),
    base_url: str | None = Form(None, description="Where these files are published: references link there"),
    identity: Identity = Depends(role("admin", "Adding documents")),
):
    """Index uploaded files like `docent ingest` (unchanged ones are skipped). Files that cannot be read are
    reported with the reason and not kept; nothing already indexed is lost. 422 when none could be indexed."""
    from ingest.originals import open_originals
    from ingest.sync import SyncOptions, sync_paths

    names = check_upload_names([f.filename for f in files])
    svc = services(request)
    settings = svc.settings
    staging = settings.data_dir / f".upload-{uuid.uuid4().hex}"
    options = SyncOptions.from_settings(settings, base_url=(base_url or "").strip() or None)
    try:
        staging.mkdir(parents=True)
        staged = []
        for item, name in zip(files, names):
            path = staging / name
            with path.open("wb") as out:
                shutil.copyfileobj(item.file, out, 1 << 20)
            staged.append(path)
        with svc.ingest_lock:
            summary = sync_paths(staged, svc.index, svc.embedder, options)
            originals = open_originals(settings)
            for outcome in summary.outcomes:  # keep what was indexed where the Knowledge page keeps its uploads
                if outcome.status in ("added", "updated", "unchanged"):
                    originals.put(outcome.source, (staging / outcome.source).read_bytes())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report = [
        {"source": o.source, "status": o.status, "reason": o.reason, "parents": o.parents, "chunks": o.children}
        for o in summary.outcomes
    ]
    if summary.skipped and len(summary.skipped) == len(summary.outcomes):
        response.status_code = 422
    return {"summary": summary.describe(), "files": report}


@router.delete("/documents", tags=["documents"], response_model=DeleteReport)
def delete_document(
    request: Request,
    source: str = Query(..., min_length=1, max_length=1024, description="The source as GET /v1/documents lists it"),
    identity: Identity = Depends(role("admin", "Removing documents")),
):
    """Remove a source from the index (and its uploaded copy, so a later upload sync does not bring it back)."""
    from ingest.originals import is_safe_name, open_originals
    from ingest.sync import delete_source

    svc = services(request)
    with svc.ingest_lock:
        if source not in svc.index.list_sources():
            raise NotFound(f"{source!r} is not in the index; GET /v1/documents lists the sources.")
        delete_source(svc.index, source)
        removed = is_safe_name(source) and open_originals(svc.settings).delete(source)
    return {"source": source, "removed_upload": removed}


@router.post("/qa", tags=["documents"], response_model=QAResponse, dependencies=[Depends(json_body)])
def add_qa(body: QARequest, request: Request, identity: Identity = Depends(role("admin", "Changing the Q&A set"))):
    """Add Q&A pairs to the set the router uses at once (`docent qa import`); all pairs are checked first."""
    from config.text import TextLimits
    from feedback.records import QAPair

    svc = services(request)
    limits = TextLimits.from_settings(svc.settings)
    pairs = [  # every pair is checked before any is stored: one bad pair stores none
        QAPair.new(
            limits.question_text(p.question, f"pairs[{i}].question"),
            limits.answer_text(p.answer, f"pairs[{i}].answer"),
            context=p.context,
            images=p.images,
            origin="import",
        )
        for i, p in enumerate(body.pairs)
    ]
    result = svc.store.add_qa_pairs(pairs, replace=body.replace)
    return {
        "added": result.added,
        "duplicates": result.duplicates,
        "replaced": result.replaced,
        "status": result.status,
        "message": result.message,
    }
