"""Write a run: report.json (figures + per-question results), report.md, reliability.png.

>>> # paths = write_run(Path("bench/out/eval"), report)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.errors import DocentError


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _group_table(title: str, groups: dict[str, dict[str, Any]], what: str) -> list[str]:
    lines = [f"| {title} | n | {what} | rate |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {g['n']} | {g['hits']} | {_fmt(g['rate'])} |" for name, g in groups.items()]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    counts = s["counts"]
    lines = [
        f"# docent eval: {report['gold']} (split {report['split']})",
        "",
        f"{counts['answerable']} answerable, {counts['out_of_scope']} out-of-scope, {counts['routing']} routing "
        f"questions; {counts['errors']} errors. Backend {report.get('backend', '-')}, "
        f"index {report.get('index_version') or '-'}, {report.get('created', '')}.",
        "",
    ]
    ret, cited = s["retrieval"]["retrieved"], s["retrieval"]["cited"]
    if ret.get("n"):
        lines += [
            "## Retrieval (answerable, page level)",
            "",
            "| pages | n | recall@1 | recall@5 | recall@10 | MRR@10 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in (("retrieved (top 10 considered)", ret), ("cited (references of the answer)", cited)):
            lines.append(
                f"| {name} | {r['n']} | {_fmt(r['recall@1'])} | {_fmt(r['recall@5'])} | "
                f"{_fmt(r['recall@10'])} | {_fmt(r['mrr@10'])} |"
            )
        lines.append("")
    facts = s["key_facts"]
    if facts["overall"]["n"]:
        lines += [
            "## Key-fact match (answer contains every key fact, not refused)",
            "",
            *_group_table("category", {**facts["by_category"], "**all**": facts["overall"]}, "matched"),
            "",
        ]
    ref = s["refusals"]
    if ref["answerable"]["overall"]["n"] or ref["out_of_scope"]["overall"]["n"]:
        lines += ["## Refusals", ""]
        if ref["answerable"]["overall"]["n"]:
            lines += [
                "Answerable questions refused (false refusals; lower is better):",
                "",
                *_group_table(
                    "category", {**ref["answerable"]["by_category"], "**all**": ref["answerable"]["overall"]}, "refused"
                ),
                "",
            ]
        if ref["out_of_scope"]["overall"]["n"]:
            no_llm = ref["out_of_scope"]["without_llm"]
            lines += [
                "Out-of-scope questions refused (higher is better):",
                "",
                *_group_table(
                    "category",
                    {**ref["out_of_scope"]["by_category"], "**all**": ref["out_of_scope"]["overall"]},
                    "refused",
                ),
                "",
                f"Refused without an LLM call: {no_llm['hits']} of {no_llm['n']}.",
                "",
            ]
    routing = s["routing"]
    if routing["overall"]["n"]:
        pm = routing["pair_matched"]
        lines += [
            "## Routing",
            "",
            *_group_table("variant", {**routing["by_variant"], "**all**": routing["overall"]}, "right route"),
            "",
            f"Paraphrases answered from their own Q&A pair: {pm['hits']} of {pm['n']}.",
            "",
        ]
    cal = s["calibration"]
    lines += [
        "## Calibration",
        "",
        f"ECE (10 bins) {_fmt(cal['ece'])} over {cal['n']} questions; correct = key facts matched "
        "(answerable), refused (out-of-scope), expected route (routing). Diagram: reliability.png.",
        "",
        "| confidence | n | mean confidence | share correct |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['n']} | {_fmt(b['confidence'])} | {_fmt(b['accuracy'])} |"
        for b in cal["bins"]
        if b["n"]
    ]
    lat = s["latency_ms"]
    lines += [
        "",
        "## Latency (ms per question, this machine)",
        "",
        f"total p50 {_fmt(lat['p50'])}, p95 {_fmt(lat['p95'])}; before generation (embed + retrieve + route) "
        f"p50 {_fmt(lat['pre_llm_p50'])}, p95 {_fmt(lat['pre_llm_p95'])}.",
        "",
    ]
    if report.get("compare"):
        lines += [f"## Compared with {report['compare']['run']}", "", *render_compare(report["compare"]["rows"]), ""]
    return "\n".join(lines)


def render_compare(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| metric | previous | current | delta | |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        delta = "-" if r["delta"] is None else f"{r['delta']:+.3f}" if abs(r["delta"]) < 10 else f"{r['delta']:+.1f}"
        lines.append(f"| {r['metric']} | {_fmt(r['previous'])} | {_fmt(r['current'])} | {delta} | {r['verdict']} |")
    return lines


def load_run(path: Path) -> dict[str, Any]:
    """An earlier run's report.json (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DocentError(
            f"--compare {path}: no such run. Pass the report.json (or --out folder) of an earlier `docent eval`."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocentError(f"--compare {path}: not a readable report.json ({exc}).") from None
    if not isinstance(data, dict) or "summary" not in data:
        raise DocentError(f'--compare {path}: has no "summary"; pass a report.json written by `docent eval`.')
    return data


def reliability_png(calibration: dict[str, Any], path: Path, size: int = 420) -> None:
    """Reliability diagram: share correct per confidence bin (bars) against the diagonal."""
    from PIL import Image, ImageDraw

    margin, plot = 48, size - 72
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    x0, y0 = margin, size - margin  # origin (bottom left)

    def xy(cx: float, cy: float) -> tuple[float, float]:
        return x0 + cx * plot, y0 - cy * plot

    for tick in range(0, 11, 2):
        t = tick / 10
        draw.line([xy(t, 0), xy(t, 1)], fill=(235, 235, 235))
        draw.line([xy(0, t), xy(1, t)], fill=(235, 235, 235))
        draw.text((xy(t, 0)[0] - 8, y0 + 6), f"{t:.1f}", fill="black")
        draw.text((x0 - 30, xy(0, t)[1] - 6), f"{t:.1f}", fill="black")
    bins = calibration["bins"]
    for b in bins:
        if b["n"]:
            draw.rectangle([xy(b["lo"], b["accuracy"]), xy(b["hi"], 0)], fill=(90, 130, 200), outline="white")
            draw.text((xy(b["lo"], 0)[0] + 2, xy(0, min(0.97, b["accuracy"] + 0.05))[1]), str(b["n"]), fill="black")
    draw.line([xy(0, 0), xy(1, 1)], fill=(200, 60, 60), width=2)
    draw.rectangle([xy(0, 1), xy(1, 0)], outline="black")
    ece = calibration.get("ece")
    draw.text(
        (x0, 8), f"Reliability: share correct per confidence bin (ECE {ece if ece is not None else '-'})", fill="black"
    )
    draw.text((x0 + plot // 2 - 30, size - 20), "confidence", fill="black")
    img.save(path)


def write_run(out: Path, report: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "report.json",
        "markdown": out / "report.md",
        "items": out / "items.jsonl",
        "diagram": out / "reliability.png",
    }
    paths["json"].write_text(json.dumps({**report, "items": items}, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["items"].write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    reliability_png(report["summary"]["calibration"], paths["diagram"])
    return paths
