"""The conversation list of the DynamoDB store (feedback/conversations.py says what each call means).

A mixin of DynamoDBFeedbackStore. Table `{prefix}-conversations`, key (owner, session_id): a user's
list is one strongly consistent Query on the table itself (no index, so a rename shows at once),
sorted by `updated_at` here. `cleared` marks a conversation whose turns were all hidden by
clear_session until its next turn. Ownership stays in `{prefix}-sessions` (issue 11).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from feedback.conversations import (
    LIST_LIMIT,
    Conversation,
    clean_title,
    new_share_secret,
    newest_first,
    parse_share_token,
    search_conversations,
    secret_matches,
    share_token,
)
from feedback.records import Turn, utc_now
from feedback.store import StoreError, not_your_conversation


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        session_id=item["session_id"],
        owner=item["owner"],
        created_at=item.get("created_at", ""),
        updated_at=item.get("updated_at") or item.get("created_at", ""),
        first_question=item.get("first_question", ""),
        custom_title=item.get("title", ""),
        shared=bool(item.get("share_secret")),
        deleted=bool(item.get("deleted_at")),
    )


class DynamoDBConversations:
    conversations_table: str

    if TYPE_CHECKING:  # DynamoDBFeedbackStore's

        def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]: ...
        def _plain(self, item: dict[str, Any]) -> dict[str, Any]: ...
        def _paged(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]: ...
        def _is_conditional_failure(self, exc: Exception) -> bool: ...
        def session_owner(self, session_id: str) -> str | None: ...
        def session_turns(self, session_id: str, user: str) -> list[Turn]: ...

    def _conv_key(self, session_id: str, user: str) -> dict[str, Any]:
        return {"owner": {"S": user}, "session_id": {"S": session_id}}

    def _conv_item(self, session_id: str, user: str) -> dict[str, Any] | None:
        item = self._call(
            "get_item", TableName=self.conversations_table, Key=self._conv_key(session_id, user), ConsistentRead=True
        ).get("Item")
        return self._plain(item) if item else None

    def record_turn_in_conversation(self, turn: Turn) -> None:
        """After a new turn is stored: last activity (never moved back by a late re-delivery), first question."""
        values = {":t": {"S": turn.created_at}, ":q": {"S": turn.question}}
        try:
            self._call(
                "update_item",
                TableName=self.conversations_table,
                Key=self._conv_key(turn.session_id, turn.user),
                UpdateExpression="SET updated_at = :t, created_at = if_not_exists(created_at, :t),"
                " first_question = if_not_exists(first_question, :q) REMOVE cleared",
                ConditionExpression="attribute_not_exists(updated_at) OR updated_at <= :t",
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise

    def mark_conversation_cleared(self, session_id: str, user: str) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.conversations_table,
                Key=self._conv_key(session_id, user),
                UpdateExpression="SET cleared = :t",
                ConditionExpression="attribute_exists(session_id)",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise

    def conversations(self, user: str, search: str | None = None, limit: int = LIST_LIMIT) -> list[Conversation]:
        items = self._paged(
            "query",
            TableName=self.conversations_table,
            KeyConditionExpression="#o = :u",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":u": {"S": user}},
            ConsistentRead=True,
        )
        found = [_conversation(i) for i in items if not i.get("deleted_at") and not i.get("cleared")]
        if search and search.split():
            by_title = {c.session_id for c in search_conversations(found, search)}
            questions = {
                c.session_id: [t.question for t in self.session_turns(c.session_id, user)]
                for c in found
                if c.session_id not in by_title
            }
            found = search_conversations(found, search, questions)
        return newest_first(found, limit)

    def conversation(self, session_id: str, user: str) -> Conversation | None:
        item = self._conv_item(session_id, user)
        return _conversation(item) if item else None

    def _update_own(self, session_id: str, user: str, expression: str, values: dict[str, Any] | None = None) -> bool:
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self._call(
                "update_item",
                TableName=self.conversations_table,
                Key=self._conv_key(session_id, user),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(session_id)",
                **kwargs,
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise
            return False
        return True

    def rename_conversation(self, session_id: str, user: str, title: str) -> bool:
        return self._update_own(session_id, user, "SET title = :v", {":v": {"S": clean_title(title)}})

    def delete_conversation(self, session_id: str, user: str) -> bool:
        return self._update_own(
            session_id, user, "SET deleted_at = if_not_exists(deleted_at, :v)", {":v": {"S": utc_now()}}
        )

    def restore_conversation(self, session_id: str, user: str) -> bool:
        return self._update_own(session_id, user, "REMOVE deleted_at")

    def share_conversation(self, session_id: str, user: str) -> str:
        item = self._conv_item(session_id, user)
        if item is None or item.get("deleted_at"):
            raise StoreError(not_your_conversation(session_id))
        if item.get("share_secret"):
            return share_token(session_id, item["share_secret"])
        secret = new_share_secret()
        try:  # two clicks racing: the first secret wins and both get its link
            self._call(
                "update_item",
                TableName=self.conversations_table,
                Key=self._conv_key(session_id, user),
                UpdateExpression="SET share_secret = :s",
                ConditionExpression="attribute_exists(session_id) AND attribute_not_exists(share_secret)",
                ExpressionAttributeValues={":s": {"S": secret}},
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise
            again = self._conv_item(session_id, user) or {}
            if not again.get("share_secret"):
                raise StoreError(not_your_conversation(session_id)) from None
            secret = again["share_secret"]
        return share_token(session_id, secret)

    def revoke_share(self, session_id: str, user: str) -> bool:
        try:
            self._call(
                "update_item",
                TableName=self.conversations_table,
                Key=self._conv_key(session_id, user),
                UpdateExpression="REMOVE share_secret",
                ConditionExpression="attribute_exists(share_secret)",
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise
            return False
        return True

    def shared_conversation(self, token: str) -> tuple[Conversation, list[Turn]] | None:
        parsed = parse_share_token(token)
        if parsed is None:
            return None
        session_id, secret = parsed
        owner = self.session_owner(session_id)
        if owner is None:
            return None
        item = self._conv_item(session_id, owner)
        if item is None or item.get("deleted_at") or not secret_matches(item.get("share_secret"), secret):
            return None
        return _conversation(item), self.session_turns(session_id, owner)
