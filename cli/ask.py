"""`docent ask`, `docent batch` and `docent qa import|list`."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _open(settings=None):
    from config.settings import load_settings
    from feedback.factory import open_store

    settings = settings or load_settings()
    return settings, open_store(settings)


def _chain(settings, store):
    from chain.service import build_chain
    from feedback.qa_seed import seed_qa_set

    seed_qa_set(settings, store)
    return build_chain(settings, store)


def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    session: str = typer.Option(None, "--session", help="Continue this conversation (follow-ups use its history)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
) -> None:
    """Ask one question; the answer streams, then its route, confidence and references."""
    import uuid

    from chain.pipeline import InvalidQuestion
    from feedback.session import ChatSession, ask_record

    settings, store = _open()
    chat = ChatSession(_chain(settings, store), store, session or uuid.uuid4().hex[:12], user="cli")
    result = None
    try:
        for event in chat.ask(question):
            if event.kind == "token" and not as_json:
                typer.echo(event.text, nl=False)
            elif event.kind == "final":
                result = event.result
    except InvalidQuestion as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    assert result is not None
    if as_json:
        typer.echo(json.dumps(ask_record(result, chat.session_id), indent=2))
        return
    typer.echo("")
    typer.echo(
        f"\nroute: {result.route}"
        + (
            f" (matched: {result.matched_question!r}, similarity {result.match_similarity:.2f})"
            if result.route == "finetuned"
            else ""
        )
    )
    typer.echo(f"confidence: {result.confidence:.0%} ({result.confidence_band})")
    for ref in result.references:
        typer.echo(f"  [{ref.n}] {ref.title} — {ref.locator} — {ref.url or ref.source}")
    if result.notice:
        typer.secho(result.notice, fg=typer.colors.YELLOW, err=True)
    typer.echo(f"session: {chat.session_id}  (continue with --session {chat.session_id})", err=True)


def batch_record(item_id, result) -> dict:
    return {
        "id": item_id,
        "answer": result.answer,
        "route": result.route,
        "abstained": result.abstained,
        "confidence": result.confidence,
        "matched_question": result.matched_question,
        "references": [
            {k: r.to_dict()[k] for k in ("source", "title", "locator", "url", "score")} for r in result.references
        ],
        "retrieved": [r.to_dict() for r in result.retrieved],
        "llm_called": result.llm_called,
        "timings_ms": {k: result.timings_ms.get(k, 0.0) for k in ("route", "retrieve", "generate", "total")},
    }


def batch(
    infile: Path = typer.Argument(..., help='JSONL input: one {"id": ..., "question": ...} per line.'),
    outfile: Path = typer.Argument(..., help="JSONL output: each line keeps id and adds the answer fields."),
) -> None:
    """Answer many questions with the same code path as the app. Bad lines are reported, not fatal."""
    from rich.progress import track

    from chain.pipeline import InvalidQuestion

    settings, store = _open()
    chain = _chain(settings, store)
    try:
        lines = infile.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        typer.secho(f"{infile}: cannot read it ({exc}). Pass a UTF-8 JSONL file.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    problems = 0
    with outfile.open("w", encoding="utf-8") as out:
        for lineno, line in track(list(enumerate(lines, 1)), description="answering", console=None):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or "question" not in item:
                    raise ValueError('expected an object with "id" and "question"')
            except (json.JSONDecodeError, ValueError) as exc:
                typer.secho(f"{infile}:{lineno}: skipped, {exc}", fg=typer.colors.YELLOW, err=True)
                problems += 1
                continue
            item_id = item.get("id", lineno)
            try:
                result = chain.answer_sync(str(item["question"]))
                record = batch_record(item_id, result)
            except InvalidQuestion as exc:
                record = {"id": item_id, "error": str(exc)}
                problems += 1
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {outfile} ({len(lines) - problems} answered, {problems} with problems)", err=True)


def qa_import(
    path: Path = typer.Argument(..., help="CSV with columns instruction,response[,context][,images] (or JSONL)."),
) -> None:
    """Load Q&A pairs into the fine-tuning set; the router uses them at once."""
    from feedback.qa_file import load_pairs, validate_pairs
    from feedback.records import QAPair

    pairs, report = load_pairs(path)
    report = report.merge(validate_pairs(pairs, source=str(path))) if pairs else report
    usable = [p for p in pairs if p.instruction.strip() and p.response.strip()]
    settings, store = _open()
    if not usable:
        typer.secho(report.render() or f"{path}: no Q&A pairs found.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if report.errors or report.warnings:
        typer.secho(report.render(), fg=typer.colors.YELLOW, err=True)
    records = [QAPair.from_row(p, origin="import") for p in usable]
    result = store.add_qa_pairs(records)
    typer.echo(f"{path}: {result.message}")
    for q in result.duplicate_questions[:20]:
        typer.echo(f"  duplicate: {q}")


def qa_list(
    limit: int = typer.Option(50, "--limit", help="Show at most this many pairs (0 = all)."),
) -> None:
    """Show the fine-tuning set."""
    _, store = _open()
    pairs = store.list_qa_pairs()
    typer.echo(f"{len(pairs)} pairs")
    for p in pairs[: limit or None]:
        answer = p.answer.replace("\n", " ")
        typer.echo(f"- [{p.origin}] {p.question}\n    {answer[:160]}{'…' if len(answer) > 160 else ''}")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("batch")(batch)
    qa = typer.Typer(help="The fine-tuning set (Q&A pairs) the router compares questions with.", no_args_is_help=True)
    qa.command("import")(qa_import)
    qa.command("list")(qa_list)
    app.add_typer(qa, name="qa")
