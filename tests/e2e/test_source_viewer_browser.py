"""The source viewer in a real browser: ask, click a reference, read the cited passage with the sentences
the answer used highlighted. Needs /usr/bin/chromium (`make system-deps`) and the playwright package."""

from __future__ import annotations

import pytest

from tests.fixtures.axe import axe_source, serious_violations
from tests.fixtures.browser import app_server, chromium_page

# The first page load imports the models in the app's process: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    with app_server(tmp_path_factory, minilm, "e2e-sources") as (base, _, _):
        yield base


@pytest.fixture
def page(server):
    with chromium_page() as page:
        yield page


def test_a_reference_opens_the_passage_with_the_used_sentences_highlighted(server, page, tmp_path):
    page.goto(server + "/", timeout=60_000)
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=300_000)  # first start loads the models
    box.fill("How do I book annual leave?")
    box.press("Enter")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("References").wait_for(timeout=240_000)

    reference = answer.get_by_role("button", name="[1] Annual leave policy")
    assert answer.locator('a[href^="https://docs.example.com/kb/leave-policy.md"]').count() >= 1
    answer.screenshot(path=str(tmp_path / "references.png"))
    reference.first.click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Source [1]" in dialog.inner_text()
    passage = dialog.locator(".docent-passage")
    passage.wait_for()
    marked = passage.locator("mark")
    assert marked.count() >= 1
    assert "Workday" in marked.first.inner_text()
    assert "Highlighted: the sentences the answer used." in dialog.inner_text()
    original = dialog.get_by_role("link", name="Open the original")
    assert (original.get_attribute("href") or "").startswith("https://docs.example.com/kb/leave-policy.md")
    page.screenshot(path=str(tmp_path / "source-viewer.png"))
    assert serious_violations(page, axe_source()) == []  # axe-core (WCAG A/AA) with the dialog open

    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
