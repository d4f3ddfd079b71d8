"""The Chat page's finished turn under AppTest (issue 12): it arrives with the answer, in the same run,
with Copy, Regenerate and Edit, and a live region that says an answer arrived."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.app_corpus import AppBackend, app_test, install

pytestmark = pytest.mark.slow  # builds a small index with the real MiniLM once per module


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("chat-actions") / "data", minilm)


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    return app_test()


def _text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [t.value for t in at.get("text")])


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _turns(at, backend):
    sid = at.query_params["s"]
    return backend.store.session_turns(sid[0] if isinstance(sid, list) else sid, "local")


def _components(at, name: str) -> list[dict]:
    return [json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name == name]


def _keys(at, prefix: str) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(prefix)]


def test_the_finished_turn_is_drawn_in_the_answering_run_without_a_rerun(at, backend, monkeypatch):
    import streamlit

    reruns = []
    monkeypatch.setattr(streamlit, "rerun", lambda *a, **k: reruns.append(1))  # a rerun would be recorded here
    at.run()
    _ask(at, "How do I book annual leave?")
    assert reruns == []
    (turn,) = _turns(at, backend)
    text = _text(at)
    assert "Answered from the documents" in text and "confidence ·" in text
    assert "(<https://docs.example.com/kb/leave-policy.md#" in text  # the references, in this run
    assert at.feedback(key=f"thumbs_{turn.turn_id}") is not None  # the rating controls, in this run
    assert f"regen_{turn.turn_id}" in _keys(at, "regen_")
    # the answer is drawn once: the streamed text became the saved answer, not a second copy of it
    assert sum(turn.answer[:40] in m.value for m in at.markdown) == 1


def test_a_rating_given_right_after_the_answer_is_saved(at, backend):
    at.run()
    _ask(at, "How many leave days carry over?")
    (turn,) = _turns(at, backend)
    at.feedback(key=f"thumbs_{turn.turn_id}").set_value(1).run()  # the next run draws the turn from the store
    assert not at.exception
    assert [(f.kind, f.thumbs) for f in backend.store.feedback_for_turn(turn.turn_id)] == [("thumbs", 1)]


def test_every_answer_has_a_copy_button_with_its_text_as_data(at, backend):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    _ask(at, "How do I reset my password?")
    turns = _turns(at, backend)
    copies = _components(at, "docent_copy_answer")
    assert [c["text"] for c in copies] == [t.answer for t in turns]


def test_regenerate_and_edit_are_offered_on_the_newest_turn_only(at, backend):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    _ask(at, "Who approves my leave request?")
    first, second = _turns(at, backend)
    assert _keys(at, "regen_") == [f"regen_{second.turn_id}"]
    assert _keys(at, "edit_") == [f"edit_{second.turn_id}"]


def test_regenerate_asks_the_same_question_again_and_keeps_the_old_turn(at, backend):
    at.run()
    _ask(at, "Who issues parking permits?")
    (old,) = _turns(at, backend)
    at.button(key=f"regen_{old.turn_id}").click().run()
    assert not at.exception, at.exception
    turns = _turns(at, backend)
    assert [t.question for t in turns] == ["Who issues parking permits?"] * 2
    assert turns[0].turn_id == old.turn_id  # kept for reviewers
    assert _keys(at, "regen_") == [f"regen_{turns[1].turn_id}"]
    assert "Facilities" in _text(at)


def test_edit_puts_the_question_in_a_box_and_sends_the_edited_one_as_a_new_turn(at, backend):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    (old,) = _turns(at, backend)
    at.button(key=f"edit_{old.turn_id}").click().run()
    box = at.text_area(key=f"edit_text_{old.turn_id}")
    assert box.value == "Where do I get a parking permit?"
    box.input("How much does a parking permit cost?")
    at.button[[b.label for b in at.button].index("Send")].click().run()
    assert not at.exception, at.exception
    assert [t.question for t in _turns(at, backend)] == [
        "Where do I get a parking permit?",
        "How much does a parking permit cost?",
    ]
    assert not [t for t in at.text_area if t.key and t.key.startswith("edit_text_")]  # the box closed
    assert "30 EUR" in _text(at)


def test_an_emptied_edit_is_not_sent_and_cancel_closes_the_box(at, backend):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    (old,) = _turns(at, backend)
    at.button(key=f"edit_{old.turn_id}").click().run()
    at.text_area(key=f"edit_text_{old.turn_id}").input("   ")
    at.button[[b.label for b in at.button].index("Send")].click().run()
    assert any("Write a question to send" in w.value for w in at.warning)
    assert len(_turns(at, backend)) == 1
    at.button[[b.label for b in at.button].index("Cancel")].click().run()
    assert not [t for t in at.text_area if t.key and t.key.startswith("edit_text_")]
    assert len(_turns(at, backend)) == 1


def test_the_live_region_says_answer_ready_or_not_found_once_per_answer(at, backend):
    at.run()
    assert _components(at, "docent_announce") == [{"message": "", "key": ""}]  # mounted before any answer
    _ask(at, "How do I book annual leave?")
    (turn,) = _turns(at, backend)
    assert _components(at, "docent_announce") == [{"message": "Answer ready", "key": turn.turn_id}]
    _ask(at, "Which Kubernetes ingress controller does Databricks Unity Catalog need?")
    assert _components(at, "docent_announce")[0]["message"] == "Not found in the documents"
    at.run()  # a later run (a rating, a click) says nothing new
    assert _components(at, "docent_announce") == [{"message": "", "key": ""}]
