"""The Analytics page under AppTest: filters, charts, tables and every export format."""

from __future__ import annotations

import io

import pytest

from feedback.records import Feedback, Turn
from tests.fixtures.app_corpus import APP_DIR, AppBackend, app_test, install

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    backend = AppBackend(tmp_path_factory.mktemp("analytics") / "data", minilm)
    store = backend.store
    for i, (route, thumbs, severity) in enumerate([("rag", 1, None), ("rag", -1, "major"), ("finetuned", -1, "minor")]):
        turn = Turn.new(
            session_id="s-analytics",
            user="ana@corp.com",
            question=f"question {i}?",
            answer=f"answer {i}",
            route=route,
            confidence=0.3 + 0.2 * i,
        )
        store.save_turn(turn)
        store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="ana@corp.com", kind="thumbs", thumbs=thumbs))
        if severity:
            store.save_feedback(
                Feedback.new(
                    turn_id=turn.turn_id,
                    reviewer="bo@corp.com",
                    kind="review",
                    severity=severity,
                    likert=2,
                    comment="wrong",
                )
            )
    return backend


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    at = app_test()
    at.run()
    at.switch_page("views/analytics.py").run()
    assert not at.exception, at.exception
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_metrics_charts_and_table(at):
    assert _metric(at, "Ratings") == "5"
    assert _metric(at, "Thumbs down") == "2"
    assert len(at.get("vega_lite_chart")) == 6  # questions per day, four of the ratings, the reliability diagram
    assert len(at.dataframe[-1].value) == 5  # the feedback table, last on the page


def test_usage_counts_questions_users_and_the_thumbs_down(at):
    assert (_metric(at, "Questions"), _metric(at, "Active users")) == ("3", "1")
    assert _metric(at, "Not found in the documents") == "0%"
    by_route = at.dataframe[0].value
    assert sorted(by_route["Answered from"]) == ["Documents", "Q&A set"]
    thumbs_down = at.dataframe[1].value
    assert sorted(thumbs_down["Question"]) == ["question 1?", "question 2?"]


def test_filters_narrow_the_feedback(at):
    at.selectbox(key="an_route").set_value("finetuned").run()
    assert _metric(at, "Ratings") == "2"
    at.selectbox(key="an_route").set_value("any")
    at.selectbox(key="an_severity").set_value("major").run()
    assert _metric(at, "Ratings") == "1"
    at.selectbox(key="an_severity").set_value("any")
    at.selectbox(key="an_reviewer").set_value("ana@corp.com")
    at.selectbox(key="an_rating").set_value("thumbs up").run()
    assert _metric(at, "Ratings") == "1"


def test_every_export_format_is_offered_and_readable(at, backend, monkeypatch):
    import pandas as pd

    buttons = {b.key for b in at.get("download_button")}
    for what in ("feedback", "turns", "finetune"):
        for fmt in ("csv", "xlsx", "parquet", "jsonl"):
            assert f"dl_{what}_{fmt}" in buttons
    monkeypatch.syspath_prepend(str(APP_DIR))
    from actions import export_bytes

    readers = {
        "csv": pd.read_csv,
        "xlsx": pd.read_excel,
        "parquet": pd.read_parquet,
        "jsonl": lambda b: pd.read_json(b, lines=True),
    }
    for fmt, read in readers.items():
        frame = read(io.BytesIO(export_bytes(backend.store, "feedback", fmt)))
        assert len(frame) == 5 and {"thumbs", "severity", "question"} <= set(frame.columns)
    finetune = pd.read_csv(io.BytesIO(export_bytes(backend.store, "finetune", "csv")))
    assert list(finetune.columns[:2]) == ["instruction", "response"] and len(finetune) == 2


def test_a_failed_download_is_explained_on_the_page(at, monkeypatch):
    """Issue 11: a download built on click that fails used to do nothing visible; the reason now shows."""
    import actions
    from streamlit.runtime.media_file_manager import MediaFileManager

    from feedback.export import ExportError

    deferred: dict[str, object] = {}
    real = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        deferred[file_name] = data_callable
        return real(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    def disk_full(*args, **kwargs):
        raise ExportError(
            "could not write the xlsx export to /tmp/x.xlsx (No space left on device); nothing was written."
        )

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    monkeypatch.setattr(actions, "export_bytes", disk_full)
    at.run()
    [click] = [fn for name, fn in deferred.items() if name.startswith("docent-feedback") and name.endswith(".xlsx")]
    with pytest.raises(ExportError):
        click()  # what Streamlit runs when the button is clicked
    at.run()
    errors = [e.value for e in at.error]
    assert any("feedback XLSX export failed" in e and "No space left on device" in e for e in errors)
    at.run()
    assert not any("export failed" in e.value for e in at.error)  # said once


def test_the_reliability_diagram_judges_the_confidence_shown_by_the_ratings(at):
    # two reviews rated 2 (wrong) of answers shown at 0.5 and 0.7: the shown confidence overstates by 0.6
    assert _metric(at, "Calibration error (ECE)") == "0.60"
    assert any("2 rated answers" in c.value for c in at.caption)


def test_exports_follow_the_filters_on_screen(at, backend, monkeypatch):
    import pandas as pd

    monkeypatch.syspath_prepend(str(APP_DIR))
    from actions import export_bytes, export_filter, feedback_frame, filter_feedback

    def read(what, keep):
        return pd.read_csv(io.BytesIO(export_bytes(backend.store, what, "csv", keep=keep)))

    finetuned = read("feedback", export_filter("feedback", route="finetuned"))
    assert len(finetuned) == 2 and set(finetuned["route"]) == {"finetuned"}
    majors = read("feedback", export_filter("feedback", severity="major"))
    assert list(majors["severity"]) == ["major"]
    # conversations: the route, and with a feedback filter only the answers that feedback judges
    assert set(read("turns", export_filter("turns", route="rag"))["route"]) == {"rag"}
    view = filter_feedback(feedback_frame(backend.store), severity="major")
    judged = read("turns", export_filter("turns", severity="major", feedback_view=view))
    assert list(judged["question"]) == ["question 1?"]
    assert export_filter("finetune", route="rag") is None  # the Q&A set has no routes or ratings


def test_an_export_with_no_rows_keeps_its_header_and_times_are_typed(backend, monkeypatch, tmp_path):
    import openpyxl
    import pyarrow.parquet as pq

    monkeypatch.syspath_prepend(str(APP_DIR))
    from actions import export_bytes, export_filter

    nothing = export_bytes(backend.store, "turns", "csv", keep=export_filter("turns", route="nowhere"))
    assert nothing.decode("utf-8").splitlines()[0].startswith("turn_id,session_id,user,created_at,question")
    empty_feedback = export_bytes(backend.store, "feedback", "csv", since="2001-01-01", until="2001-01-02")
    assert empty_feedback.decode("utf-8").splitlines() == [empty_feedback.decode("utf-8").splitlines()[0]]
    assert "reviewer" in empty_feedback.decode("utf-8")

    (tmp_path / "f.parquet").write_bytes(export_bytes(backend.store, "feedback", "parquet"))
    schema = pq.read_schema(tmp_path / "f.parquet")
    assert str(schema.field("created_at").type).startswith("timestamp") and "UTC" in str(
        schema.field("created_at").type
    )
    (tmp_path / "f.xlsx").write_bytes(export_bytes(backend.store, "feedback", "xlsx"))
    sheet = openpyxl.load_workbook(tmp_path / "f.xlsx").active
    header = [c.value for c in sheet[1]]
    from datetime import datetime

    assert isinstance(sheet.cell(row=2, column=header.index("created_at") + 1).value, datetime)
