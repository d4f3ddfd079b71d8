"""`docent eval GOLD.jsonl`: score the answer chain on a gold question set (issue 10)."""

from __future__ import annotations

from pathlib import Path

import typer


def eval_command(
    gold: Path = typer.Argument(..., help="Gold set (JSONL), e.g. bench/data/gold/answerable.jsonl."),
    compare: Path = typer.Option(
        None, "--compare", help="An earlier run (its report.json or --out folder): print the deltas."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Folder for report.json, report.md, items.jsonl and reliability.png [default: eval-runs/GOLD-SPLIT].",
    ),
    split: str = typer.Option("all", "--split", help="test | tune | all (rows without a split are in every split)."),
    kb: Path = typer.Option(
        None, "--kb", help="Evaluate on a fresh temporary index of this folder instead of the configured one."
    ),
    qa: Path = typer.Option(None, "--qa", help="With --kb: the Q&A set (CSV) the router compares questions with."),
    limit: int = typer.Option(0, "--limit", help="Only the first N questions (0 = all): a quick look."),
    write_baseline: bool = typer.Option(
        False,
        "--write-baseline",
        help="Write the quality-gate baseline next to "
        "GOLD (demo_gold.jsonl -> demo_baseline.json) with the extractive backend "
        "on a fresh index of --kb (default: the kb named in the existing baseline).",
    ),
    check_baseline: bool = typer.Option(
        False,
        "--check-baseline",
        help="Compare with that baseline and exit 1 when "
        "a figure drops beyond its tolerance (what `make test` checks).",
    ),
) -> None:
    """Run the chain on a gold set; report retrieval, key facts, refusals, routing, calibration, latency."""
    import json

    from config.errors import DocentError
    from config.settings import load_settings
    from evaluation import gate
    from evaluation.gold import load_gold
    from evaluation.report import load_run, render_compare, write_run
    from evaluation.scoring import compare as compare_runs
    from evaluation.scoring import headline
    from evaluation.service import evaluate

    items = load_gold(gold, split)
    if limit > 0:
        items = items[:limit]
    previous = load_run(compare) if compare else None
    settings = load_settings()
    bpath = gate.baseline_path(gold)
    if write_baseline or check_baseline:
        existing = gate.load_baseline(bpath) if bpath.exists() else {}
        kb = kb or (Path(existing["kb"]) if existing.get("kb") else None)
        qa = qa or (Path(existing["qa"]) if existing.get("qa") else None)
        if kb is None:
            raise DocentError(f"{bpath}: a baseline is measured on a fresh index; pass --kb FOLDER (and --qa CSV).")
        settings = settings.model_copy(update={"llm_backend": "extractive"})
    if qa is not None and kb is None:
        raise DocentError("--qa only applies with --kb; to change the configured Q&A set use `docent qa import`.")

    def progress(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            typer.echo(f"  {done}/{total} questions", err=True)

    report, rows = evaluate(settings, items, gold=str(gold), split=split, kb=kb, qa=qa, progress=progress)
    if previous is not None:
        report["compare"] = {"run": str(compare), "rows": compare_runs(report["summary"], previous["summary"])}
    out = out or Path("eval-runs") / f"{gold.stem}-{split}"
    paths = write_run(out, report, rows)
    figures = headline(report["summary"])
    typer.echo("\n".join(f"{name:<22} {'-' if v is None else round(v, 4)}" for name, v in figures.items()))
    if previous is not None:
        typer.echo("\n" + "\n".join(render_compare(report["compare"]["rows"])))
    typer.echo(f"wrote {paths['json']}, {paths['markdown']}, {paths['items']}, {paths['diagram']}", err=True)
    if write_baseline:
        baseline = gate.baseline_from(report["summary"], str(gold), str(kb), str(qa) if qa else None, "extractive")
        bpath.write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
        typer.echo(f"wrote baseline {bpath}", err=True)
    elif check_baseline:
        passed, table = gate.check(figures, gate.load_baseline(bpath))
        typer.echo("\n" + gate.render(table))
        if not passed:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
