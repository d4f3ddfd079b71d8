"""Seed an empty fine-tuning set from DOCENT_QA_SET_PATH (a fresh deployment)."""

from __future__ import annotations

from config.settings import Settings
from feedback.qa_file import load_pairs
from feedback.records import QAPair


def seed_qa_set(settings: Settings, store) -> int:
    """Import DOCENT_QA_SET_PATH when the fine-tuning set is empty (a fresh deployment). Returns pairs added."""
    if not settings.qa_set_path or store.list_qa_pairs():
        return 0
    pairs, report = load_pairs(settings.qa_set_path)
    if not pairs:
        raise ValueError(f"DOCENT_QA_SET_PATH={settings.qa_set_path}: no pairs could be read.\n{report.render()}")
    result = store.add_qa_pairs([QAPair.from_row(p) for p in pairs])
    return result.added
