"""Write/read throughput of the feedback stores: SQLite (embedded) and DynamoDB on a local dynalite.

Prints figures, asserts nothing. dynalite is started with the test fixture's helper (npm install
into .cache/node on first use); without node it is skipped.

    .venv/bin/python bench/bench_stores.py [--turns 500] [--threads 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedback.records import Feedback, Turn  # noqa: E402
from feedback.store import FeedbackStore  # noqa: E402


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f}/s ({n} in {seconds:.2f} s)"


def run(name: str, store: FeedbackStore, turns: int, threads: int) -> None:
    records = [
        Turn.new(
            session_id=f"s{i % 50}",
            user="bench",
            question=f"question {i}?",
            answer="answer " * 40,
            confidence=(i % 10) / 10,
            references=[{"source": "a.pdf", "title": "A", "locator": "page 1", "url": None, "score": 0.5}],
        )
        for i in range(turns)
    ]
    ratings = [
        Feedback.new(turn_id=t.turn_id, reviewer=f"r{i % 5}", kind="thumbs", thumbs=1 if i % 3 else -1)
        for i, t in enumerate(records)
    ]

    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(store.save_turn, records))
        turn_s = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(store.save_feedback, ratings))
        fb_s = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(store.get_turn, [t.turn_id for t in records]))
        get_s = time.perf_counter() - start
    start = time.perf_counter()
    sessions = [store.session_turns(f"s{i}", "bench") for i in range(50)]
    sess_s = time.perf_counter() - start
    start = time.perf_counter()
    listed = store.list_turns()
    list_s = time.perf_counter() - start
    start = time.perf_counter()
    queue = store.review_queue("thumbs_down", limit=10_000)
    queue_s = time.perf_counter() - start
    print(f"\n{name}  ({threads} threads)")
    print(f"  save_turn        {_rate(turns, turn_s)}")
    print(f"  save_feedback    {_rate(turns, fb_s)}")
    print(f"  get_turn         {_rate(turns, get_s)}")
    print(f"  session_turns    {_rate(len(sessions), sess_s)}")
    print(f"  list_turns       {len(listed)} turns in {list_s:.2f} s")
    print(f"  review_queue     {len(queue)} thumbs-down turns in {queue_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    from feedback.sqlite import SQLiteFeedbackStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteFeedbackStore(Path(tmp) / "bench.sqlite3")
        run("SQLite (WAL, connection per thread)", store, args.turns, args.threads)
        store.close()

        import pytest

        from tests.fixtures.dynalite import DynaliteServer, dynalite_client

        try:
            server = DynaliteServer(path=Path(tmp) / "dynalite")
        except (pytest.skip.Exception, pytest.fail.Exception) as exc:
            print(f"\ndynalite skipped: {exc}")
            return
        server.start()
        try:
            from feedback.dynamodb import DynamoDBFeedbackStore

            dynamo = DynamoDBFeedbackStore(dynalite_client(server.endpoint, attempts=3), table_prefix="bench")
            dynamo.create_tables()
            run("DynamoDB on dynalite (loopback; real DynamoDB latency differs)", dynamo, args.turns, args.threads)
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
