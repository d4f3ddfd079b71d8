"""Chat: ask, watch the answer stream in, check its references, rate it."""

from __future__ import annotations

from pathlib import Path

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
    save_thumbs,
    thumbs_widget_value,
)
from resources import get_chain, get_settings, get_store
from safe_text import inline, safe_markdown, show_answer, show_text

from chain.confidence import band
from chain.pipeline import InvalidQuestion
from feedback.records import question_key
from feedback.session import ChatSession

identity = ui.require("chat")
store = get_store()
sid = ui.session_id(store, identity.user)
extras: dict[str, dict] = st.session_state.setdefault("turn_extras", {})


def _on_thumbs(turn_id: str) -> None:
    value = st.session_state.get(f"thumbs_{turn_id}")
    if value is None:  # the user took the rating back: keep what was saved
        return
    with ui.guarded("Saving your rating"):
        result = save_thumbs(store, turn_id, identity.user, 1 if value == 1 else -1)
        st.toast(f"Thanks for rating. {result.message}", icon="👍" if value == 1 else "👎")


def _image_path(name: str) -> Path | None:
    for base in (Path(name), get_settings().data_dir / name, Path.cwd() / name):
        if base.is_file():
            return base
    return None


def pair_images() -> dict[str, list[str]]:
    """Images of the Q&A pairs by question key, read once per run (for answers from earlier visits)."""
    if "_pair_images" not in _run_cache:
        _run_cache["_pair_images"] = {p.pair_id: list(p.images) for p in store.list_qa_pairs() if p.images}
    return _run_cache["_pair_images"]


_run_cache: dict = {}
EXAMPLES = 3  # example questions on an empty chat, from the Q&A set


NOT_FOUND_TIPS = (
    "Try other words, or name the document, product or team you mean. If the answer should be in your "
    "company's documents, ask your Docent administrator to add the document."
)


def render_meta(turn, extra: dict) -> None:
    conf_text, colour = confidence_label(turn.confidence, extra.get("band") or band(turn.confidence))
    if turn.abstained:  # a distinct state: no references, what to try instead
        st.markdown(f":orange-badge[:material/search_off: Not found in the documents] :{colour}-badge[{conf_text}]")
        st.caption(NOT_FOUND_TIPS)
        return
    route_colour = "violet" if turn.route == "finetuned" else "blue"
    st.markdown(f":{route_colour}-badge[{ROUTE_LABELS.get(turn.route, turn.route)}] :{colour}-badge[{conf_text}]")
    if extra.get("notice"):
        st.info(extra["notice"], icon="ℹ️")
    if turn.route == "finetuned" and turn.matched_question:
        st.caption(f"Matched question: {inline(turn.matched_question)}")
    elif turn.standalone_question and turn.standalone_question != turn.question:
        st.caption(f"Searched for: {inline(turn.standalone_question)}")
    images = extra.get("images")
    if images is None and turn.route == "finetuned" and turn.matched_question:
        images = pair_images().get(question_key(turn.matched_question), [])
    for name in images or []:
        path = _image_path(name)
        if path is not None:
            st.image(str(path), caption=inline(Path(name).name), width=360)
        else:
            st.caption(f"Image: {inline(name)}")
    if turn.references:
        lines = [f"{ref.number(i)}. {reference_line(ref)}" for i, ref in enumerate(turn.references, 1)]
        st.markdown("**References**\n\n" + "\n".join(lines))


def render_feedback(turn, feedback) -> None:
    key = f"thumbs_{turn.turn_id}"
    st.feedback(
        "thumbs",
        key=key,
        default=thumbs_widget_value(feedback, identity.user),
        on_change=_on_thumbs,
        args=(turn.turn_id,),
    )
    # the form starts from what this user already sent, so sending again revises it instead of resetting it
    mine = next((f for f in feedback if f.kind == "review" and f.reviewer == identity.user), None)
    label = "Your feedback (sent)" if mine else "Tell us more"
    with st.expander(label, icon=":material/edit_note:"):
        with st.form(f"more_{turn.turn_id}", clear_on_submit=False, border=False):
            severity = st.radio(
                "How bad is the problem?",
                ["none", "minor", "major"],
                index=["none", "minor", "major"].index(mine.severity or "none") if mine else 0,
                horizontal=True,
                key=f"more_sev_{turn.turn_id}",
            )
            likert = st.select_slider(
                "The answer is correct",
                options=[1, 2, 3, 4, 5],
                value=(mine.likert or 3) if mine else 3,
                format_func=likert_text,
                key=f"more_likert_{turn.turn_id}",
            )
            corrected = st.text_area(
                "What should the answer have been? (optional)",
                value=(mine.corrected_answer or "") if mine else "",
                key=f"more_fix_{turn.turn_id}",
            )
            comment = st.text_area(
                "Comment (optional)", value=(mine.comment or "") if mine else "", key=f"more_comment_{turn.turn_id}"
            )
            if st.form_submit_button("Send feedback"):
                thumbs_value = st.session_state.get(key)
                if severity == "none" and likert == 3 and not corrected.strip() and not comment.strip() and not mine:
                    st.warning(
                        "Nothing to send yet: say how bad the problem is, how far you agree that the answer is "
                        "correct, or write a correction or a comment.",
                        icon="✏️",
                    )
                    return
                with ui.guarded("Saving your feedback"):
                    outcome = save_review(
                        store,
                        turn,
                        identity.user,
                        severity=None if severity == "none" else severity,
                        likert=likert,
                        corrected_answer=corrected,
                        comment=comment,
                        thumbs=None if thumbs_value is None else (1 if thumbs_value == 1 else -1),
                        limits=review_limits(get_settings()),
                    )
                    st.success(f"Thank you, a reviewer will look at it. {outcome.saved}")
                    st.toast("Feedback sent: thank you.", icon=":material/check_circle:")  # seen above the chat input


top = st.columns([5, 1], vertical_alignment="bottom")
top[0].title("Ask Docent")
with top[1]:
    if st.button("Clear chat", icon=":material/delete_sweep:", help="Hide this conversation's history"):
        with ui.guarded("Clearing the chat"):
            store.clear_session(sid, identity.user)
            st.rerun()

turns = []
with ui.guarded("Loading this conversation"):
    flush_outbox(store)
    turns = store.session_turns(sid, identity.user)
if not turns:
    st.caption(
        "Ask about policies, procedures, products: Docent answers from your company's documents "
        "and shows where each answer comes from."
    )
    examples = []
    with ui.guarded("Loading example questions"):
        examples = [p.question for p in store.list_qa_pairs()[:EXAMPLES]]
    if examples:
        st.caption("For example:")
        for i, example in enumerate(examples):
            if st.button(inline(example), key=f"example_{i}", icon=":material/chat_bubble:"):
                st.session_state["pending_question"] = example

for turn in turns:
    with st.chat_message("user"):
        show_text(turn.question)
    with st.chat_message("assistant"):
        show_answer(turn.answer)
        render_meta(turn, extras.get(turn.turn_id, {}))
        with ui.guarded("Loading the ratings"):
            render_feedback(turn, store.feedback_for_turn(turn.turn_id))

question = st.chat_input("Ask a question about your company's documents") or st.session_state.pop(
    "pending_question", None
)
if question:
    with st.chat_message("user"):
        show_text(question)
    with st.chat_message("assistant"):
        status = st.empty()
        final: dict = {}
        session = ChatSession(get_chain(), store, sid, identity.user)

        def tokens():
            for event in session.ask(question):
                if event.kind == "route":
                    status.caption(
                        "Looking in the Q&A set…"
                        if event.data.get("route") == "finetuned"
                        else "Searching the documents…"
                    )
                elif event.kind == "token":
                    yield event.text
                elif event.kind == "final":
                    final["result"], final["turn_id"] = event.result, event.data.get("turn_id")

        try:
            shown, streamed = st.empty(), ""
            for text in tokens():  # rendered through the sanitiser as it streams (an answer may be a correction)
                if not streamed:
                    status.empty()  # the answer has started: the "Searching…" line goes
                streamed += text
                shown.markdown(safe_markdown(streamed))
        except InvalidQuestion as exc:
            status.empty()
            st.warning(str(exc), icon="✏️")
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            status.empty()
            ui.show_error(
                "Answering your question",
                exc,
                "Try again in a moment; if it keeps failing, tell your Docent administrator.",
            )
        else:
            result = final.get("result")
            if result is not None and final.get("turn_id"):
                extras[final["turn_id"]] = {
                    "notice": result.notice,
                    "images": list(result.images),
                    "band": result.confidence_band,
                }
                if session.last_save is not None and session.last_save.queued:
                    st.toast(session.last_save.message)
            st.rerun()
