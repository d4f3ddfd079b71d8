"""Which candidate an extractive answer quotes, and how: day and month names, values from the heading
above, follow-ups the previous answer already covers (pure functions over made-up text)."""

from __future__ import annotations

from chain.candidates import Candidate, split_candidates
from chain.extractive import Scored, calendar_names, contexts, pick, row_answer, score, value_heading

CHANGELOG = """Acme 3.2 changelog (March 2031)
Added
- Export to CSV from the report page.
- Dark mode for the editor.
Acme 3.1 changelog
Added
- Shared folders between teams."""

LIBRARY = """Branch: Central | Email: central@library.example | Hours: Mon-Fri 08:00-18:00, Sat 10:00-12:00
Branch: Harbour | Email: harbour@library.example | Hours: Tue-Thu 09:00-17:00"""


def scored(text: str, sims: dict[str, float] | None = None, title: str = "", section: str = "") -> list[Scored]:
    cands = split_candidates(text)
    return [
        Scored(0, c, similarity=(sims or {}).get(c.text[:20], 0.3), context=ctx)
        for c, ctx in zip(cands, contexts(cands, title, section))
    ]


def test_calendar_names_read_short_forms_plurals_and_ranges():
    assert calendar_names("Sat 10:00-12:00") == {"saturday"}
    assert calendar_names("closed on sundays and in Dec") == {"sunday", "december"}
    assert calendar_names("Mon-Wed") == {"monday", "tuesday", "wednesday"}
    assert calendar_names("Fri to Mon") == {"friday", "saturday", "sunday", "monday"}
    assert calendar_names("you may ask again") == set()


def test_a_day_name_matches_its_short_form():
    text = "The shop opens Mon-Fri 08:00-18:00. On Sat it opens 10:00-12:00. Parking is free for customers."
    sims = {"The shop opens Mon-F": 0.45, "On Sat it opens 10:0": 0.45}
    choice = pick(score("is it open on saturdays", scored(text, sims)))
    assert choice.text == "On Sat it opens 10:00-12:00. [1]"


def test_a_day_range_holds_the_days_inside_it():
    text = "Deliveries arrive Tue-Thu before noon. Returns are collected on the first Monday of the month."
    sims = {"Deliveries arrive Tu": 0.4, "Returns are collecte": 0.4}
    assert pick(score("do deliveries come on wednesday", scored(text, sims))).text.startswith("Deliveries arrive")


def test_a_row_cell_is_cut_to_the_day_asked():
    central = split_candidates(LIBRARY)[0]
    assert row_answer("central library hours on saturdays", central) == "Central: hours Sat 10:00-12:00"
    assert row_answer("central library hours", central) == "Central: hours Mon-Fri 08:00-18:00, Sat 10:00-12:00"


def test_a_follow_up_the_previous_answer_covers_is_answered_from_it():
    cands = scored(LIBRARY, {"Branch: Central | Em": 0.5, "Branch: Harbour | Em": 0.4})
    previous = "Central: hours Mon-Fri 08:00-18:00, Sat 10:00-12:00 [1]"
    question = "and on saturdays? (central library hours)"
    choice = pick(score(question, cands), question, avoid=[previous])
    assert choice.text == "Central: hours Sat 10:00-12:00 [1]"


def test_a_follow_up_asking_something_new_still_skips_the_previous_answer():
    cands = scored(LIBRARY, {"Branch: Central | Em": 0.5, "Branch: Harbour | Em": 0.4})
    previous = "Central: hours Mon-Fri 08:00-18:00, Sat 10:00-12:00 [1]"
    question = "and the harbour branch? (central library hours)"
    assert pick(score(question, cands), question, avoid=[previous]).text.startswith("Harbour")


def test_contexts_list_the_headings_above_nearest_first():
    cands = split_candidates(CHANGELOG)
    ctx = dict(zip((c.text for c in cands), contexts(cands, "Acme notes", "Acme notes > Changes")))
    assert ctx["Shared folders between teams."][:3] == ("Added", "Acme 3.1 changelog", "Added")
    assert ctx["Export to CSV from the report page."] == (
        "Added",
        "Acme 3.2 changelog (March 2031)",
        "Changes",
        "Acme notes",
    )


def test_a_version_question_quotes_the_heading_with_the_version():
    sims = {"Export to CSV from t": 0.6, "Shared folders betwe": 0.3}
    question = "which acme version added csv export"
    choice = pick(score(question, scored(CHANGELOG, sims)), question)
    assert choice.text == "Acme 3.2 changelog (March 2031): Export to CSV from the report page. [1]"


def test_a_when_question_takes_the_date_or_version_of_the_heading():
    assert value_heading("when did shared folders arrive", "Shared folders.", ("Added", "Acme 3.1 changelog")) == (
        "Acme 3.1 changelog"
    )


def test_no_heading_is_added_when_the_sentence_holds_the_value_or_none_is_asked():
    heads = ("Added", "Acme 3.2 changelog")
    assert value_heading("which version added csv export", "CSV export arrived in 3.4.", heads) == ""
    assert value_heading("how do i export csv", "Use the Export button.", heads) == ""
    # a heading's bare number is seldom the amount asked for
    assert value_heading("how many exports can i run", "Exports run one at a time.", ("Step 2",)) == ""


def test_when_question_on_a_row_shows_the_hours_not_the_address():
    row = Candidate(
        "",
        "row",
        (("Team", "Training and onboarding"), ("Email", "learning@example.com"), ("Hours", "Tue and Thu 10:00-15:00")),
    )
    answer = row_answer("when is the training and onboarding team available", row)
    assert answer == "Training and onboarding: hours Tue and Thu 10:00-15:00"
    # asking for the address still names the address
    assert "learning@example.com" in row_answer("which team handles onboarding, and how do i reach them", row)


def test_the_sentence_next_to_the_best_joins_it_at_a_lower_score_than_others():
    def cand(text: str, position: int, value: float, passage: int = 0) -> Scored:
        return Scored(passage, Candidate(text, "sentence", position=position), score=value)

    best = cand("Uploads go through the Add documents tab.", 3, 1.0)
    nxt = cand("Uploaded files are kept under the uploads folder.", 4, 0.75)
    far = cand("The index tab lists every document.", 9, 0.75)
    other = cand("Another page says something else.", 4, 0.75, passage=1)
    choice = pick([best, far, nxt, other])
    assert choice.text == f"{best.candidate.text} [1] {nxt.candidate.text} [1]"
    assert pick([best, far, other]).text == f"{best.candidate.text} [1]"  # 0.75 is not close enough elsewhere
