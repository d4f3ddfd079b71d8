"""The chat turn as people see it, in a real browser (issue 12): the finished turn (badges, references,
rating controls, Copy) arrives with the answer, the live region says so, Copy fills the clipboard, and
Regenerate and Edit ask again as new turns. Needs /usr/bin/chromium (`make system-deps`) and playwright.
Timings are measured by bench/bench_app.py, never asserted here.
"""

from __future__ import annotations

import pytest

from tests.fixtures.axe import axe_source, serious_violations
from tests.fixtures.browser import app_server, chromium_page

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

QUESTION = "How do I book annual leave?"
EDITED = "How much does a parking permit cost?"
ABSTAIN = "Which Kubernetes ingress controller does Databricks Unity Catalog need?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    with app_server(tmp_path_factory, minilm, "e2e-chat") as (base, _, _):
        yield base


@pytest.fixture
def page(server):
    with chromium_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        page.goto(server + "/", timeout=60_000)
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)  # the first start loads the models
        yield page


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def _finished(page, n: int):
    """The n-th assistant message (1-based) once its rating controls are there; checks nothing else."""
    answer = page.get_by_test_id("stChatMessage").nth(2 * n - 1)
    answer.get_by_test_id("stFeedback").wait_for(timeout=240_000)
    return answer


def _settled(page) -> None:
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


def test_the_finished_turn_arrives_with_the_answer_and_is_announced(page):
    from playwright.sync_api import expect

    _ask(page, QUESTION)
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("Workday").first.wait_for(timeout=240_000)  # the streamed answer text
    # everything the finished turn has is on the page in the same run as the answer (no reload of the page)
    _finished(page, 1)
    assert answer.get_by_text("Answered from the documents").is_visible()
    assert answer.get_by_text("References").is_visible()
    assert answer.locator('a[href^="https://docs.example.com/kb/leave-policy.md"]').count() >= 1
    assert answer.get_by_role("button", name="Copy").is_visible()
    assert answer.get_by_role("button", name="Regenerate").is_visible()
    assert answer.get_by_role("button", name="Edit question").is_visible()
    region = page.locator("#docent-live")
    expect(region).to_have_text("Answer ready")
    assert region.get_attribute("aria-live") == "polite"
    assert region.get_attribute("role") == "status"
    box = region.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1  # heard, not seen

    _ask(page, ABSTAIN)
    second = _finished(page, 2)
    assert second.get_by_text("Not found in the documents").is_visible()
    expect(region).to_have_text("Not found in the documents")
    assert page.get_by_role("button", name="Regenerate").count() == 1  # the newest turn only


def test_copy_puts_the_answer_on_the_clipboard(page):
    from playwright.sync_api import expect

    _ask(page, QUESTION)
    answer = _finished(page, 1)
    _settled(page)
    button = answer.get_by_role("button", name="Copy")
    button.click()
    expect(button).to_have_attribute("data-copied", "1")  # its "Copied" label and status go after 2.5 s
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "Workday" in copied
    assert copied.strip().split()[:5] == answer.get_by_test_id("stMarkdownContainer").first.inner_text().split()[:5]


def test_regenerate_and_edit_ask_again_as_new_turns(page):
    from playwright.sync_api import expect

    messages = page.get_by_test_id("stChatMessage")
    _ask(page, QUESTION)
    _finished(page, 1)
    _settled(page)
    page.get_by_role("button", name="Regenerate").click()
    _finished(page, 2)
    expect(messages).to_have_count(4)
    for i in (0, 2):  # the old turn is kept; the new one asks the same question
        expect(messages.nth(i).get_by_text(QUESTION, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(1)

    _settled(page)
    page.get_by_role("button", name="Edit question").click()
    box = page.get_by_role("textbox", name="Your question")
    expect(box).to_have_value(QUESTION)
    box.fill(EDITED)
    page.get_by_role("button", name="Send", exact=True).click()
    third = _finished(page, 3)
    expect(messages).to_have_count(6)
    expect(messages.nth(4).get_by_text(EDITED, exact=True)).to_be_visible()
    assert "30 EUR" in third.inner_text()
    expect(page.get_by_role("textbox", name="Your question")).to_have_count(0)
    _settled(page)
    page.wait_for_timeout(600)  # the earlier turns fade back in after a run: judge them once they have
    assert serious_violations(page, axe_source()) == []  # axe-core (WCAG A/AA) with the action rows in place
