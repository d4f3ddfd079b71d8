"""One behaviour suite for every FeedbackStore backend: SQLite, and DynamoDB on a real dynalite."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest

from chain.types import Reference
from feedback.records import Feedback, QAPair, Turn
from feedback.store import FeedbackStore, SessionOwnerError, UnknownTurnError
from tests.contract.conversations_contract import ConversationsContract
from tests.fixtures.dynalite import dynalite, dynalite_client, dynalite_server  # noqa: F401

ANA = "ana@corp.com"


def make_turn(session="s1", created_at="2026-11-20T10:00:00Z", user=ANA, **kw) -> Turn:
    kw.setdefault("question", "How many days of leave do I get?")
    kw.setdefault("answer", "25 days a year.")
    return Turn.new(session_id=session, user=user, created_at=created_at, **kw)


def thumbs(turn, reviewer="bo", value=-1, **kw) -> Feedback:
    return Feedback.new(turn_id=turn.turn_id, reviewer=reviewer, kind="thumbs", thumbs=value, **kw)


class FeedbackStoreContract(ConversationsContract):
    """Subclass with a `store` fixture returning an empty store."""

    def test_is_a_feedback_store(self, store):
        assert isinstance(store, FeedbackStore)

    def test_turn_roundtrip(self, store):
        turn = make_turn(
            route="finetuned",
            confidence=0.73,
            matched_question="leave days?",
            backend="sagemaker",
            model="m-1",
            index_version="v9",
            timings_ms={"retrieve": 12.5, "llm": 300.0},
            standalone_question="Leave days?",
            references=[{"source": "hr/leave.pdf", "title": "Leave", "locator": "page 2", "url": None, "score": 0.81}],
        )
        assert store.save_turn(turn).status == "saved"
        assert store.get_turn(turn.turn_id) == turn
        assert store.get_turn("nope") is None

    def test_turn_keeps_citation_numbers_band_notice_and_images(self, store):
        # The answer cites [2] and [3]: the stored references keep those numbers (not their positions).
        refs = [
            Reference(source="hr/leave.pdf", title="Leave", locator="page 2", url=None, score=0.8, n=2),
            Reference(source="hr/sick.md", title="Sick", locator="Sick", url="https://x/sick", score=0.7, n=3),
        ]
        turn = make_turn(references=refs, confidence_band="medium", notice="answered extractively", images=["a.png"])
        store.save_turn(turn)
        got = store.get_turn(turn.turn_id)
        assert [r.n for r in got.references] == [2, 3]
        assert [r.number(i) for i, r in enumerate(got.references, 1)] == [2, 3]
        assert got.references[1].url == "https://x/sick"
        assert (got.confidence_band, got.notice, got.images) == ("medium", "answered extractively", ["a.png"])

    def test_abstained_turn_with_empty_answer(self, store):
        turn = make_turn(answer="", abstained=True, confidence=0.0)
        store.save_turn(turn)
        assert store.get_turn(turn.turn_id).abstained is True

    def test_saving_a_turn_twice_keeps_one(self, store):
        turn = make_turn()
        store.save_turn(turn)
        store.save_turn(turn)
        assert [t.turn_id for t in store.list_turns()] == [turn.turn_id]

    def test_session_turns_oldest_first_and_only_that_session(self, store):
        late = make_turn(created_at="2026-11-20T10:05:00Z", question="second?")
        early = make_turn(created_at="2026-11-20T10:01:00Z", question="first?")
        other = make_turn(session="s2")
        for t in (late, other, early):
            store.save_turn(t)
        assert [t.question for t in store.session_turns("s1", ANA)] == ["first?", "second?"]

    def test_clear_session_hides_history_but_keeps_turns_and_feedback(self, store):
        a, b, other = make_turn(), make_turn(question="b?"), make_turn(session="s2")
        for t in (a, b, other):
            store.save_turn(t)
        store.save_feedback(thumbs(a))
        assert store.clear_session("s1", ANA) == 2
        assert store.session_turns("s1", ANA) == []
        assert len(store.session_turns("s2", ANA)) == 1
        assert store.get_turn(a.turn_id) is not None
        assert {t.turn_id for t in store.list_turns()} == {a.turn_id, b.turn_id, other.turn_id}
        assert len(store.feedback_for_turn(a.turn_id)) == 1

    def test_feedback_on_unknown_turn_is_refused(self, store):
        with pytest.raises(UnknownTurnError, match="save the turn first"):
            store.save_feedback(Feedback.new(turn_id="ghost", reviewer="bo", kind="thumbs", thumbs=1))

    def test_reviewer_revising_replaces_their_feedback(self, store):
        turn = make_turn()
        store.save_turn(turn)
        first = Feedback(
            turn_id=turn.turn_id,
            reviewer="bo",
            kind="review",
            likert=2,
            severity="major",
            created_at="2026-11-20T11:00:00Z",
            updated_at="2026-11-20T11:00:00Z",
        )
        store.save_feedback(first)
        revised = Feedback(
            turn_id=turn.turn_id,
            reviewer="bo",
            kind="review",
            likert=4,
            severity="minor",
            corrected_answer="30 days.",
            approved=True,
            created_at="2026-11-20T12:00:00Z",
            updated_at="2026-11-20T12:00:00Z",
        )
        store.save_feedback(revised)
        [kept] = store.feedback_for_turn(turn.turn_id)
        assert (kept.likert, kept.severity, kept.corrected_answer, kept.approved) == (4, "minor", "30 days.", True)
        assert kept.created_at == first.created_at
        assert kept.updated_at == revised.updated_at

    def test_an_older_revision_does_not_overwrite_a_newer_one(self, store):
        turn = make_turn()
        store.save_turn(turn)
        store.save_feedback(thumbs(turn, value=1, created_at="2026-11-20T12:00:00Z", updated_at="2026-11-20T12:00:00Z"))
        store.save_feedback(
            thumbs(turn, value=-1, created_at="2026-11-20T11:00:00Z", updated_at="2026-11-20T11:00:00Z")
        )
        assert [f.thumbs for f in store.feedback_for_turn(turn.turn_id)] == [1]

    def test_several_reviewers_and_kinds_on_one_turn(self, store):
        turn = make_turn()
        store.save_turn(turn)
        store.save_feedback(thumbs(turn, "bo", -1))
        store.save_feedback(thumbs(turn, "cy", 1))
        store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="review", likert=1))
        got = store.feedback_for_turn(turn.turn_id)
        assert sorted((f.reviewer, f.kind) for f in got) == [("bo", "review"), ("bo", "thumbs"), ("cy", "thumbs")]

    def test_list_feedback_filters(self, store):
        rag, ft = make_turn(route="rag"), make_turn(route="finetuned")
        store.save_turn(rag)
        store.save_turn(ft)
        store.save_feedback(
            Feedback.new(
                turn_id=rag.turn_id,
                reviewer="bo",
                kind="review",
                severity="major",
                created_at="2026-11-01T09:00:00Z",
                updated_at="2026-11-01T09:00:00Z",
            )
        )
        store.save_feedback(
            Feedback.new(
                turn_id=ft.turn_id,
                reviewer="cy",
                kind="review",
                severity="minor",
                created_at="2026-11-03T23:59:59Z",
                updated_at="2026-11-03T23:59:59Z",
            )
        )
        store.save_feedback(
            Feedback.new(
                turn_id=ft.turn_id,
                reviewer="bo",
                kind="thumbs",
                thumbs=1,
                created_at="2026-11-05T00:00:00Z",
                updated_at="2026-11-05T00:00:00Z",
            )
        )
        assert len(store.list_feedback()) == 3
        assert [f.reviewer for f in store.list_feedback(since=date(2026, 11, 2), until="2026-11-03")] == ["cy"]
        assert [f.turn_id for f in store.list_feedback(route="rag")] == [rag.turn_id]
        assert [f.kind for f in store.list_feedback(reviewer="bo", since="2026-11-02")] == ["thumbs"]
        assert [f.reviewer for f in store.list_feedback(severity="major")] == ["bo"]
        assert store.list_feedback(until="2026-10-31") == []

    def test_list_turns_date_filters_are_inclusive_days(self, store):
        days = ["2026-10-31T23:59:59Z", "2026-11-01T00:00:00Z", "2026-11-02T12:00:00Z", "2026-11-03T00:00:00Z"]
        turns = [
            make_turn(created_at=d, question=f"q{i}?", route="rag" if i % 2 else "finetuned")
            for i, d in enumerate(days)
        ]
        for t in turns:
            store.save_turn(t)
        assert [t.question for t in store.list_turns("2026-11-01", "2026-11-02")] == ["q1?", "q2?"]
        assert [t.question for t in store.list_turns(since="2026-11-02")] == ["q2?", "q3?"]
        assert [t.question for t in store.list_turns(until=date(2026, 10, 31))] == ["q0?"]
        assert [t.question for t in store.list_turns(route="rag")] == ["q1?", "q3?"]
        assert [t.question for t in store.list_turns("2026-11-01", "2026-11-03", route="finetuned")] == ["q2?"]

    def test_review_queue_filters(self, store):
        unrated = make_turn(confidence=0.9, created_at="2026-11-20T10:00:00Z")
        down = make_turn(confidence=0.8, created_at="2026-11-20T10:01:00Z")
        up = make_turn(confidence=0.2, created_at="2026-11-20T10:02:00Z", route="finetuned")
        unsure = make_turn(confidence=0.3, created_at="2026-11-20T10:03:00Z")
        for t in (unrated, down, up, unsure):
            store.save_turn(t)
        store.save_feedback(thumbs(down, "bo", -1))
        store.save_feedback(thumbs(down, "cy", 1))
        store.save_feedback(thumbs(up, "bo", 1))

        def ids(turns):
            return [t.turn_id for t in turns]

        assert ids(store.review_queue("unrated")) == [unsure.turn_id, unrated.turn_id]  # newest first
        assert ids(store.review_queue("thumbs_down")) == [down.turn_id]
        assert ids(store.review_queue("low_confidence")) == [unsure.turn_id, up.turn_id]
        assert ids(store.review_queue("low_confidence", route="finetuned")) == [up.turn_id]
        assert ids(store.review_queue("unrated", confidence_below=0.5)) == [unsure.turn_id]
        assert ids(store.review_queue("unrated", since="2026-11-21")) == []
        assert ids(store.review_queue("low_confidence", confidence_below=0.25)) == [up.turn_id]
        # a reviewer changing their mind takes the turn out of the thumbs-down queue
        store.save_feedback(thumbs(down, "bo", 1))
        assert store.review_queue("thumbs_down") == []
        with pytest.raises(ValueError, match="unknown"):
            store.review_queue("angry")

    def test_qa_pairs_dedupe_on_normalised_question(self, store):
        v0 = store.qa_version()
        result = store.add_qa_pairs(
            [
                QAPair.new("How do I reset my VPN token?", "Use the portal."),
                QAPair.new("how do i   reset my vpn token", "Duplicate in the same batch."),
                QAPair.new("Who approves travel?", "Your manager.", context="Travel policy", images=["img/a.png"]),
            ]
        )
        added, duplicates = result
        assert (added, duplicates) == (2, 1)
        v1 = store.qa_version()
        assert v1 != v0
        again = store.add_qa_pairs([QAPair.new("WHO approves travel ?!", "Someone.")])
        assert tuple(again) == (0, 1)
        assert store.qa_version() == v1  # nothing changed
        pairs = {p.question: p for p in store.list_qa_pairs()}
        assert set(pairs) == {"How do I reset my VPN token?", "Who approves travel?"}
        assert pairs["Who approves travel?"].images == ["img/a.png"]
        assert pairs["Who approves travel?"].context == "Travel policy"

    def test_qa_replace_and_delete_change_the_version(self, store):
        store.add_qa_pairs([QAPair.new("Who approves travel?", "Your manager.")])
        v1 = store.qa_version()
        result = store.add_qa_pairs(
            [QAPair.new("who approves travel", "The budget owner.", origin="correction")], replace=True
        )
        assert (result.added, result.replaced) == (0, 1)
        [pair] = store.list_qa_pairs()
        assert pair.answer == "The budget owner."
        v2 = store.qa_version()
        assert v2 != v1
        assert store.delete_qa_pair(pair.pair_id) is True
        assert store.delete_qa_pair(pair.pair_id) is False
        assert store.list_qa_pairs() == []
        assert store.qa_version() not in (v1, v2)

    def test_concurrent_sessions_lose_nothing(self, store):
        # Eight sessions at once, each rating its own turn and a peer's (48 writes): enough threads to
        # interleave every write path; dynalite takes ~0.5 s a write on a loaded 2-core machine.
        sessions, ratings = 8, 5
        turns = [make_turn(session=f"s{i}", question=f"q{i}?") for i in range(sessions)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(sessions)

        def session(i: int) -> None:
            try:
                store.save_turn(turns[i])
                barrier.wait()  # every turn exists; now all sessions rate at once
                for r in range(ratings):
                    store.save_feedback(thumbs(turns[i], reviewer=f"rev{r}", value=1 if r % 2 else -1))
                store.save_feedback(thumbs(turns[(i + 1) % sessions], reviewer=f"peer{i}", value=1))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.list_turns()) == sessions
        assert len(store.list_feedback()) == sessions * ratings + sessions
        assert all(len(store.session_turns(f"s{i}", ANA)) == 1 for i in range(sessions))

    # --- issue 11: a conversation belongs to the user who opened it ------------------------------
    def test_the_first_turn_makes_its_user_the_owner(self, store):
        assert store.session_owner("s1") is None
        store.save_turn(make_turn())
        assert store.session_owner("s1") == ANA

    def test_another_user_cannot_read_the_conversation(self, store):
        store.save_turn(make_turn(question="my salary is too low?"))
        assert store.session_turns("s1", "mallory@corp.com") == []
        assert [t.question for t in store.session_turns("s1", ANA)] == ["my salary is too low?"]

    def test_another_user_cannot_add_turns_to_it(self, store):
        store.save_turn(make_turn())
        with pytest.raises(SessionOwnerError, match="belongs to another user"):
            store.save_turn(make_turn(user="mallory@corp.com", question="injected?"))
        assert [t.user for t in store.list_turns()] == [ANA]
        assert [t.question for t in store.session_turns("s1", ANA)] == ["How many days of leave do I get?"]

    def test_another_user_cannot_clear_it(self, store):
        store.save_turn(make_turn())
        assert store.clear_session("s1", "mallory@corp.com") == 0
        assert len(store.session_turns("s1", ANA)) == 1

    def test_a_chosen_id_planted_by_someone_else_is_theirs_not_the_victims(self, store):
        # fixation: mallory opens a conversation under an id and sends the link to ana
        store.save_turn(make_turn(session="chosen-id-1234", user="mallory@corp.com", question="hello?"))
        with pytest.raises(SessionOwnerError):
            store.save_turn(make_turn(session="chosen-id-1234", question="what is my bonus?"))
        assert [t.question for t in store.session_turns("chosen-id-1234", "mallory@corp.com")] == ["hello?"]

    def test_the_owner_keeps_the_session_after_clearing_it(self, store):
        store.save_turn(make_turn())
        store.clear_session("s1", ANA)
        with pytest.raises(SessionOwnerError):
            store.save_turn(make_turn(user="mallory@corp.com"))
        store.save_turn(make_turn(question="again?"))
        assert [t.question for t in store.session_turns("s1", ANA)] == ["again?"]


class TestSQLiteFeedbackStore(FeedbackStoreContract):
    @pytest.fixture
    def store(self, tmp_path, monkeypatch):
        from feedback.sqlite import SQLiteFeedbackStore

        monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path))
        store = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
        yield store
        store.close()

    def test_migrations_are_recorded_and_applied_once(self, store, tmp_path):
        from feedback.migrations import migration_names
        from feedback.sqlite import SQLiteFeedbackStore

        assert store.applied_migrations == migration_names()
        assert migration_names()[:4] == [
            "m001_initial",
            "m002_turn_display",
            "m003_session_owners",
            "m004_conversations",
        ]
        again = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
        assert again.applied_migrations == []
        again.close()

    def test_existing_sessions_get_the_user_of_their_first_turn(self, tmp_path):
        """m003 backfills owners for conversations stored before ownership existed; m004 lists them."""
        import sqlite3

        from feedback.migrations import migration_names
        from feedback.sqlite import SQLiteFeedbackStore, _turn_row

        path = tmp_path / "old.sqlite3"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        from importlib import import_module

        for name in [n for n in migration_names() if n < "m003"]:
            import_module(f"feedback.migrations.{name}").up(conn)
            conn.execute("INSERT INTO _migrations VALUES (?, '2026-01-01')", (name,))
        for turn in (make_turn(created_at="2026-11-20T10:05:00Z", user="mallory@corp.com"), make_turn()):
            row = _turn_row(turn)
            conn.execute(
                f"INSERT INTO turns ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
        conn.close()
        store = SQLiteFeedbackStore(path)
        assert store.applied_migrations == ["m003_session_owners", "m004_conversations"]
        assert store.session_owner("s1") == ANA
        assert len(store.session_turns("s1", ANA)) == 1  # the intruder's turn is not shown to the owner
        [listed] = store.conversations(ANA)
        assert (listed.title, listed.updated_at) == ("How many days of leave do I get?", "2026-11-20T10:05:00.000000Z")
        store.close()


@pytest.mark.integration
class TestDynamoDBFeedbackStore(FeedbackStoreContract):
    @pytest.fixture
    def store(self, dynalite):  # noqa: F811 - pytest fixture
        from feedback.dynamodb import DynamoDBFeedbackStore

        store = DynamoDBFeedbackStore(dynalite_client(dynalite), table_prefix=f"t{uuid.uuid4().hex[:10]}")
        store.create_tables()
        yield store
        store.delete_tables()

    def test_an_item_over_400_kb_is_refused_before_any_write(self, store):
        from feedback.store import RecordTooLargeError

        turn = make_turn()
        store.save_turn(turn)
        huge = Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="review", comment="x" * 420_000)
        with pytest.raises(RecordTooLargeError, match="400 KB"):
            store.save_feedback(huge)
        assert store.feedback_for_turn(turn.turn_id) == []

    def test_create_tables_is_idempotent(self, store):
        assert store.create_tables() == []

    def test_missing_tables_say_how_to_create_them(self, dynalite):  # noqa: F811
        from feedback.dynamodb import DynamoDBFeedbackStore
        from feedback.store import StoreError

        store = DynamoDBFeedbackStore(dynalite_client(dynalite), table_prefix="never-created")
        with pytest.raises(StoreError, match="docent stores init"):
            store.get_turn("x")


class TestOutboxOverSQLiteFeedbackStore(FeedbackStoreContract):
    """The durable outbox keeps the contract of the store it wraps. It is the same code whatever the inner
    store, so the whole contract runs over SQLite here; production's pairing (DynamoDB behind it) runs on
    dynalite below and in tests/integration/test_dynamodb_outbox.py (outages, restarts)."""

    @pytest.fixture
    def store(self, tmp_path):
        from feedback.outbox import OutboxStore
        from feedback.sqlite import SQLiteFeedbackStore

        inner = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
        store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
        yield store
        inner.close()


@pytest.mark.integration
class TestOutboxOverDynamoDBFeedbackStore:
    """Production's store: DynamoDB (dynalite here) behind the durable outbox, as open_store builds it."""

    @pytest.fixture
    def store(self, dynalite, tmp_path):  # noqa: F811 - pytest fixture
        from feedback.dynamodb import DynamoDBFeedbackStore
        from feedback.outbox import OutboxStore

        inner = DynamoDBFeedbackStore(dynalite_client(dynalite), table_prefix=f"t{uuid.uuid4().hex[:10]}")
        inner.create_tables()
        store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
        yield store
        inner.delete_tables()

    test_turn_roundtrip = FeedbackStoreContract.test_turn_roundtrip
    test_reviewer_revising_replaces_their_feedback = (
        FeedbackStoreContract.test_reviewer_revising_replaces_their_feedback
    )
    test_qa_replace_and_delete_change_the_version = FeedbackStoreContract.test_qa_replace_and_delete_change_the_version
    test_concurrent_sessions_lose_nothing = FeedbackStoreContract.test_concurrent_sessions_lose_nothing
    test_another_user_cannot_read_the_conversation = (
        FeedbackStoreContract.test_another_user_cannot_read_the_conversation
    )
