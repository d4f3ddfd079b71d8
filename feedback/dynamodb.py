"""DynamoDB backend of `FeedbackStore` (boto3 client passed in; on-demand tables; works on dynalite).

The table design is in feedback/dynamodb_tables.py. Writes are idempotent: a turn or pair is
written only if absent; feedback is written with an optimistic check on the stored updated_at,
and an older revision never overwrites a newer one. Tables are created only by
`create_tables()` (`docent stores init`), never implicitly.

>>> store = DynamoDBFeedbackStore(boto3.client("dynamodb", endpoint_url="http://127.0.0.1:4567"))  # doctest: +SKIP
>>> store.create_tables()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from feedback.dynamodb_conversations import DynamoDBConversations
from feedback.dynamodb_tables import VERSION_ID, from_dynamo, oversize_problem, table_definitions, to_dynamo
from feedback.records import Feedback, QAPair, Turn, utc_now
from feedback.store import (
    QAAddResult,
    RecordTooLargeError,
    ReviewFilter,
    SaveResult,
    SessionOwnerError,
    StoreError,
    StoreUnavailableError,
    TimeBound,
    UnknownTurnError,
    check_review_filter,
    days_between,
    in_window,
    merge_feedback,
    select_for_review,
    session_owner_message,
    time_window,
)

TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "LimitExceededException",
}


class DynamoDBFeedbackStore(DynamoDBConversations):
    """`FeedbackStore` on DynamoDB. Pass a boto3 DynamoDB *client*; tables must exist (create_tables)."""

    def __init__(self, client: Any, table_prefix: str = "docent") -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.prefix = table_prefix
        self.turns_table = f"{table_prefix}-turns"
        self.feedback_table = f"{table_prefix}-feedback"
        self.qa_table = f"{table_prefix}-qa"
        self.sessions_table = f"{table_prefix}-sessions"
        self.conversations_table = f"{table_prefix}-conversations"
        self._ser, self._de = TypeSerializer(), TypeDeserializer()

    @classmethod
    def from_settings(cls, settings: Any, client: Any = None) -> DynamoDBFeedbackStore:
        if client is None:
            import os
            from urllib.parse import urlparse

            import boto3
            from botocore.config import Config

            extra: dict[str, str] = {}
            host = urlparse(settings.dynamodb_endpoint_url or "").hostname
            has_credentials = any(os.environ.get(v) for v in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"))
            if host in ("localhost", "127.0.0.1", "::1") and not has_credentials:
                # a local dynalite ignores credentials; don't send the user hunting for some
                extra = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
            client = boto3.session.Session().client(
                "dynamodb",
                region_name=settings.aws_region or "us-east-1",
                endpoint_url=settings.dynamodb_endpoint_url,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10),
                **extra,
            )
        return cls(client, settings.dynamodb_table_prefix)

    # --- plumbing -----------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            return getattr(self.client, operation)(**kwargs)
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnavailableError(
                f"DynamoDB is unreachable ({exc}); check DOCENT_DYNAMODB_ENDPOINT_URL and the network, or try again later."
            ) from exc
        except NoCredentialsError as exc:
            raise StoreError("No AWS credentials for DynamoDB: set AWS_PROFILE or the AWS_* variables.") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_CODES:
                raise StoreUnavailableError(f"DynamoDB is throttling or unavailable ({code}); retry later.") from exc
            if code == "ResourceNotFoundException":
                raise StoreError(
                    f"DynamoDB table {kwargs.get('TableName')!r} does not exist: run `docent stores init` "
                    f"(or check DOCENT_DYNAMODB_TABLE_PREFIX={self.prefix!r} and DOCENT_AWS_REGION)."
                ) from exc
            raise

    def _item(self, data: dict[str, Any]) -> dict[str, Any]:
        # top-level None is left out: index keys (severity, visible_session) must be absent, not NULL
        return {k: self._ser.serialize(v) for k, v in to_dynamo(data).items() if v is not None}

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        return from_dynamo({k: self._de.deserialize(v) for k, v in item.items()})

    def _paged(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call(operation, **kwargs)
            for item in page.get("Items", []):
                yield self._plain(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query_range(self, table: str, index: str, key: str, value: str, lo: str | None, hi: str | None):
        condition, values = "#h = :h", {":h": {"S": value}}
        if lo and hi:
            condition += " AND created_at BETWEEN :lo AND :hi"
            values.update({":lo": {"S": lo}, ":hi": {"S": hi}})
        elif lo or hi:
            condition += " AND created_at " + (">= :b" if lo else "<= :b")
            values[":b"] = {"S": str(lo or hi)}
        return self._paged(
            "query",
            TableName=table,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#h": key},
            ExpressionAttributeValues=values,
        )

    def _is_conditional_failure(self, exc: Exception) -> bool:
        return getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"

    # --- tables -------------------------------------------------------------------------
    def create_tables(self, wait_seconds: float = 300.0) -> list[str]:
        """Create the missing tables and wait until they are ACTIVE; returns the names created."""
        existing = set()
        for page in self.client.get_paginator("list_tables").paginate():
            existing.update(page["TableNames"])
        created = []
        for definition in table_definitions(self.prefix):
            if definition["TableName"] not in existing:
                self._call("create_table", **definition)
                created.append(definition["TableName"])
        deadline = time.monotonic() + wait_seconds
        for name in created:
            while self._call("describe_table", TableName=name)["Table"]["TableStatus"] != "ACTIVE":
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"DynamoDB table {name!r} is not ACTIVE after {wait_seconds:.0f} s; check the console."
                    )
                time.sleep(0.2)
        return created

    def delete_tables(self) -> None:
        for definition in table_definitions(self.prefix):
            try:
                self._call("delete_table", TableName=definition["TableName"])
            except StoreError:
                pass

    # --- size ---------------------------------------------------------------------------
    @staticmethod
    def _turn_data(turn: Turn) -> dict[str, Any]:
        return turn.to_dict() | {"day": turn.day, "visible_session": turn.session_id, "hidden": False, "ratings": {}}

    def check_record(self, record: Turn | Feedback | QAPair) -> None:
        """Refuse an item over DynamoDB's 400 KB limit before any call (and before the outbox queues it)."""
        if isinstance(record, Turn):
            data, what = self._turn_data(record), f"The answer to {record.question[:40]!r}"
        elif isinstance(record, Feedback):
            data = record.to_dict() | {"fkey": f"{record.kind}#{record.reviewer}", "day": record.day, "route": "rag"}
            what = f"The feedback by {record.reviewer} on turn {record.turn_id}"
        else:
            data, what = record.to_dict(), f"The Q&A pair {record.question[:40]!r}"
        problem = oversize_problem(to_dynamo(data), what)
        if problem:
            raise RecordTooLargeError(problem)

    # --- turns --------------------------------------------------------------------------
    def session_owner(self, session_id: str) -> str | None:
        item = self._call(
            "get_item", TableName=self.sessions_table, Key={"session_id": {"S": session_id}}, ConsistentRead=True
        ).get("Item")
        if item:
            return item["owner"]["S"]
        # sessions from before the sessions table: the user of the earliest visible turn owns it
        turns = sorted(
            self._query_range(self.turns_table, "by_session", "visible_session", session_id, None, None),
            key=lambda i: i["created_at"],
        )
        return turns[0]["user"] if turns else None

    def save_turn(self, turn: Turn) -> SaveResult:
        self.check_record(turn)
        owner = self.session_owner(turn.session_id)
        if owner is not None and owner != turn.user:
            raise SessionOwnerError(session_owner_message(turn.session_id))
        try:  # claim the session atomically: two users racing for one new id cannot both win
            self._call(
                "update_item",
                TableName=self.sessions_table,
                Key={"session_id": {"S": turn.session_id}},
                UpdateExpression="SET #o = if_not_exists(#o, :u), created_at = if_not_exists(created_at, :c)",
                ConditionExpression="attribute_not_exists(session_id) OR #o = :u",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":u": {"S": turn.user}, ":c": {"S": turn.created_at}},
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise
            raise SessionOwnerError(session_owner_message(turn.session_id)) from None
        try:
            self._call(
                "put_item",
                TableName=self.turns_table,
                Item=self._item(self._turn_data(turn)),
                ConditionExpression="attribute_not_exists(turn_id)",
            )
        except Exception as exc:
            if not self._is_conditional_failure(exc):
                raise
        # also on a re-delivery: a first delivery may have failed between the two writes
        self.record_turn_in_conversation(turn)
        return SaveResult("saved")

    def _turn_item(self, turn_id: str) -> dict[str, Any] | None:
        item = self._call(
            "get_item", TableName=self.turns_table, Key={"turn_id": {"S": turn_id}}, ConsistentRead=True
        ).get("Item")
        return self._plain(item) if item else None

    def get_turn(self, turn_id: str) -> Turn | None:
        item = self._turn_item(turn_id)
        return Turn.from_dict(item) if item else None

    def _own_visible_items(self, session_id: str, user: str) -> list[dict[str, Any]]:
        if self.session_owner(session_id) != user:
            return []
        record = self._conv_item(session_id, user)
        if record is not None and record.get("deleted_at"):
            return []
        items = self._query_range(self.turns_table, "by_session", "visible_session", session_id, None, None)
        return sorted((i for i in items if i["user"] == user), key=lambda i: i["created_at"])

    def session_turns(self, session_id: str, user: str) -> list[Turn]:
        return [Turn.from_dict(i) for i in self._own_visible_items(session_id, user)]

    def clear_session(self, session_id: str, user: str) -> int:
        count = 0
        for item in self._own_visible_items(session_id, user):
            self._call(
                "update_item",
                TableName=self.turns_table,
                Key={"turn_id": {"S": item["turn_id"]}},
                UpdateExpression="REMOVE visible_session SET #hd = :t",
                ExpressionAttributeNames={"#hd": "hidden"},
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )
            count += 1
        if count:
            self.mark_conversation_cleared(session_id, user)
        return count

    def _turn_items(self, since: TimeBound, until: TimeBound, route: str | None) -> list[dict[str, Any]]:
        lo, hi = time_window(since, until)
        if route:
            items = list(self._query_range(self.turns_table, "by_route", "route", route, lo, hi))
        elif lo:
            hi_day = hi or max(utc_now(), lo)
            items = [
                i
                for day in days_between(lo, hi_day)
                for i in self._query_range(self.turns_table, "by_day", "day", day, lo, hi)
            ]
        else:
            items = [i for i in self._paged("scan", TableName=self.turns_table) if in_window(i["created_at"], lo, hi)]
        return sorted(items, key=lambda i: i["created_at"])

    def list_turns(self, since: TimeBound = None, until: TimeBound = None, route: str | None = None) -> list[Turn]:
        return [Turn.from_dict(i) for i in self._turn_items(since, until, route)]

    # --- feedback -----------------------------------------------------------------------
    def save_feedback(self, feedback: Feedback) -> SaveResult:
        self.check_record(feedback)
        turn = self._call(
            "get_item",
            TableName=self.turns_table,
            Key={"turn_id": {"S": feedback.turn_id}},
            ProjectionExpression="#r",
            ExpressionAttributeNames={"#r": "route"},
            ConsistentRead=True,
        ).get("Item")
        if not turn:
            raise UnknownTurnError(
                f"Feedback names turn {feedback.turn_id!r}, which this store does not hold; save the turn first."
            )
        fkey = f"{feedback.kind}#{feedback.reviewer}"
        key = {"turn_id": {"S": feedback.turn_id}, "fkey": {"S": fkey}}
        for _attempt in range(20):  # optimistic concurrency: re-read and retry on a concurrent revision
            stored = self._call("get_item", TableName=self.feedback_table, Key=key, ConsistentRead=True).get("Item")
            existing = Feedback.from_dict(self._plain(stored)) if stored else None
            keep = merge_feedback(existing, feedback)
            if keep is None:
                break  # an older revision than the stored one: nothing to do
            data = keep.to_dict() | {"fkey": fkey, "day": keep.day, "route": turn["route"]["S"]}
            if existing is None:
                check: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(fkey)"}
            else:
                check = {
                    "ConditionExpression": "updated_at = :seen",
                    "ExpressionAttributeValues": {":seen": {"S": existing.updated_at}},
                }
            try:
                self._call("put_item", TableName=self.feedback_table, Item=self._item(data), **check)
                break
            except Exception as exc:
                if not self._is_conditional_failure(exc):
                    raise
        else:
            raise StoreError(f"Feedback on turn {feedback.turn_id!r} kept changing under us; try saving again.")
        current = self._call("get_item", TableName=self.feedback_table, Key=key, ConsistentRead=True)["Item"]
        thumbs = int(current["thumbs"]["N"]) if "thumbs" in current else 0
        self._call(
            "update_item",
            TableName=self.turns_table,
            Key={"turn_id": {"S": feedback.turn_id}},
            UpdateExpression="SET #r.#k = :v",
            ExpressionAttributeNames={"#r": "ratings", "#k": fkey},
            ExpressionAttributeValues={":v": {"N": str(thumbs)}},
        )
        return SaveResult("saved")

    def feedback_for_turn(self, turn_id: str) -> list[Feedback]:
        items = self._paged(
            "query",
            TableName=self.feedback_table,
            KeyConditionExpression="turn_id = :t",
            ExpressionAttributeValues={":t": {"S": turn_id}},
            ConsistentRead=True,
        )
        return sorted((Feedback.from_dict(i) for i in items), key=lambda f: (f.created_at, f.reviewer, f.kind))

    def list_feedback(
        self,
        since: TimeBound = None,
        until: TimeBound = None,
        route: str | None = None,
        reviewer: str | None = None,
        severity: str | None = None,
    ) -> list[Feedback]:
        lo, hi = time_window(since, until)
        table = self.feedback_table
        if reviewer:
            items = self._query_range(table, "by_reviewer", "reviewer", reviewer, lo, hi)
        elif severity:
            items = self._query_range(table, "by_severity", "severity", severity, lo, hi)
        elif route:
            items = self._query_range(table, "by_route", "route", route, lo, hi)
        elif lo:
            items = (
                i
                for day in days_between(lo, hi or max(utc_now(), lo))
                for i in self._query_range(table, "by_day", "day", day, lo, hi)
            )
        else:
            items = self._paged("scan", TableName=table)
        wanted = {"route": route, "reviewer": reviewer, "severity": severity}
        chosen = [
            i
            for i in items
            if in_window(i["created_at"], lo, hi) and all(v is None or i.get(k) == v for k, v in wanted.items())
        ]
        return sorted((Feedback.from_dict(i) for i in chosen), key=lambda f: (f.created_at, f.reviewer, f.kind))

    def review_queue(
        self,
        filter: ReviewFilter = "unrated",
        route: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        confidence_below: float | None = None,
        limit: int = 200,
    ) -> list[Turn]:
        check_review_filter(filter)
        items = self._turn_items(since, until, route)
        ratings = {i["turn_id"]: list((i.get("ratings") or {}).values()) for i in items}
        return select_for_review([Turn.from_dict(i) for i in items], ratings, filter, confidence_below, limit)

    # --- Q&A pairs ----------------------------------------------------------------------
    def add_qa_pairs(self, pairs: Sequence[QAPair], *, replace: bool = False) -> QAAddResult:
        result = QAAddResult()
        for pair in pairs:
            self.check_record(pair)
        for pair in pairs:
            if replace:
                old = self._call(
                    "put_item", TableName=self.qa_table, Item=self._item(pair.to_dict()), ReturnValues="ALL_OLD"
                ).get("Attributes")
                if old:
                    result.replaced += 1
                else:
                    result.added += 1
                continue
            try:
                self._call(
                    "put_item",
                    TableName=self.qa_table,
                    Item=self._item(pair.to_dict()),
                    ConditionExpression="attribute_not_exists(pair_id)",
                )
                result.added += 1
            except Exception as exc:
                if not self._is_conditional_failure(exc):
                    raise
                result.duplicates += 1
                result.duplicate_questions.append(pair.question)
        if result.added or result.replaced:
            self._bump_version()
        return result

    def list_qa_pairs(self) -> list[QAPair]:
        items = [
            i for i in self._paged("scan", TableName=self.qa_table, ConsistentRead=True) if i["pair_id"] != VERSION_ID
        ]
        return sorted((QAPair.from_dict(i) for i in items), key=lambda p: (p.created_at, p.pair_id))

    def delete_qa_pair(self, pair_id: str) -> bool:
        if pair_id == VERSION_ID:
            return False
        old = self._call(
            "delete_item", TableName=self.qa_table, Key={"pair_id": {"S": pair_id}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        if old:
            self._bump_version()
        return bool(old)

    def _bump_version(self) -> None:
        self._call(
            "update_item",
            TableName=self.qa_table,
            Key={"pair_id": {"S": VERSION_ID}},
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def qa_version(self) -> str:
        item = self._call(
            "get_item", TableName=self.qa_table, Key={"pair_id": {"S": VERSION_ID}}, ConsistentRead=True
        ).get("Item")
        return item["version"]["N"] if item else "0"

    def close(self) -> None:
        pass
