"""The Chat page under AppTest: streaming answer, references, history by ?s=, ratings, errors."""

from __future__ import annotations

import pytest

from tests.fixtures.app_corpus import AppBackend, app_test, install

pytestmark = pytest.mark.slow  # builds a small index with the real MiniLM once per module


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("chat") / "data", minilm)


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    return app_test()


def _markdown(at) -> str:
    """What the page shows: Markdown plus plain text (questions are shown with st.text, issue 11)."""
    return "\n".join([m.value for m in at.markdown] + [t.value for t in at.get("text")])


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _ask_for_turn(at, backend, question: str):
    """Ask on a fresh page; returns the saved turn (the page's conversation is in ?s=)."""
    at.run()
    _ask(at, question)
    sid = at.query_params["s"]
    sid = sid[0] if isinstance(sid, list) else sid
    return sid, backend.store.session_turns(sid, "local")[-1]


def test_first_visit_shows_local_identity_and_a_session_id(at):
    at.run()
    assert not at.exception
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Running as the local user with every role (embedded default)" in captions
    assert len(at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]) >= 8


def test_answer_streams_with_route_confidence_and_links(at, backend):
    at.run()
    _ask(at, "How do I book annual leave?")
    text = _markdown(at)
    assert "Workday" in text
    assert "Answered from the documents" in text
    assert "confidence ·" in text and "%" in text
    assert "(<https://docs.example.com/kb/leave-policy.md#" in text  # a clickable deep link
    sid = at.query_params["s"]
    sid = sid[0] if isinstance(sid, list) else sid
    turns = backend.store.session_turns(sid, "local")
    assert [t.question for t in turns] == ["How do I book annual leave?"]


def test_history_survives_a_reload_via_query_param(at, backend, monkeypatch):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    sid = at.query_params["s"]
    sid = sid[0] if isinstance(sid, list) else sid
    again = app_test()
    again.query_params["s"] = sid
    again.run()
    assert "Where do I get a parking permit?" in _markdown(again)
    fresh = app_test()
    fresh.run()
    assert "Where do I get a parking permit?" not in _markdown(fresh)


def test_qa_pair_answer_shows_matched_question(at):
    at.run()
    _ask(at, "How do I reset my password?")
    text = _markdown(at)
    assert "Answered from the Q&A set" in text
    assert "id.example.com" in text
    assert any("Matched question" in c.value for c in at.caption)


def test_thumbs_and_tell_us_more_are_saved(at, backend):
    _, turn = _ask_for_turn(at, backend, "How many leave days carry over?")
    at.feedback(key=f"thumbs_{turn.turn_id}").set_value(0).run()
    saved = backend.store.feedback_for_turn(turn.turn_id)
    assert [(f.kind, f.thumbs) for f in saved] == [("thumbs", -1)]
    at.radio(key=f"more_sev_{turn.turn_id}").set_value("major")
    at.select_slider(key=f"more_likert_{turn.turn_id}").set_value(2)
    at.text_area(key=f"more_fix_{turn.turn_id}").input("Five days carry over until 31 March.")
    at.text_area(key=f"more_comment_{turn.turn_id}").input("Missing the expiry date")
    at.button[[b.label for b in at.button].index("Send feedback")].click().run()
    assert not at.exception
    assert any("Thank you" in s.value for s in at.success)
    review = [f for f in backend.store.feedback_for_turn(turn.turn_id) if f.kind == "review"][0]
    assert (review.severity, review.likert, review.thumbs) == ("major", 2, -1)
    assert review.corrected_answer == "Five days carry over until 31 March."
    assert review.approved is False


def test_over_long_question_is_refused_with_its_message(at):
    at.run()
    _ask(at, "why " * 600)
    assert any("limit is" in w.value for w in at.warning)
    assert not at.error


def test_backend_failure_is_a_short_error_not_a_traceback(at, backend, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the index file is locked")
        yield  # pragma: no cover

    monkeypatch.setattr(backend.chain, "answer", broken)
    at.run()
    _ask(at, "How do I book annual leave?")
    assert any("Answering your question failed" in e.value and "locked" in e.value for e in at.error)


def test_delete_chat_hides_only_this_session(at, backend):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    sid = at.query_params["s"]
    sid = sid[0] if isinstance(sid, list) else sid
    at.button[[b.label for b in at.button].index("Delete")].click().run()
    assert backend.store.session_turns(sid, "local") == []
    assert len(backend.store.list_turns()) >= 1  # kept for review and export


def test_images_of_a_qa_pair_are_shown(at, backend, tmp_path):
    from PIL import Image

    from feedback.records import QAPair

    picture = tmp_path / "vpn-steps.png"
    Image.new("RGB", (8, 8), "blue").save(picture)
    backend.store.add_qa_pairs(
        [
            QAPair.new(
                "How do I install the VPN client on Windows?",
                "Run the installer from the Software Center.",
                images=[str(picture)],
            )
        ]
    )
    at.run()
    _ask(at, "How do I install the VPN client on Windows?")
    assert len(at.get("image")) == 1
    sid = at.query_params["s"]
    again = app_test()
    again.query_params["s"] = sid[0] if isinstance(sid, list) else sid
    again.run()  # a later visit finds the images through the matched question
    assert len(again.get("image")) == 1


def test_the_tab_keeps_its_chat_across_pages_and_new_chat_starts_over(at):
    at.run()
    _ask(at, "Where do I get a parking permit?")
    at.switch_page("views/review.py").run()
    at.switch_page("views/chat.py").run()
    assert "Where do I get a parking permit?" in _markdown(at)
    at.sidebar.button[0].click().run()
    assert "Where do I get a parking permit?" not in _markdown(at)


def test_a_fallback_notice_is_shown(at, backend, monkeypatch):
    monkeypatch.setattr(backend.chain, "notice", "The local model could not be loaded; answering extractively.")
    at.run()
    _ask(at, "Who issues parking permits?")
    assert any("could not be loaded" in i.value for i in at.info)


def test_a_backend_that_cannot_start_is_a_short_error(backend, monkeypatch):
    install(monkeypatch, backend)
    import resources

    def broken():
        raise RuntimeError("DOCENT_OPENSEARCH_URL https://search.example.com refused the connection")

    monkeypatch.setattr(resources, "get_chain", broken)
    at = app_test()
    at.run()
    assert not at.exception
    assert any("Starting Docent failed" in e.value and "refused" in e.value for e in at.error)
    assert not at.chat_input


def test_an_answer_not_found_is_its_own_state_without_references(at):
    at.run()
    _ask(at, "Which Kubernetes ingress controller does Databricks Unity Catalog need?")
    text = _markdown(at)
    assert "Not found in the documents" in text
    assert "Answered from the documents" not in text and "**References**" not in text
    assert any("ask your Docent administrator to add the document" in c.value for c in at.caption)


def test_an_empty_chat_offers_example_questions_that_ask_when_clicked(at, backend):
    at.run()
    examples = [b for b in at.button if b.key and b.key.startswith("example_")]
    pairs = [p.question for p in backend.store.list_qa_pairs()[:3]]
    assert examples and [b.label for b in examples] == pairs  # (no Markdown characters in these)
    examples[0].click().run()
    assert not at.exception, at.exception
    text = _markdown(at)
    assert "Answered from the Q&A set" in text
    assert not [b for b in at.button if b.key and b.key.startswith("example_")]  # the chat is no longer empty


def test_empty_feedback_is_refused_and_sent_feedback_is_shown_again(at, backend):
    sid, turn = _ask_for_turn(at, backend, "Who approves my leave request?")
    at.button[[b.label for b in at.button].index("Send feedback")].click().run()
    assert any("Nothing to send yet" in w.value for w in at.warning)
    assert backend.store.feedback_for_turn(turn.turn_id) == []

    at.radio(key=f"more_sev_{turn.turn_id}").set_value("minor")
    at.text_area(key=f"more_comment_{turn.turn_id}").input("Name the manager's deputy too")
    at.button[[b.label for b in at.button].index("Send feedback")].click().run()
    assert any("Thank you" in s.value for s in at.success)
    again = app_test()  # a reload: the form shows what was sent, so sending again cannot reset it
    again.query_params["s"] = sid
    again.run()
    assert again.radio(key=f"more_sev_{turn.turn_id}").value == "minor"
    assert again.text_area(key=f"more_comment_{turn.turn_id}").value == "Name the manager's deputy too"
    assert any(e.label == "Your feedback (sent)" for e in again.expander)
