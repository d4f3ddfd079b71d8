"""The conversation list (issue 12): part of every FeedbackStore backend's contract suite."""

from __future__ import annotations

import pytest

from feedback.conversations import parse_share_token
from feedback.records import Turn
from feedback.store import StoreError

ANA, BO = "ana@corp.com", "bo@corp.com"
A1, A2, A3 = "a" * 32, "b" * 32, "c" * 32


def turn(session: str, question: str, at: str, user: str = ANA) -> Turn:
    return Turn.new(session_id=session, user=user, created_at=at, question=question, answer="An answer.")


class ConversationsContract:
    """Mixed into FeedbackStoreContract; `store` is an empty store."""

    def test_list_is_the_owners_newest_activity_first_titled_by_the_first_question(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        store.save_turn(turn(A2, "Who approves expenses?", "2026-11-21T10:00:00Z"))
        store.save_turn(turn(A3, "Bo's own question?", "2026-11-22T10:00:00Z", user=BO))
        store.save_turn(turn(A1, "and for part-time staff?", "2026-11-23T10:00:00Z"))  # A1 becomes the newest

        mine = store.conversations(ANA)
        assert [(c.session_id, c.title) for c in mine] == [
            (A1, "How many days of leave do I get?"),
            (A2, "Who approves expenses?"),
        ]
        assert mine[0].updated_at.startswith("2026-11-23T10:00:00") and mine[0].owner == ANA
        assert [c.session_id for c in store.conversations(BO)] == [A3]
        assert store.conversations("nobody@corp.com") == []

    def test_search_matches_titles_and_later_questions_case_blind(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        store.save_turn(turn(A1, "And the PARENTAL policy?", "2026-11-20T10:01:00Z"))
        store.save_turn(turn(A2, "Who approves expenses?", "2026-11-21T10:00:00Z"))
        assert [c.session_id for c in store.conversations(ANA, search="leave")] == [A1]
        assert [c.session_id for c in store.conversations(ANA, search="parental")] == [A1]
        assert [c.session_id for c in store.conversations(ANA, search="approves EXPENSES")] == [A2]
        assert store.conversations(ANA, search="salary") == []
        assert len(store.conversations(ANA, search="  ")) == 2

    def test_rename_is_the_owners_only(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        assert store.rename_conversation(A1, ANA, "  Leave   questions ") is True
        assert store.conversations(ANA)[0].title == "Leave questions"
        assert store.rename_conversation(A1, BO, "Mine now") is False
        assert store.conversation(A1, ANA).title == "Leave questions"
        assert store.conversation(A1, BO) is None
        with pytest.raises(ValueError, match="empty"):
            store.rename_conversation(A1, ANA, "   ")

    def test_delete_hides_it_everywhere_and_undo_brings_it_back(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        token = store.share_conversation(A1, ANA)
        assert store.delete_conversation(A1, BO) is False
        assert store.delete_conversation(A1, ANA) is True
        assert store.conversations(ANA) == []
        assert store.session_turns(A1, ANA) == []
        assert store.shared_conversation(token) is None
        assert store.conversation(A1, ANA).deleted is True
        assert len(store.list_turns()) == 1  # reviewers and exports keep it

        assert store.restore_conversation(A1, ANA) is True
        assert [c.session_id for c in store.conversations(ANA)] == [A1]
        assert len(store.session_turns(A1, ANA)) == 1

    def test_a_cleared_conversation_leaves_the_list_until_its_next_question(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        store.clear_session(A1, ANA)
        assert store.conversations(ANA) == []
        store.save_turn(turn(A1, "Again?", "2026-11-21T10:00:00Z"))
        assert [c.session_id for c in store.conversations(ANA)] == [A1]

    def test_a_share_link_shows_the_conversation_read_only_until_revoked(self, store):
        store.save_turn(turn(A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z"))
        store.save_turn(turn(A1, "and for part-time staff?", "2026-11-20T10:01:00Z"))
        with pytest.raises(StoreError):
            store.share_conversation(A1, BO)  # not bo's to share
        token = store.share_conversation(A1, ANA)
        assert parse_share_token(token)[0] == A1
        assert store.share_conversation(A1, ANA) == token  # one link until revoked
        assert store.conversation(A1, ANA).shared is True

        conv, turns = store.shared_conversation(token)
        assert conv.owner == ANA and conv.title == "How many days of leave do I get?"
        assert [t.question for t in turns] == ["How many days of leave do I get?", "and for part-time staff?"]

        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert store.shared_conversation(forged) is None
        assert store.shared_conversation("not-a-token") is None
        assert store.shared_conversation(f"{A2}.{token.split('.')[1]}") is None  # the secret is per conversation

        assert store.revoke_share(A1, BO) is False
        assert store.revoke_share(A1, ANA) is True
        assert store.shared_conversation(token) is None
        assert store.revoke_share(A1, ANA) is False
        again = store.share_conversation(A1, ANA)
        assert again != token and store.shared_conversation(again) is not None
