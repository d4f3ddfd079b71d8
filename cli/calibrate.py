"""`docent calibrate`: fit the map from each route's raw score to the probability an answer is right (issue 10)."""

from __future__ import annotations

from pathlib import Path

import typer


def calibrate_command(
    from_eval: list[Path] = typer.Option(
        None,
        "--from-eval",
        help="items.jsonl (or --out folder) of a `docent eval` run on the TUNE half; repeat to pool runs. "
        "Refits the base map (and drops reviewer corrections fitted on top of the old one).",
    ),
    from_feedback: bool = typer.Option(
        False,
        "--from-feedback",
        help="Refit from reviewers' ratings in the configured store (Likert 4-5 right, 1-2 wrong).",
    ),
    min_ratings: int = typer.Option(50, "--min-ratings", min=10, help="With --from-feedback: ratings a route needs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change; write nothing."),
) -> None:
    """Calibrate confidence; with no option, show the calibration in use and the reviewers' reliability."""
    from chain.calibration import Calibration
    from config.errors import DocentError
    from config.settings import load_settings
    from evaluation import calibrate as cal

    settings = load_settings()
    path = settings.calibration_file
    current = Calibration.load(path)
    if from_eval and from_feedback:
        raise DocentError("--from-eval and --from-feedback: give one; refit the base first, then from ratings.")
    if not from_eval and not from_feedback:
        typer.echo(f"{path}:\n{cal.describe(current)}")
        store = _store(settings)
        try:
            figures = cal.reviewer_reliability(store)
        finally:
            store.close()
        typer.echo(f"reviewers' ratings: {figures['n']} judged answers, ECE {figures['ece']}")
        return
    if from_eval:
        rows = cal.read_items(from_eval)
        new, report = cal.fit_base(current, cal.labelled_from_items(rows), ", ".join(map(str, from_eval)))
    else:
        store = _store(settings)
        try:
            data, _ = cal.labelled_from_feedback(store, current)
        finally:
            store.close()
        new, report = cal.fit_reviewers(current, data, min_ratings)
    typer.echo(cal.render(report))
    if dry_run:
        typer.echo("dry run: nothing written", err=True)
    elif new.to_json() != current.to_json():
        new.save(path)
        typer.echo(f"wrote {path} (used by answers from the next start of the app, API or CLI)", err=True)
    else:
        typer.echo(f"{path} unchanged", err=True)


def _store(settings):
    from feedback.factory import open_store

    return open_store(settings)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_command)
