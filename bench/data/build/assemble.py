"""Assemble the gold dev sets from the raw question files (issue 10); safe to re-run.

    python bench/data/build/assemble.py [--corpus DIR] [--faq CSV]

1. Copies any newer raw file from the main checkout's bench/data/build/ (where the question writers
   put them; gitignored) into bench/data/raw/ (committed), so a late part is picked up by re-running.
2. Validates: every key fact appears verbatim in one of its gold pages (after removing Markdown
   escapes, case- and whitespace-insensitive), every gold page exists, every routed pair is an
   instruction of the FAQ csv, no page is asked twice, an out-of-scope row's distinctive term occurs
   on no page. Rows that fail are left out and listed.
3. Writes bench/data/gold/{answerable,routing,out_of_scope}.jsonl with a stable "id" and a
   "split" ("tune" | "test") from a hash of the row's split key, so re-running never moves a row.

Split keys: the page (answerable), the FAQ pair (routing, so paraphrases of one pair never straddle
halves) or the question (hard negatives, out-of-scope).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1]  # bench/data
ROOT = DATA.parents[1]
RAW = DATA / "raw"
GOLD = DATA / "gold"
UPSTREAM = Path("/work/main/bench/data/build")
CORPUS = ROOT.parent / "shared" / "corpora" / "sagemaker-dg" / "doc_source"
FAQ = ROOT.parent / "shared" / "corpora" / "sagemaker-faq" / "faq_pairs.csv"
RAW_FILES = [
    *(f"answerable_part{i}.jsonl" for i in range(1, 5)),
    "routing.jsonl",
    "out_of_scope.jsonl",
    *(f"pages_part{i}.txt" for i in range(1, 5)),
]


def split_of(key: str) -> str:
    return "test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 else "tune"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


def normalise(text: str) -> str:
    """Case, whitespace and Markdown-escape insensitive form (the guide writes `num\\_round`)."""
    return re.sub(r"\s+", " ", _ESCAPE.sub(r"\1", text)).strip().lower()


def refresh_raw(upstream: Path) -> list[str]:
    copied = []
    RAW.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        src, dst = upstream / name, RAW / name
        if src.exists() and (not dst.exists() or src.read_bytes() != dst.read_bytes()):
            shutil.copyfile(src, dst)
            copied.append(name)
    return copied


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assemble_answerable(corpus: Path) -> tuple[list[dict], list[str]]:
    rows, problems, seen = [], [], set()
    cache: dict[str, str] = {}

    def page_text(page: str) -> str | None:
        if page not in cache:
            path = corpus / page
            cache[page] = normalise(path.read_text(encoding="utf-8")) if path.exists() else None
        return cache[page]

    for part in sorted(RAW.glob("answerable_part*.jsonl")):
        for raw in read_jsonl(part):
            page = raw["page"]
            gold = list(dict.fromkeys([page, *raw.get("pages", [])]))
            where = f"{part.name}: {page}"
            if page in seen:
                problems.append(f"{where}: page asked twice, kept the first")
                continue
            missing = [p for p in gold if page_text(p) is None]
            if missing:
                problems.append(f"{where}: gold page(s) not in the corpus: {missing}")
                continue
            facts = [f for f in raw.get("key_facts", []) if f.strip()]
            unfound = [f for f in facts if not any(normalise(f) in page_text(p) for p in gold)]
            if not facts or unfound:
                problems.append(f"{where}: key fact(s) not verbatim in a gold page: {unfound or 'none given'}")
                continue
            seen.add(page)
            rows.append(
                {
                    "id": "ans-" + page.removesuffix(".md"),
                    "kind": "answerable",
                    "question": raw["question"],
                    "category": raw["category"],
                    "pages": gold,
                    "key_facts": facts,
                    "expected_route": "rag",
                    "split": split_of(page),
                }
            )
    return rows, problems


def assemble_routing(faq: Path) -> tuple[list[dict], list[str]]:
    with faq.open(encoding="utf-8", newline="") as fh:
        instructions = {row["instruction"].strip() for row in csv.DictReader(fh)}
    rows, problems, seen = [], [], set()
    for raw in read_jsonl(RAW / "routing.jsonl"):
        question, pair = raw["question"].strip(), raw.get("pair")
        if question.lower() in seen:
            problems.append(f"routing: duplicate question {question!r}")
            continue
        if pair is not None and pair.strip() not in instructions:
            problems.append(f"routing: pair not in the FAQ csv: {pair!r}")
            continue
        if (pair is None) != (raw["expected_route"] == "rag"):
            problems.append(f"routing: route {raw['expected_route']!r} does not fit pair {pair!r}")
            continue
        seen.add(question.lower())
        rows.append(
            {
                "id": "rt-" + short_hash(question),
                "kind": "routing",
                "question": question,
                "variant": raw["variant"],
                "expected_route": raw["expected_route"],
                "pair": pair,
                "split": split_of(pair if pair is not None else question),
            }
        )
    return rows, problems


def assemble_out_of_scope(corpus: Path) -> tuple[list[dict], list[str]]:
    """A row's distinctive `term`, when it names one, must occur on no page of the guide."""
    pages = [normalise(p.read_text(encoding="utf-8")) for p in sorted(corpus.glob("*.md"))]
    rows, problems, seen = [], [], set()
    for raw in read_jsonl(RAW / "out_of_scope.jsonl"):
        question, term = raw["question"].strip(), raw.get("term")
        if question.lower() in seen:
            problems.append(f"out_of_scope: duplicate question {question!r}")
            continue
        if term and any(normalise(term) in text for text in pages):
            problems.append(f"out_of_scope: term {term!r} occurs in the guide ({question!r})")
            continue
        seen.add(question.lower())
        rows.append(
            {
                "id": "oos-" + short_hash(question),
                "kind": "out_of_scope",
                "question": question,
                "category": raw["category"],
                "term": raw.get("term"),
                "expected_route": "rag",
                "split": split_of(question),
            }
        )
    return rows, problems


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def summary(name: str, rows: list[dict], group: str) -> str:
    counts = Counter((r[group], r["split"]) for r in rows)
    lines = [
        f"{name}: {len(rows)} rows ({sum(r['split'] == 'tune' for r in rows)} tune, "
        f"{sum(r['split'] == 'test' for r in rows)} test)"
    ]
    for value in sorted({r[group] for r in rows}):
        lines.append(f"  {value:<14} tune {counts[(value, 'tune')]:>3}  test {counts[(value, 'test')]:>3}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--faq", type=Path, default=FAQ)
    parser.add_argument("--upstream", type=Path, default=UPSTREAM, help="where new raw parts arrive")
    args = parser.parse_args(argv)
    for path, what in ((args.corpus, "--corpus (the guide's doc_source folder)"), (args.faq, "--faq (faq_pairs.csv)")):
        if not path.exists():
            print(f"{path}: not found; pass {what}.", file=sys.stderr)
            return 2
    copied = refresh_raw(args.upstream) if args.upstream.exists() else []
    if copied:
        print("copied into bench/data/raw: " + ", ".join(copied))
    answerable, p1 = assemble_answerable(args.corpus)
    routing, p2 = assemble_routing(args.faq)
    oos, p3 = assemble_out_of_scope(args.corpus)
    write_jsonl(GOLD / "answerable.jsonl", answerable)
    write_jsonl(GOLD / "routing.jsonl", routing)
    write_jsonl(GOLD / "out_of_scope.jsonl", oos)
    print(summary("answerable", answerable, "category"))
    print(summary("routing", routing, "variant"))
    print(summary("out_of_scope", oos, "category"))
    problems = p1 + p2 + p3
    print(f"{len(problems)} row(s) left out:" if problems else "every row validated")
    for line in problems:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
