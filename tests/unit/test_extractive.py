"""Sentence, list item and table-cell selection for extractive answers (pure functions, plain data)."""

from __future__ import annotations

from chain.candidates import Candidate, split_candidates, unwrap
from chain.condense import condense_fallback
from chain.extractive import Scored, answer_type_bonus, pick, row_answer, score

PDF_PAGE = """Docent 1.1 release notes (September 2026)
New
- Amazon OpenSearch Service and OpenSearch Serverless as index backend
(DOCENT_INDEX_BACKEND=opensearch; Serverless needs DOCENT_OPENSEARCH_AUTH=sigv4).
- Follow-up questions: Docent rewrites them into stand-alone questions and shows what it
searched for.
Known issues
- Scanned PDFs without a text layer are skipped; run them through OCR and ingest again."""

SLA = """Severity: Critical | Meaning: Docent is down | First response: 30 minutes, 24/7 | Resolution target: 4 hours
Severity: Major | Meaning: A wrong answer | First response: 4 business hours | Resolution target: 2 business days
Severity: Minor | Meaning: Small inaccuracy | First response: 1 business day | Resolution target: 10 business days"""


def scored(text: str, sims: dict[str, float] | None = None, passage: int = 0) -> list[Scored]:
    out = []
    for c in split_candidates(text):
        out.append(Scored(passage, c, similarity=(sims or {}).get(c.text[:20], 0.3)))
    return out


def test_unwrap_joins_hard_wrapped_pdf_lines_and_keeps_items_apart():
    lines = unwrap(PDF_PAGE).split("\n")
    assert (
        "- Amazon OpenSearch Service and OpenSearch Serverless as index backend (DOCENT_INDEX_BACKEND="
        "opensearch; Serverless needs DOCENT_OPENSEARCH_AUTH=sigv4)." in lines
    )
    assert "Known issues" in lines and "New" in lines
    assert sum(1 for line in lines if line.startswith("- ")) == 3


def test_candidates_mark_headings_items_and_rows():
    kinds = {c.text: c.kind for c in split_candidates(PDF_PAGE)}
    assert kinds["Known issues"] == "heading" and kinds["New"] == "heading"
    assert kinds["Scanned PDFs without a text layer are skipped; run them through OCR and ingest again."] == "item"
    rows = split_candidates(SLA)
    assert [r.kind for r in rows] == ["row"] * 3
    assert rows[2].cells[3] == ("Resolution target", "10 business days")


def test_markdown_table_rows_keep_their_column_names():
    table = "| Band | Score | What to do |\n| --- | --- | --- |\n| High | 70% or more | Still open the reference. |"
    rows = [c for c in split_candidates(table) if c.kind == "row"]
    assert rows[0].cells == (("Band", "High"), ("Score", "70% or more"), ("What to do", "Still open the reference."))


def test_a_heading_is_never_the_whole_answer():
    cands = scored(PDF_PAGE, {"Known issues": 0.95})
    choice = pick(score("known issues with scanned pdfs", cands), "known issues with scanned pdfs")
    assert choice.text.startswith("Scanned PDFs without a text layer are skipped")
    assert "Known issues" not in choice.text


def test_quantity_questions_prefer_the_sentence_with_the_number():
    text = (
        "The Review answers page shows a queue of answers, newest first.\n"
        "The queue shows at most 200 answers. Narrow the dates if you expect more."
    )
    sims = {"The Review answers pa": 0.62, "The queue shows at mo": 0.55}
    choice = pick(score("how many answers does the review queue show at most", scored(text, sims)))
    assert "200" in choice.text and choice.text.endswith("[1]")
    assert answer_type_bonus("what is the max size", Candidate("up to 2,000 characters")) == 1.0
    assert answer_type_bonus("what is the max size", Candidate("no number here")) == 0.0


def test_spreadsheet_answer_names_the_columns_asked_for():
    rows = [c for c in split_candidates(SLA)]
    assert (
        row_answer("first response time for a critical issue?", rows[0]) == "Critical: first response 30 minutes, 24/7"
    )
    assert (
        row_answer("whats the resolution target for a minor docent issue", rows[2])
        == "Minor: resolution target 10 business days"
    )
    cands = scored(SLA, {"Severity: Critical |": 0.5, "Severity: Major | Me": 0.5, "Severity: Minor | Me": 0.52})
    choice = pick(score("resolution target for a minor issue", cands), "resolution target for a minor issue")
    assert choice.text == "Minor: resolution target 10 business days [1]"
    assert "|" not in choice.text


def test_who_questions_get_the_address_of_the_row():
    contacts = split_candidates(
        "Team: Security operations | Area: Suspected incidents, phishing, leaked credentials"
        " | Email: security@example.com | Hours (local time): 24/7"
    )
    text = row_answer("got a phishing mail, which team handles that", contacts[0])
    assert text.startswith("Security operations:") and "security@example.com" in text
    assert "phishing" not in text  # the question already says it
    hours = row_answer("what hours is security operations around", contacts[0])
    assert hours == "Security operations: hours (local time) 24/7"


def test_citations_point_at_the_passage_quoted():
    first = scored("The canteen opens at 8. Parking is free.", passage=0)
    second = scored("Staff get 25 days of leave a year.", {"Staff get 25 days of": 0.7}, passage=1)
    choice = pick(score("how many days of leave", first + second))
    assert choice.text == "Staff get 25 days of leave a year. [2]" and choice.used == [1]


def test_a_follow_up_does_not_repeat_the_previous_answer():
    cands = scored(SLA, {"Severity: Major | Me": 0.6, "Severity: Minor | Me": 0.5})
    previous = "Major: resolution target 2 business days [1]"
    choice = pick(
        score("resolution target minor major", cands),
        "resolution target minor major",
        avoid=[previous],
    )
    assert choice.text == "Minor: resolution target 10 business days [1]"
    # without the previous answer, the closer row wins
    assert "Major" in pick(score("resolution target minor major", cands), "resolution target minor major").text


def test_condense_swaps_the_term_the_follow_up_replaces():
    related = {frozenset({"minor", "major"}): 0.7, frozenset({"saturdays", "hours"}): 0.3}

    def sim(a, b):
        return related.get(frozenset({a, b}), 0.05)

    assert (
        condense_fallback("and for minor ones?", ["whats the resolution target for a major docent issue"], sim)
        == "whats the resolution target for a minor docent issue"
    )
    # nothing to swap: the previous question's terms are carried over as before
    assert (
        condense_fallback("and on saturdays?", ["what are the it service desk hours"], sim)
        == "and on saturdays? (service desk hours)"
    )
