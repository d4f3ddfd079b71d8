"""Issue 12 in a real browser: the feedback form shows what was sent, the Analytics exports hold exactly the
rows the filters show, the logo reads on the dark theme, and the sidebar gets out of the way on a phone.

Needs /usr/bin/chromium (`make system-deps`) and the playwright package. The Analytics data is seeded through
the store API; the browser is kept for what each test is about.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, app_server

# The first page load imports the models in the app's process: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

QUESTION = "How do I book annual leave?"
CORRECTION = "Book annual leave in Workday under Time Off at least four weeks ahead."
COMMENT = "The lead time changed in March."
TODAY = date.today()  # the app's "today" too: it runs on this machine

# Seeded feedback for the Analytics page: (label, route, days ago, reviewer, severity, thumbs).
SEEDS = [
    ("A", "rag", 2, "bo@corp.example", "major", -1),
    ("B", "rag", 3, "cy@corp.example", "minor", -1),
    ("C", "finetuned", 2, "bo@corp.example", "major", None),
    ("D", "rag", 4, "bo@corp.example", "minor", 1),
    ("F", "finetuned", 5, "cy@corp.example", None, 1),
    ("G", "rag", 8, "bo@corp.example", "major", -1),  # inside the default 30 days, outside the chosen dates
    ("E", "rag", 45, "bo@corp.example", "major", -1),  # outside both
]
WINDOW = (TODAY - timedelta(days=5), TODAY - timedelta(days=2))


def _seed_question(label: str) -> str:
    return f"Seeded question {label}: how do I renew my badge?"


def _seed(settings) -> None:
    from feedback.factory import open_store
    from feedback.records import Feedback, Turn

    store = open_store(settings)
    try:
        for label, route, days_ago, reviewer, severity, thumbs in SEEDS:
            at = datetime.combine(TODAY - timedelta(days=days_ago), time(12), tzinfo=UTC)  # midday: no edge
            turn = Turn.new(
                session_id=f"seeded-session-{label}",
                user="ana@corp.example",
                question=_seed_question(label),
                answer=f"Seeded answer {label}.",
                route=route,
                confidence=0.6,
                created_at=at,
            )
            store.save_turn(turn)
            store.save_feedback(
                Feedback.new(
                    turn_id=turn.turn_id,
                    reviewer=reviewer,
                    kind="review",
                    severity=severity,
                    thumbs=thumbs,
                    likert=2,
                    comment=f"seed {label}",
                    created_at=at,
                    updated_at=at,
                )
            )
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    with app_server(tmp_path_factory, minilm, "e2e-review-export", seed=_seed) as (base, _, settings):
        yield base, settings


@pytest.fixture
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield pw, browser
        browser.close()


def _page(browser, **context):
    pw, chromium = browser
    options = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True} | context
    page = chromium.new_context(**options).new_page()
    page.set_default_timeout(120_000)  # a hang guard: a loaded 2-core machine took minutes per step
    return page


def _settled(page) -> None:
    """Streamlit has finished this run (the running indicator is gone)."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


# --- 1. the feedback form shows its saved state ---------------------------------------------------


SENT = ("major", 2, CORRECTION, COMMENT, -1)  # severity, Likert, correction, comment, thumbs


def _review_of(store, turn_id: str):
    return next(f for f in store.feedback_for_turn(turn_id) if f.kind == "review")


def _values(feedback) -> tuple:
    return (feedback.severity, feedback.likert, feedback.corrected_answer, feedback.comment, feedback.thumbs)


def test_feedback_form_shows_and_keeps_what_was_sent(server, browser):
    from playwright.sync_api import expect

    from feedback.factory import open_store

    base, settings = server
    page = _page(browser)
    page.goto(base + "/", timeout=60_000)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)  # first start loads the models
    page.get_by_test_id("stChatInputTextArea").fill(QUESTION)
    page.get_by_test_id("stChatInputTextArea").press("Enter")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("References").wait_for(timeout=240_000)

    answer.get_by_label("Thumbs down").click()
    page.get_by_text("Thanks for rating").wait_for()
    answer.get_by_text("Tell us more").click()
    answer.get_by_text("major", exact=True).click()
    slider = answer.get_by_role("slider")
    slider.focus()
    slider.press("ArrowLeft")  # 3 -> 2
    expect(slider).to_have_attribute("aria-valuetext", "2 · disagree")
    answer.get_by_label("What should the answer have been? (optional)").fill(CORRECTION)
    answer.get_by_label("Comment (optional)").fill(COMMENT)
    answer.get_by_role("button", name="Send feedback").click()
    page.get_by_text("Thank you, a reviewer will look at it").wait_for()
    _settled(page)

    sid = parse_qs(urlparse(page.url).query)["s"][0]
    store = open_store(settings)
    try:
        (turn,) = [t for t in store.list_turns() if t.session_id == sid]
        sent = _review_of(store, turn.turn_id)
        assert _values(sent) == SENT

        # a reload (the same ?s= address) shows the form as it was sent, not its defaults
        page.goto(page.url)
        answer = page.get_by_test_id("stChatMessage").nth(1)
        form = answer.get_by_test_id("stExpander").filter(has_text="Your feedback (sent)")
        form.get_by_text("Your feedback (sent)").click()
        expect(form.get_by_role("radio", name="major")).to_be_checked()
        expect(form.get_by_role("slider")).to_have_attribute("aria-valuetext", "2 · disagree")
        expect(form.get_by_label("What should the answer have been? (optional)")).to_have_value(CORRECTION)
        expect(form.get_by_label("Comment (optional)")).to_have_value(COMMENT)

        # sending again without a change revises the same feedback and keeps every value
        form.get_by_role("button", name="Send feedback").click()
        page.get_by_text("Thank you, a reviewer will look at it").wait_for()
        _settled(page)
        again = _review_of(store, turn.turn_id)
        assert again.updated_at > sent.updated_at  # it was saved again
        assert _values(again) == SENT
        assert len([f for f in store.feedback_for_turn(turn.turn_id) if f.kind == "review"]) == 1
    finally:
        store.close()


# --- 2. exports match the on-screen filters -------------------------------------------------------


def _set_dates(page, start: date, end: date) -> None:
    for which, day in (("start", start), ("end", end)):
        page.get_by_role("spinbutton", name=f"year, Feedback between {which} date").click()
        page.keyboard.type(day.strftime("%Y%m%d"))  # year, month, day segments in turn
    page.get_by_role("heading", name="Analytics").click()  # the range is applied when the field loses focus


def _choose(page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):  # the first press after a download only gives the page its focus back (headless Chromium)
        box.get_by_role("button", name="Open").click()
        try:
            choice.wait_for(timeout=3_000)
            break
        except Exception:  # noqa: BLE001 - not open yet: press again
            continue
    choice.click()


def _ratings(page):
    return page.get_by_test_id("stMetric").filter(has_text="Ratings").first.get_by_test_id("stMetricValue")


def _table_rows(page, count: int) -> set[tuple[str, str, str]]:
    """(when, reviewer, question) of each row of the Feedback table, read from its grid's accessible table
    once it has `count` rows (the grid redraws after the run that changed it)."""
    grid = page.get_by_test_id("stDataFrame").last
    page.wait_for_function(
        "([grid, n]) => grid.querySelectorAll('[role=row]').length === n + 1", arg=[grid.element_handle(), count]
    )
    rows = grid.evaluate(
        """grid => Array.from(grid.querySelectorAll('[role=row]')).map(row =>
             Object.fromEntries(Array.from(row.querySelectorAll('[role=gridcell], [role=columnheader]'))
               .map(cell => [cell.getAttribute('aria-colindex'), cell.innerText])))"""
    )
    header = {name: index for index, name in rows[0].items()}
    columns = [header[name] for name in ("When (UTC)", "Reviewer", "Question")]
    return {tuple(row[c] for c in columns) for row in rows[1:] if row}


def _download(page, fmt: str, nth: int = 0, attempts: int = 4) -> bytes:
    """The export behind the nth `fmt` button (0: Feedback, 1: Conversations). A click that lands on a button
    a rerun is replacing (its file's address is gone) starts no download: wait for the run, click again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        _settled(page)
        try:
            with page.expect_download(timeout=30_000) as info:
                page.get_by_test_id("stDownloadButton").get_by_role("button", name=fmt).nth(nth).click()
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    with open(info.value.path(), "rb") as fh:
        return fh.read()


def test_exports_hold_exactly_the_filtered_rows(server, browser):
    import pandas as pd
    from playwright.sync_api import expect

    from feedback.export import FEEDBACK_COLUMNS

    base, _ = server
    page = _page(browser, viewport={"width": 1280, "height": 1400})
    page.goto(base + "/analytics", timeout=60_000)
    page.get_by_role("heading", name="Analytics").wait_for(timeout=300_000)
    _ratings(page).wait_for(timeout=120_000)  # (today's ratings from the other tests are outside the dates below)
    _set_dates(page, *WINDOW)
    expect(_ratings(page)).to_have_text("5")  # G and E are outside
    _choose(page, "Route", "rag")
    expect(_ratings(page)).to_have_text("3")
    _choose(page, "Reviewer", "bo@corp.example")
    expect(_ratings(page)).to_have_text("2")
    _settled(page)

    shown = _table_rows(page, 2)
    assert {question for _, _, question in shown} == {_seed_question("A"), _seed_question("D")}
    csv = pd.read_csv(io.BytesIO(_download(page, "CSV")))
    xlsx = pd.read_excel(io.BytesIO(_download(page, "XLSX")))
    assert len(csv) == len(shown)
    assert set(zip(csv["created_at"], csv["reviewer"], csv["question"], strict=True)) == shown
    assert sorted(xlsx["question"]) == sorted(csv["question"])  # the same rows in the other format
    turns = pd.read_csv(io.BytesIO(_download(page, "CSV", nth=1)))  # conversations: the answers judged
    assert sorted(turns["question"]) == sorted(csv["question"])

    # a filter that matches nothing: the export is the header row alone
    _choose(page, "Severity", "major")
    expect(_ratings(page)).to_have_text("1")  # A only
    _choose(page, "Route", "finetuned")
    expect(_ratings(page)).to_have_text("1")  # C
    _choose(page, "Severity", "minor")
    expect(_ratings(page)).to_have_text("0")
    page.get_by_text("No feedback matches these filters yet.").wait_for()
    _settled(page)
    empty = _download(page, "CSV").decode("utf-8")
    assert empty.strip().splitlines() == [",".join(FEEDBACK_COLUMNS)]
    assert pd.read_csv(io.StringIO(empty)).empty


# --- 3. the logo on the dark theme ------------------------------------------------------------------


def _luminance(rgb) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _wordmark_contrast(page) -> tuple[float, float]:
    """(the wordmark's contrast with the sidebar behind it, that background's luminance), from the pixels drawn:
    the background is the commonest colour of the logo's box, the text its most contrasting pixel."""
    from collections import Counter

    from PIL import Image

    logo = page.get_by_test_id("stSidebarLogo")
    logo.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=stSidebarLogo]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    shot = Image.open(io.BytesIO(logo.screenshot())).convert("RGB")
    width, height = shot.size
    words = shot.crop((int(width * 0.27), 0, width, height))  # right of the blue mark: the wordmark
    raw = words.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    background = Counter(pixels).most_common(1)[0][0]
    return max(_contrast(p, background) for p in pixels), _luminance(background)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_logo_reads_on_light_and_dark_themes(server, browser, scheme):
    base, _ = server
    # Streamlit's default theme follows the system setting: the browser says which it prefers
    page = _page(browser, color_scheme=scheme)
    page.goto(base + "/", timeout=60_000)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)
    contrast, background = _wordmark_contrast(page)
    assert (background < 0.2) == (scheme == "dark"), "the sidebar is not on the theme asked for"
    assert contrast >= 4.5, f"the wordmark has {contrast:.2f}:1 on the {scheme} sidebar"


# --- 4. the sidebar on a phone -------------------------------------------------------------------------


def _assert_sidebar_closed(page, problem: str) -> None:
    """The sidebar is off the screen once its slide (300 ms) is over."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => { const s = document.querySelector('[data-testid=stSidebar]');"
            " return !s || s.getBoundingClientRect().right <= 0; }",
            timeout=5_000,
        )
    except PlaywrightTimeout:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("device", ["phone", "narrow window"])
def test_sidebar_stays_closed_when_moving_between_pages_on_a_phone(server, browser, device):
    from playwright.sync_api import expect

    pw, _ = browser
    base, _ = server
    if device == "phone":  # a phone's browser: Streamlit itself closes the sidebar after a click on its menu
        page = _page(browser, **{k: v for k, v in pw.devices["Pixel 5"].items() if k != "default_browser_type"})
    else:  # a desktop browser's window as narrow as a phone: Streamlit leaves the sidebar open
        page = _page(browser, viewport={"width": 390, "height": 844})
    page.goto(base + "/", timeout=60_000)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)
    _settled(page)
    _assert_sidebar_closed(page, "the sidebar starts open over the chat")

    for name, heading in (("Review", "Review answers"), ("Analytics", "Analytics"), ("Chat", "Ask Docent")):
        page.get_by_test_id("stExpandSidebarButton").click()
        expect(page.get_by_test_id("stSidebarNav")).to_be_in_viewport()
        page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
        page.get_by_role("heading", name=heading).wait_for()
        _settled(page)
        _assert_sidebar_closed(page, f"the sidebar covers the {name} page after moving to it")

    # the sidebar's own page switch (New chat) closes it too, and a reload does not bring it back
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebar").get_by_role("button", name="New chat").click()
    page.get_by_role("heading", name="Ask Docent").wait_for()
    _settled(page)
    _assert_sidebar_closed(page, "the sidebar stays over the chat after New chat")
    page.reload()
    page.get_by_test_id("stChatInputTextArea").wait_for()
    _settled(page)
    _assert_sidebar_closed(page, "the sidebar opens over the chat after a reload")
