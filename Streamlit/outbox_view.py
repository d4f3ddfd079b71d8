"""The admin's view of the outbox (issue 11): writes waiting for the DynamoDB store, and dead ones.

A dead entry was refused by the store for good (e.g. feedback on a turn it does not hold). Before,
it sat in a list nothing showed; here an admin sees why, and replays or discards it (the same as
`docent stores outbox`).
"""

from __future__ import annotations

import streamlit as st
from safe_text import inline


def render_outbox(store) -> None:
    if not hasattr(store, "entries"):
        st.info("This store (SQLite) writes directly: nothing is ever queued.", icon="✅")
        return
    entries = store.entries()
    dead = [e for e in entries if e.dead]
    waiting = len(entries) - len(dead)
    st.caption(
        f"{waiting} waiting for delivery, {len(dead)} refused by the store (dead). "
        "The command line has the same: `docent stores outbox`."
    )
    if entries:
        st.dataframe(
            [
                {
                    "#": e.seq,
                    "state": "dead" if e.dead else "waiting",
                    "queued": e.enqueued_at[:19],
                    "tries": e.attempts,
                    "what": e.summary,
                    "reason": e.last_error,
                }
                for e in entries
            ],
            hide_index=True,
            width="stretch",
        )
    if not dead:
        return
    with st.form("outbox_dead"):
        chosen = st.multiselect(
            "Dead entries",
            [e.seq for e in dead],
            default=[e.seq for e in dead],
            format_func=lambda seq: f"#{seq}",
            key="outbox_chosen",
        )
        replay, discard = st.columns(2)
        do_replay = replay.form_submit_button(
            "Replay", type="primary", help="Deliver them again (after fixing the reason shown)"
        )
        do_discard = discard.form_submit_button("Discard", help="Delete them for good")
    if do_replay and chosen:
        report = store.replay(chosen)
        st.success(f"Delivered {report.delivered}; {report.pending} still waiting; {report.failed} refused again.")
    elif do_discard and chosen:
        st.success(f"Discarded {store.discard(chosen)} entr{'y' if len(chosen) == 1 else 'ies'}.")
    for entry in dead:
        with st.expander(f"#{entry.seq} · {inline(entry.op)} · {inline(entry.summary, max_chars=80)}"):
            st.json(entry.payload, expanded=False)
