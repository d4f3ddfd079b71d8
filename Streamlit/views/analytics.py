"""Analytics: how answers are rated, by route and over time; every export as a download."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import streamlit as st
import ui
from actions import (
    MIME,
    export_bytes,
    export_filter,
    export_name,
    feedback_frame,
    filter_feedback,
    flush_outbox,
    load_window,
    reliability,
    usage_in_window,
)
from resources import get_store

from feedback.export import EXPORT_FORMATS

identity = ui.require("analytics")
store = get_store()

st.title("Analytics")
today = date.today()
cols = st.columns([2, 1, 1, 1, 1])
window = cols[0].date_input("Feedback between", (today - timedelta(days=30), today), key="an_window")
since, until = (window[0], window[1]) if isinstance(window, (tuple, list)) and len(window) == 2 else (None, None)

frame = loaded = None
with ui.guarded("Loading the feedback", "Narrow the date range or try again."):
    flush_outbox(store)
    loaded = load_window(store, since, until)
    frame = feedback_frame(store, since, until, loaded)
if frame is None:
    st.stop()

route = cols[1].selectbox("Route", ["any", "rag", "finetuned"], key="an_route")
rating = cols[2].selectbox("Rating", ["any", "thumbs up", "thumbs down", "reviewed"], key="an_rating")
severity = cols[3].selectbox("Severity", ["any", "minor", "major"], key="an_severity")
reviewers = sorted(frame["reviewer"].dropna().unique()) if not frame.empty else []
reviewer = cols[4].selectbox("Reviewer", ["any", *reviewers], key="an_reviewer")
# the filters as chosen ("any" = not filtered); the table, the charts and every export follow them
chosen = {
    name: None if value == "any" else value
    for name, value in (("route", route), ("rating", rating), ("severity", severity), ("reviewer", reviewer))
}
view = filter_feedback(frame, **chosen)

figures = None
with ui.guarded("Loading the usage figures", "Narrow the date range or try again."):
    figures = usage_in_window(loaded, since, until, chosen["route"])
if figures is not None:
    st.subheader("Usage")
    u = st.columns(3)
    u[0].metric("Questions", figures.questions)
    u[1].metric("Active users", figures.users)
    rate = figures.no_answer_rate
    u[2].metric("Not found in the documents", "–" if rate is None else f"{rate:.0%}")
    if figures.per_day:
        import pandas as pd

        days = pd.DataFrame(figures.per_day).melt("day", var_name="outcome", value_name="questions")
        st.altair_chart(
            alt.Chart(days)
            .mark_bar()
            .encode(
                x=alt.X("day:T", title="Day"),
                y=alt.Y("sum(questions):Q", title="Questions", axis=alt.Axis(tickMinStep=1, format="d")),
                color=alt.Color(
                    "outcome:N",
                    title=None,
                    scale=alt.Scale(domain=["answered", "not found"], range=["#2E6FD6", "#F2A33A"]),
                ),
            ),
            width="stretch",
        )
        routes = {"rag": "Documents", "finetuned": "Q&A set"}
        st.dataframe(
            [
                {
                    "Answered from": routes.get(r["route"], r["route"]),
                    "Questions": r["questions"],
                    "Answered": f"{r['answered']:.0%}",
                }
                for r in figures.by_route
            ],
            hide_index=True,
        )
    top = st.columns(2)
    for column, title, rows, empty in (
        (top[0], "Most asked, not found", figures.top_unanswered, "Every question found an answer."),
        (top[1], "Most thumbs down", figures.top_thumbs_down, "No thumbs down."),
    ):
        column.markdown(f"**{title}**")
        if rows:
            column.dataframe([{"Question": q, "Times": n} for q, n in rows], hide_index=True)
        else:
            column.caption(empty)

st.subheader("Ratings")
m = st.columns(4)
m[0].metric("Ratings", len(view))
ups, downs = int((view["thumbs"] == 1).sum()) if len(view) else 0, int((view["thumbs"] == -1).sum()) if len(view) else 0
m[1].metric("Thumbs up", ups)
m[2].metric("Thumbs down", downs)
m[3].metric("Corrections approved", int(view["approved"].fillna(False).astype(bool).sum()) if len(view) else 0)

if view.empty:
    st.info("No feedback matches these filters yet.", icon="📭")
else:
    data = view.assign(
        day=view["created_at"].str[:10],
        rating=view["thumbs"].map({1: "thumbs up", -1: "thumbs down"}).fillna("review only"),
        route=view["route"].fillna("unknown"),
        severity=view["severity"].fillna("none"),
    )
    colours = alt.Scale(domain=["thumbs up", "thumbs down", "review only"], range=["#2E9E5B", "#D64545", "#8A94A6"])
    count = alt.Y("sum(ratings):Q", title="Ratings", axis=alt.Axis(tickMinStep=1, format="d"))
    # charts get aggregated rows (a few hundred at most), not one point per feedback
    by_day = data.groupby(["day", "rating"]).size().reset_index(name="ratings")
    by_route = data.groupby(["route", "rating"]).size().reset_index(name="ratings")
    by_severity = data[data["kind"] == "review"].groupby("severity").size().reset_index(name="ratings")
    scored = data.assign(score=data["likert"].fillna(data["thumbs"].map({1: 5, -1: 1})))
    scored = scored.dropna(subset=["score", "confidence"])
    if len(scored) > 2000:
        scored = scored.sample(2000, random_state=0)
    left, right = st.columns(2)
    with left:
        st.subheader("Ratings over time")
        st.altair_chart(
            alt.Chart(by_day)
            .mark_bar()
            .encode(x=alt.X("day:T", title="Day"), y=count, color=alt.Color("rating:N", scale=colours)),
            width="stretch",
        )
        st.subheader("Severity (reviews)")
        st.altair_chart(
            alt.Chart(by_severity)
            .mark_bar()
            .encode(
                x=alt.X("severity:N", title=None, sort=["none", "minor", "major"], axis=alt.Axis(labelAngle=0)),
                y=count,
                color=alt.Color(
                    "severity:N",
                    legend=None,
                    scale=alt.Scale(domain=["none", "minor", "major"], range=["#8A94A6", "#F2A33A", "#D64545"]),
                ),
            ),
            width="stretch",
        )
    with right:
        st.subheader("By route")
        st.altair_chart(
            alt.Chart(by_route)
            .mark_bar()
            .encode(
                x=alt.X("route:N", title=None, axis=alt.Axis(labelAngle=0)),
                y=count,
                color=alt.Color("rating:N", scale=colours),
            ),
            width="stretch",
        )
        st.subheader("Confidence vs rating")
        st.altair_chart(
            alt.Chart(scored[["confidence", "score", "route", "question", "reviewer"]])
            .mark_circle(size=70, opacity=0.6)
            .encode(
                x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="Confidence"),
                y=alt.Y("score:Q", scale=alt.Scale(domain=[0.5, 5.5]), title="Rating (1 = wrong … 5 = right)"),
                color="route:N",
                tooltip=["question", "reviewer", "score", "confidence"],
            ),
            width="stretch",
        )
    judged = reliability(view)
    if judged:
        import pandas as pd

        st.subheader("Calibration (reviewers' ratings)")
        left, right = st.columns([1, 3])
        left.metric("Calibration error (ECE)", f"{judged['ece']:.2f}")
        left.caption(
            f"{judged['n']} rated answers: ratings 4-5 count as right, 1-2 as wrong. 0 means the confidence shown "
            "is the share of answers that were right; `docent calibrate --from-feedback` refits it once a route "
            "has 50 ratings."
        )
        bins = pd.DataFrame([b for b in judged["bins"] if b["n"]])
        perfect = alt.Chart(pd.DataFrame({"confidence": [0.0, 1.0], "accuracy": [0.0, 1.0]})).mark_line(
            strokeDash=[4, 4], color="#8A94A6"
        )
        shown = alt.Chart(bins).mark_line(point=alt.OverlayMarkDef(size=80), color="#2E6FD6")
        axes = {
            "x": alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="Confidence shown (bin mean)"),
            "y": alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="Share rated right"),
        }
        right.altair_chart(
            perfect.encode(**axes) + shown.encode(**axes, tooltip=["lo", "hi", "n", "confidence", "accuracy"]),
            width="stretch",
        )
    st.subheader("Feedback")
    TABLE_ROWS = 1000
    if len(view) > TABLE_ROWS:
        st.caption(f"The newest {TABLE_ROWS:,} of {len(view):,} ratings; the exports below hold all of them.")
    columns = [
        "created_at",
        "reviewer",
        "kind",
        "thumbs",
        "severity",
        "likert_label",
        "route",
        "confidence",
        "question",
        "answer",
        "corrected_answer",
        "comment",
        "approved",
    ]
    table = view.sort_values("created_at", ascending=False).head(TABLE_ROWS)[columns]
    text = ["reviewer", "kind", "severity", "likert_label", "question", "answer", "corrected_answer", "comment"]
    table = table.assign(
        thumbs=table["thumbs"].map({1: "up", -1: "down"}).fillna(""),
        route=table["route"].map({"rag": "Documents", "finetuned": "Q&A set"}).fillna(table["route"]).fillna(""),
        **{c: table[c].fillna("") for c in text},
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "created_at": st.column_config.TextColumn("When (UTC)"),
            "reviewer": "Reviewer",
            "kind": "Kind",
            "thumbs": st.column_config.TextColumn("Thumbs"),
            "severity": "Severity",
            "likert_label": "Rating",
            "route": "Answered from",
            "confidence": st.column_config.NumberColumn("Confidence", format="%.2f"),
            "question": "Question",
            "answer": "Answer",
            "corrected_answer": "Corrected answer",
            "comment": "Comment",
            "approved": "Approved",
        },
    )

st.subheader("Export")
st.caption(
    "Dates and filters as chosen above (dates inclusive, UTC). Conversations follow the route, and a rating, "
    "severity or reviewer filter keeps the answers that feedback judges. Fine-tuning: the Q&A set plus approved "
    "corrections, as `instruction,response[,context][,images]`; the filters do not apply to it."
)
# A download is built on click, outside this script run, where Streamlit can only say "Failed to
# generate file for download": the reason is kept here and shown on the next run (issue 11).
failed_exports = st.session_state.setdefault("an_export_failures", {})
for failure in list(failed_exports.values()):
    st.error(failure, icon=":material/error:")
failed_exports.clear()


def _export(what: str, fmt: str, failures: dict = failed_exports) -> bytes:
    try:
        keep = export_filter(what, **chosen, feedback_view=view)
        return export_bytes(store, what, fmt, since, until, keep=keep)
    except Exception as exc:
        failures[(what, fmt)] = f"The {what} {fmt.upper()} export failed: {exc}"
        raise


for what, label in (("feedback", "Feedback"), ("turns", "Conversations"), ("finetune", "Fine-tuning set")):
    row = st.columns([2, 1, 1, 1, 1])
    row[0].markdown(f"**{label}**")
    for i, fmt in enumerate(EXPORT_FORMATS, 1):
        row[i].download_button(
            fmt.upper() if fmt != "jsonl" else "JSONL",
            data=lambda what=what, fmt=fmt: _export(what, fmt),
            file_name=export_name(what, fmt, since, until),
            mime=MIME[fmt],
            key=f"dl_{what}_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
