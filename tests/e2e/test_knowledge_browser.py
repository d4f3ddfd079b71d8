"""The Knowledge page's uploads in a real browser (issue 12, item 3): upload A, remove it, upload B ->
A stays gone from the table and from answers; each upload shows its progress and the ingest report.
Needs /usr/bin/chromium (`make system-deps`) and the playwright package.
"""

from __future__ import annotations

import time

import pytest

from tests.fixtures.browser import app_server, chromium_page

# The first page load imports the models in the app's process: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

FILE_A = (
    "greenhouse.md",
    b"# Rooftop greenhouse\n\nThe rooftop greenhouse grows basil; volunteers water it on Fridays.\n",
)
FILE_B = ("chess-club.md", b"# Chess club\n\nThe chess club meets in room 4.12 every Tuesday at 17:30.\n")
QUESTION_A = "Who waters the rooftop greenhouse basil?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    with app_server(tmp_path_factory, minilm, "e2e-knowledge") as (base, root, _):
        yield base, root


@pytest.fixture
def page(server):
    with chromium_page() as page:
        yield page


def _open(page, name: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=heading).wait_for()


def _upload(page, name: str, data: bytes) -> str:
    """Upload one file from the first tab; returns the report shown once it is indexed."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Add documents").click()
    uploader = page.get_by_label("Documents", exact=True)  # not the Q&A tab's uploader
    uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        {"name": name, "mimeType": "text/markdown", "buffer": data}
    )
    chip = uploader.get_by_test_id("stFileChip").filter(has_text=name)
    chip.wait_for()
    expect(chip.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)  # the file reached the server
    page.get_by_role("button", name="Upload and index").click()
    report = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Indexed:")
    expect(report).to_be_visible(timeout=240_000)
    bar = page.get_by_test_id("stProgress")
    expect(bar).to_contain_text("Done: 1 of 1 files")  # the bar stays, full, with the run's figures
    return report.inner_text()


def _settled(page) -> None:
    """Streamlit has finished its run: no stale copy of a widget is left beside the new one."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)


def _index_sources(page, present: tuple[str, ...] = (), absent: tuple[str, ...] = ()) -> list[str]:
    """The sources the Index tab offers to remove, once they hold `present` and lack `absent` (or after a
    minute): on a loaded machine a run's report can show while the same run still draws the Index tab,
    its previous selectbox on screen until then."""
    deadline = time.monotonic() + 60
    while True:
        names = _read_index_sources(page)
        done = all(n in names for n in present) and not any(n in names for n in absent)
        if done or time.monotonic() > deadline:
            return names
        page.wait_for_timeout(2_000)


def _read_index_sources(page) -> list[str]:
    from playwright.sync_api import expect

    _settled(page)
    page.get_by_role("tab", name="Index").click()
    page.get_by_test_id("stDataFrame").first.wait_for()
    _settled(page)
    remove = page.get_by_test_id("stSelectbox").filter(has_text="Remove a document")
    expect(remove).to_have_count(1, timeout=120_000)  # a rerun's stale copy has gone
    remove.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [o.strip() for o in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def test_a_removed_upload_stays_gone_after_the_next_upload(server, page):
    from playwright.sync_api import expect

    base, _ = server
    page.goto(base + "/", timeout=60_000)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)  # first start loads the models
    _open(page, "Knowledge", "Knowledge base")

    # 1. upload A: a progress bar, then the report `docent ingest` prints
    report = _upload(page, *FILE_A)
    assert "1 added" in report and "chunks embedded in" in report and "embedding" in report
    assert FILE_A[0] in _index_sources(page, present=(FILE_A[0],))

    # 2. remove A (index entries and the uploaded file)
    _settled(page)
    remove = page.get_by_test_id("stSelectbox").filter(has_text="Remove a document")
    expect(remove).to_have_count(1, timeout=120_000)  # a rerun's stale copy has gone
    remove.click()
    page.get_by_role("option", name=FILE_A[0], exact=True).click()
    page.get_by_text("Yes, remove it from the index").click()
    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_text("deleted its uploaded file")).to_be_visible()
    assert FILE_A[0] not in _index_sources(page, absent=(FILE_A[0],))

    # 3. upload B: A does not come back, in the table or in answers
    report = _upload(page, *FILE_B)
    assert "1 added, 0 updated, 0 unchanged" in report  # only B was indexed
    sources = _index_sources(page, present=(FILE_B[0],), absent=(FILE_A[0],))
    assert FILE_B[0] in sources and FILE_A[0] not in sources

    _open(page, "Chat", "Ask Docent")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION_A)
    box.press("Enter")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_label("Thumbs down").wait_for(timeout=240_000)  # shown once the answer is complete
    text = answer.inner_text()
    assert "Fridays" not in text and FILE_A[0] not in text
    assert answer.locator(f'a[href*="{FILE_A[0]}"]').count() == 0
