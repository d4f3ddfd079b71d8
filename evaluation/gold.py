"""Gold question files: one JSON object per line, checked before anything runs.

>>> item = GoldItem.from_dict({"id": "q1", "kind": "answerable", "question": "max payload?",
...                            "pages": ["a.md"], "key_facts": ["1 GB"]}, where="x:1")
>>> item.expected_route
'rag'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.errors import DocentError

KINDS = ("answerable", "out_of_scope", "routing")
SPLITS = ("test", "tune", "all")


class GoldFileError(DocentError, ValueError):
    """A gold file cannot be read or a row is malformed; the message names the file and line."""


@dataclass
class GoldItem:
    id: str
    kind: str  # answerable | out_of_scope | routing
    question: str
    category: str = ""  # answerable: fact|limit|...; out_of_scope: other_cloud|adjacent|workplace
    variant: str = ""  # routing: light|moderate|heavy|hard_negative
    pages: list[str] = field(default_factory=list)  # gold sources (answerable)
    key_facts: list[str] = field(default_factory=list)
    expected_route: str = "rag"
    pair: str | None = None  # routing: the Q&A instruction a paraphrase should match
    history: list[str] = field(default_factory=list)  # earlier questions of the conversation (follow-ups)
    split: str = ""

    @classmethod
    def from_dict(cls, row: Any, where: str) -> GoldItem:
        if not isinstance(row, dict):
            raise GoldFileError(f"{where}: expected a JSON object, got {type(row).__name__}.")
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise GoldFileError(f'{where}: "question" is missing or empty; every row needs the question text.')
        kind = row.get("kind")
        if kind not in KINDS:
            raise GoldFileError(f'{where}: "kind" is {kind!r}; use one of {", ".join(KINDS)}.')
        expected = row.get("expected_route") or ("finetuned" if row.get("pair") else "rag")
        if expected not in ("rag", "finetuned"):
            raise GoldFileError(f'{where}: "expected_route" is {expected!r}; use "rag" or "finetuned".')
        item = cls(
            id=str(row.get("id") or where),
            kind=kind,
            question=question,
            category=str(row.get("category") or ""),
            variant=str(row.get("variant") or ""),
            pages=_strings(row, "pages", where),
            key_facts=_strings(row, "key_facts", where),
            expected_route=expected,
            pair=row.get("pair"),
            history=_strings(row, "history", where),
            split=str(row.get("split") or ""),
        )
        if kind == "answerable" and not (item.pages or item.key_facts):
            raise GoldFileError(f'{where}: an answerable row needs "pages" (gold sources) or "key_facts".')
        return item


def _strings(row: dict, key: str, where: str) -> list[str]:
    value = row.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GoldFileError(f'{where}: "{key}" must be a list of strings.')
    return [v for v in value if v.strip()]


def load_gold(path: Path, split: str = "all") -> list[GoldItem]:
    """Rows of `path` in `split` ("test", "tune" or "all"; rows without a split belong to every split)."""
    if split not in SPLITS:
        raise GoldFileError(f"--split {split!r}: use one of {', '.join(SPLITS)}.")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise GoldFileError(
            f"{path}: no such gold file. Pass a JSONL file such as bench/data/demo_gold.jsonl."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldFileError(f"{path}: cannot read it ({exc}). Pass a UTF-8 JSONL file.") from None
    items, ids = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFileError(f"{where}: not valid JSON ({exc.msg}); fix or remove the line.") from None
        item = GoldItem.from_dict(row, where)
        if item.id in ids:
            raise GoldFileError(f"{where}: id {item.id!r} is used twice; ids must be unique.")
        ids.add(item.id)
        if split == "all" or not item.split or item.split == split:
            items.append(item)
    if not items:
        raise GoldFileError(f"{path}: no questions in split {split!r}. Use --split all, or check the file.")
    return items
