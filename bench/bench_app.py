"""App benchmark in a real browser on the embedded default (prints figures, asserts nothing).

- per question, from pressing Enter: the first visible answer text, the finished turn (route or "Not found"
  badge, references where the documents answered, rating controls), and the gap between the two; p50/p95
  over the questions (issue 12's target: the finished turn within 300 ms of the answer text, p50);
- Analytics page load time with 10,000 feedback rows in the store (--rows 0 skips it).

Uses the demo knowledge base (assets/demo) in a temporary data dir, Debian chromium and Playwright.

    .venv/bin/python bench/bench_app.py [--rows 10000] [--questions 8]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "Streamlit"))

from tests.fixtures.app_corpus import start_app_server  # noqa: E402
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DEMO = ROOT / "assets" / "demo"
QUESTIONS = [
    "How do I ask Docent a question?",
    "What do the confidence levels mean?",
    "how long can my question be",
    "Who do I contact for support?",
    "What changed in the latest release?",
    "How do reviewers approve a correction?",
    "What is the admin handbook about?",
    "Can I ask follow-up questions?",
]

# Polled in the page: 1 once the newest assistant message shows answer text (not the status caption),
# 2 once the turn is finished as people see it: its route badge or the "Not found" state, its references
# when the documents answered, and the rating controls.
PROGRESS_JS = """(n) => {
  const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
  if (msgs.length < n) return 0;
  const last = msgs[msgs.length - 1];
  const text = last.innerText;
  const badge = text.includes('Answered from the') || text.includes('Not found in the documents');
  const references = !text.includes('Answered from the documents') || text.includes('References');
  if (badge && references && last.querySelector('[data-testid="stFeedback"]')) return 2;
  for (const md of last.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
    if (!md.closest('[data-testid="stCaptionContainer"]') && md.innerText.trim().length > 0) return 1;
  }
  return 0;
}"""


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms; p95 interpolated between the nearest ranks (few questions: read it as "the slowest")."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0] * 1000, ordered[0] * 1000
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18]
    return statistics.median(ordered) * 1000, p95 * 1000


def prepare(data_dir: Path) -> None:
    from actions import import_qa_file, ingest_uploads  # the same functions the Knowledge page calls

    from config.settings import load_settings
    from feedback.factory import open_store
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder, open_index

    settings = load_settings(data_dir=data_dir)
    embedder = CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")
    summary = ingest_uploads(settings, open_index(settings), embedder, DEMO / "docs")
    store = open_store(settings)
    result, _ = import_qa_file(store, DEMO / "qa_pairs.csv")
    print(f"demo corpus: {summary.describe()}; Q&A set: {result.message if result else 'none'}")
    store.close()


def add_feedback(data_dir: Path, rows: int) -> float:
    from config.settings import load_settings
    from feedback.factory import open_store
    from feedback.records import Feedback, Turn

    store = open_store(load_settings(data_dir=data_dir))
    rng = random.Random(7)
    start = time.perf_counter()
    now = datetime.now(UTC)
    for i in range(rows):
        when = (now - timedelta(minutes=rng.randint(0, 60 * 24 * 28))).isoformat()
        turn = Turn.new(
            session_id=f"bench-{i // 5}",
            user=f"user{(i // 5) % 300}@corp.com",
            question=f"bench question {i}?",
            answer=f"answer {i}",
            route=rng.choice(["rag", "finetuned"]),
            confidence=rng.random(),
            created_at=when,
        )
        store.save_turn(turn)
        review = rng.random() < 0.3
        store.save_feedback(
            Feedback.new(
                turn_id=turn.turn_id,
                reviewer=f"rev{i % 7}@corp.com",
                kind="review" if review else "thumbs",
                thumbs=None if review else rng.choice([1, 1, 1, -1]),
                severity=rng.choice([None, "minor", "major"]),
                likert=rng.randint(1, 5) if review else None,
                created_at=when,
                updated_at=when,
            )
        )
    store.close()
    return time.perf_counter() - start


def wait_progress(page, n: int, level: int, timeout_s: float = 120.0) -> float:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if page.evaluate(PROGRESS_JS, n) >= level:
            return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError(f"no answer progress {level} within {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=8, help="asked in one conversation; the list repeats")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="docent-bench-app-") as tmp:
        data = Path(tmp) / "data"
        prepare(data)
        t0 = time.perf_counter()
        proc, base = start_app_server(data, log_path=Path(tmp) / "streamlit.log")
        print(f"server up in {time.perf_counter() - t0:.1f} s")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                t0 = time.perf_counter()
                page.goto(base + "/")
                page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
                print(f"first page load (builds the chain): {time.perf_counter() - t0:.1f} s")
                firsts, finals, gaps = [], [], []
                for i in range(args.questions):
                    question = QUESTIONS[i % len(QUESTIONS)]
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.fill(question)
                    start = time.perf_counter()
                    box.press("Enter")
                    first = wait_progress(page, 2 * (i + 1), 1) - start
                    final = wait_progress(page, 2 * (i + 1), 2) - start
                    firsts.append(first)
                    finals.append(final)
                    gaps.append(final - first)
                    print(
                        f"  {question[:44]:<44} answer text {first * 1000:6.0f} ms   finished turn "
                        f"{final * 1000:6.0f} ms   gap {(final - first) * 1000:5.0f} ms"
                    )
                    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")  # the run is over
                for label, values in (
                    ("submit -> first answer text", firsts),
                    ("submit -> finished turn", finals),
                    ("answer text -> finished turn", gaps),
                ):
                    p50, p95 = percentiles(values)
                    print(f"{label:<30} p50 {p50:6.0f} ms   p95 {p95:6.0f} ms   (n={len(values)})")
                if not args.rows:
                    browser.close()
                    return

                spent = add_feedback(data, args.rows)
                print(f"wrote {args.rows} turns + feedback in {spent:.1f} s")
                loads = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    page.goto(base + "/analytics")
                    page.get_by_test_id("stVegaLiteChart").nth(3).wait_for(timeout=180_000)
                    page.get_by_test_id("stDownloadButton").nth(11).wait_for(timeout=180_000)
                    loads.append(time.perf_counter() - t0)
                metric = page.get_by_test_id("stMetric").first.inner_text().replace("\n", " ")
                print(
                    f"analytics page with {args.rows} feedback rows ({metric}): "
                    f"{', '.join(f'{x:.2f}' for x in loads)} s (median {statistics.median(loads):.2f} s)"
                )
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
