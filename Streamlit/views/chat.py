"""Chat: ask, watch the answer stream in, check its references, rate it."""

from __future__ import annotations

import uuid
from pathlib import Path

import conversations_view
import streamlit as st
import ui
from actions import (
    ROUTE_LABELS,
    confidence_label,
    flush_outbox,
    likert_text,
    review_limits,
    save_review,
    save_thumbs,
    thumbs_widget_value,
)
from chat_widgets import announce, copy_button
from resources import get_chain, get_index, get_settings, get_store
from safe_text import inline, safe_markdown, show_answer, show_text
from source_view import render_references

from chain.confidence import band
from chain.pipeline import InvalidQuestion
from feedback.records import question_key
from feedback.session import ChatSession, turn_from_result

identity = ui.require("chat")
store = get_store()
shared_token = st.query_params.get("share")  # a read-only share link (conversations_view.render_shared)
sid = "" if shared_token else ui.session_id(store, identity.user)
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
    if turn.references:  # [n] buttons that open the cited passage (Streamlit/source_view.py)
        render_references(turn, get_index)


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
    # keyed and tracked: the turn is drawn under the stream in the answering run and in the history afterwards,
    # so without a key the next run would draw a new, closed expander and hide the form and its confirmation
    with st.expander(label, icon=":material/edit_note:", key=f"more_open_{turn.turn_id}", on_change="rerun"):
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


def _queue_question(text: str) -> None:
    """Ask `text` in this run, as the chat input would (example questions, Regenerate, Edit)."""
    st.session_state["pending_question"] = text
    st.session_state.pop("editing_turn", None)


def _toggle_edit(turn_id: str) -> None:
    editing = st.session_state.get("editing_turn") == turn_id
    st.session_state["editing_turn"] = None if editing else turn_id


def _send_edit(turn_id: str) -> None:
    edited = (st.session_state.get(f"edit_text_{turn_id}") or "").strip()
    if edited:
        _queue_question(edited)
    else:
        st.session_state["edit_empty"] = True


def _cancel_edit() -> None:
    st.session_state.pop("editing_turn", None)


def render_turn_actions(turn, latest: bool) -> None:
    """Copy on every answer; Regenerate and Edit on the newest one only.

    Both ask a new turn at the bottom and the earlier one stays for reviewers, so offering them on an older
    turn would put its new answer under later ones, out of the order the conversation (the chain's context)
    was asked in; most chat products do the same."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key=f"actions_{turn.turn_id}"):
        copy_button(turn.answer, key=f"copy_{turn.turn_id}")
        if latest:
            st.button(
                "Regenerate",
                key=f"regen_{turn.turn_id}",
                icon=":material/refresh:",
                type="tertiary",
                help="Ask the same question again; this answer stays in the conversation",
                on_click=_queue_question,
                args=(turn.question,),
            )
            st.button(
                "Edit question",
                key=f"edit_{turn.turn_id}",
                icon=":material/edit:",
                type="tertiary",
                help="Change the question and ask it again; this answer stays in the conversation",
                on_click=_toggle_edit,
                args=(turn.turn_id,),
            )
    if latest and st.session_state.get("editing_turn") == turn.turn_id:
        with st.form(f"edit_form_{turn.turn_id}", border=True):
            st.text_area("Your question", value=turn.question, key=f"edit_text_{turn.turn_id}")
            if st.session_state.pop("edit_empty", False):
                st.warning("Write a question to send, or cancel.", icon="✏️")
            with st.container(horizontal=True, gap="small"):
                st.form_submit_button("Send", type="primary", on_click=_send_edit, args=(turn.turn_id,))
                st.form_submit_button("Cancel", on_click=_cancel_edit)


def _shared_turn(turn) -> None:
    with st.chat_message("user"):
        show_text(turn.question)
    with st.chat_message("assistant"):
        show_answer(turn.answer)
        render_meta(turn, {})


if shared_token:
    conversations_view.render_shared(store, shared_token, _shared_turn)
    st.stop()

top = st.columns([1, 1], vertical_alignment="bottom")
top[0].title("Ask Docent")
actions_slot = top[1].container()  # filled at the end: a conversation begun by this run's question has them too

turns = []
with ui.guarded("Loading this conversation"):
    flush_outbox(store)
    turns = store.session_turns(sid, identity.user)
# read before the page is drawn: a question being asked in this run is the chat's newest turn (no example
# questions above it, no Regenerate on the turn before it); the input itself is pinned to the bottom
question = st.chat_input("Ask a question about your company's documents") or st.session_state.pop(
    "pending_question", None
)
if not turns and not question:
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
            st.button(
                inline(example),
                key=f"example_{i}",
                icon=":material/chat_bubble:",
                on_click=_queue_question,
                args=(example,),
            )

for turn in turns:
    with st.chat_message("user"):
        show_text(turn.question)
    with st.chat_message("assistant"):
        show_answer(turn.answer)
        render_meta(turn, extras.get(turn.turn_id, {}))
        render_turn_actions(turn, latest=turn is turns[-1] and not question)
        with ui.guarded("Loading the ratings"):
            render_feedback(turn, store.feedback_for_turn(turn.turn_id))

announcement: tuple[str, str] | None = None  # (what a screen reader hears, once per key)
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
            announcement = (str(exc), uuid.uuid4().hex)
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            status.empty()
            ui.show_error(
                "Answering your question",
                exc,
                "Try again in a moment; if it keeps failing, tell your Docent administrator.",
            )
            announcement = ("Docent could not answer: the message on the page says what to do.", uuid.uuid4().hex)
        else:
            result = final.get("result")
            if result is not None and final.get("turn_id"):
                turn_id = final["turn_id"]
                extras[turn_id] = {
                    "notice": result.notice,
                    "images": list(result.images),
                    "band": result.confidence_band,
                }
                # the finished turn is drawn in this run, under the streamed text, as the next run will draw it
                # from the store (same widget keys), so no rerun is needed and nothing slow is done twice
                turn = turn_from_result(result, sid, identity.user, turn_id)
                shown.markdown(safe_markdown(turn.answer))
                render_meta(turn, extras[turn_id])
                render_turn_actions(turn, latest=True)
                with ui.guarded("Showing the ratings"):
                    render_feedback(turn, [])
                announcement = ("Not found in the documents" if turn.abstained else "Answer ready", turn_id)
                if session.last_save is not None and session.last_save.queued:
                    st.toast(session.last_save.message)
announce(*(announcement or (None, None)))

with actions_slot, ui.guarded("Loading this conversation's actions"):
    conversations_view.render_actions(store, sid, identity.user)
