"""Review: a queue of answers to judge; approved corrections go into the Q&A set at once."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st
import ui
from actions import (
    ROUTE_LABELS,
    confidence_label,
    flush_outbox,
    likert_text,
    reference_line,
    review_limits,
    save_review,
)
from resources import get_settings, get_store
from safe_text import inline, show_answer, show_text

from chain.confidence import band
from feedback.records import LIKERT_LABELS

identity = ui.require("review")
store = get_store()
FILTERS = {"unrated": "Not rated yet", "thumbs_down": "Thumbs down", "low_confidence": "Low confidence"}

st.title("Review answers")
cols = st.columns([3, 1, 2, 1])
queue_filter = (
    cols[0].segmented_control("Show", list(FILTERS), format_func=FILTERS.get, default="unrated", key="review_filter")
    or "unrated"
)
route = cols[1].selectbox("Route", ["any", "rag", "finetuned"], key="review_route")
today = date.today()
window = cols[2].date_input("Asked between", (today - timedelta(days=30), today), key="review_window")
threshold = cols[3].number_input(
    "Confidence below", 0.05, 1.0, 0.5, 0.05, key="review_threshold", disabled=queue_filter != "low_confidence"
)
since, until = (window[0], window[1]) if isinstance(window, (tuple, list)) and len(window) == 2 else (None, None)

queue = []
with ui.guarded("Loading the review queue"):
    flush_outbox(store)
    queue = store.review_queue(
        queue_filter,
        route=None if route == "any" else route,
        since=since,
        until=until,
        confidence_below=threshold if queue_filter == "low_confidence" else None,
    )
feedback_of: dict = {}
with ui.guarded("Loading the ratings"):
    feedback_of = {turn.turn_id: store.feedback_for_turn(turn.turn_id) for turn in queue}


def review_state(feedback) -> str:
    """'approved' (a correction went into the Q&A set), 'reviewed' (someone reviewed it) or ''."""
    if any(f.approved for f in feedback):
        return "approved"
    return "reviewed" if any(f.kind == "review" for f in feedback) else ""


states = {turn.turn_id: review_state(feedback_of.get(turn.turn_id, [])) for turn in queue}
done = sum(1 for s in states.values() if s)
hide_done = st.toggle("Hide reviewed answers", key="review_hide_done", disabled=not done)
if hide_done:
    queue = [turn for turn in queue if not states[turn.turn_id]]
st.caption(
    f"{len(queue)} answer{'s' if len(queue) != 1 else ''} in this queue, newest first"
    + (f" ({done} reviewed{', hidden' if hide_done else ''})." if done else ".")
)
if not queue:
    st.info("Nothing to review with these filters.", icon="✅")


def render_item(turn) -> None:
    existing = feedback_of.get(turn.turn_id) or store.feedback_for_turn(turn.turn_id)
    mine = next((f for f in existing if f.reviewer == identity.user and f.kind == "review"), None)
    suggested = next((f.corrected_answer for f in existing if f.corrected_answer), "")
    conf_text, colour = confidence_label(turn.confidence, band(turn.confidence))
    st.markdown("**Question**")
    show_text(turn.question)
    st.markdown(
        f":blue-badge[{ROUTE_LABELS.get(turn.route, turn.route)}] :{colour}-badge[{conf_text}] "
        f":gray-badge[{inline(turn.user)} · {turn.created_at[:16].replace('T', ' ')} UTC]"
    )
    st.markdown("**Answer**")
    with st.container(border=True):
        if turn.answer:
            show_answer(turn.answer)
        else:
            st.markdown("_(no answer: Docent abstained)_")
    if turn.route == "finetuned" and turn.matched_question:
        st.caption(f"Matched question: {inline(turn.matched_question)}")
    if turn.references:
        st.markdown(
            "**References**\n\n"
            + "\n".join(f"{r.number(i)}. {reference_line(r)}" for i, r in enumerate(turn.references, 1))
        )
    if existing:
        st.markdown("**Ratings so far**")
        st.dataframe(
            [
                {
                    "by": f.reviewer,
                    "kind": f.kind,
                    "thumbs": {1: "👍", -1: "👎"}.get(f.thumbs, ""),
                    "severity": f.severity or "",
                    "correct?": f.likert_label or "",
                    "correction": f.corrected_answer or "",
                    "comment": f.comment or "",
                    "approved": "yes" if f.approved else "",
                }
                for f in existing
            ],
            hide_index=True,
            width="stretch",
        )
    with st.form(f"review_{turn.turn_id}", border=False):
        c1, c2 = st.columns(2)
        severity = c1.radio(
            "Severity of the problem",
            ["none", "minor", "major"],
            horizontal=True,
            index=["none", "minor", "major"].index(mine.severity or "none") if mine else 0,
            key=f"rev_sev_{turn.turn_id}",
        )
        likert = c2.select_slider(
            "The answer is correct",
            options=list(LIKERT_LABELS),
            format_func=likert_text,
            value=(mine.likert or 3) if mine else 3,
            key=f"rev_likert_{turn.turn_id}",
        )
        corrected = st.text_area(
            "Corrected answer",
            value=(mine.corrected_answer if mine else None) or suggested or "",
            help="What Docent should answer. Approve it to add it to the Q&A set.",
            key=f"rev_fix_{turn.turn_id}",
        )
        comment = st.text_area("Comment", value=(mine.comment or "") if mine else "", key=f"rev_comment_{turn.turn_id}")
        approved = st.checkbox(
            "Approve the correction (add it to the Q&A set)", value=False, key=f"rev_approve_{turn.turn_id}"
        )
        if st.form_submit_button("Save review", type="primary"):
            with ui.guarded("Saving the review", "Check the fields above and save again."):
                outcome = save_review(
                    store,
                    turn,
                    identity.user,
                    severity=None if severity == "none" else severity,
                    likert=likert,
                    corrected_answer=corrected,
                    comment=comment,
                    approved=approved,
                    limits=review_limits(get_settings()),
                )
                for message in outcome.messages:
                    st.success(message, icon="✅")


MARKS = {"approved": ("Approved · ", ":material/verified:"), "reviewed": ("Reviewed · ", ":material/task_alt:")}
for turn in queue:
    mark, icon = MARKS.get(states.get(turn.turn_id, ""), ("", None))
    with st.expander(
        f"{mark}{inline(turn.question, max_chars=90)}  ·  {round(turn.confidence * 100)}%",
        expanded=len(queue) == 1,
        icon=icon,
    ):
        with ui.guarded("Showing this answer"):
            render_item(turn)
