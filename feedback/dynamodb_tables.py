"""DynamoDB table design and type conversion for feedback/dynamodb.py.

Tables (prefix from DOCENT_DYNAMODB_TABLE_PREFIX), all on-demand:
- `{prefix}-turns`    key turn_id. GSIs: by_session (visible_session, created_at; sparse, so
                      clearing a session drops its turns from it), by_day (day, created_at),
                      by_route (route, created_at). `ratings` maps "kind#reviewer" -> thumbs (0 for
                      reviews) so the review queue needs no join.
- `{prefix}-feedback` key (turn_id, fkey="kind#reviewer"). GSIs: by_day, by_route (the turn's
                      route, copied), by_reviewer, by_severity (sparse); all ranged on created_at.
- `{prefix}-qa`       key pair_id (hash of the normalised question) + one "#version" counter item.
- `{prefix}-sessions` key session_id; `owner` is the user whose first turn opened it (issue 11).
- `{prefix}-conversations` key (owner, session_id): the owner's list (title, last activity,
                      deleted_at, share_secret; issue 12), one consistent Query per user.

>>> [t["TableName"] for t in table_definitions("acme")]
['acme-turns', 'acme-feedback', 'acme-qa', 'acme-sessions', 'acme-conversations']
>>> item_size({"turn_id": "abc", "n": 12})  # names and values: 7 + 3 + 1 + 2
13
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

VERSION_ID = "#version"
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, attribute names included


def _value_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value (its documented item-size rules; numbers rounded up)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (int, float, Decimal)):
        digits = len(str(value).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode("utf-8")) + _value_size(v) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return 3 + sum(_value_size(v) + 1 for v in value)
    return len(str(value).encode("utf-8"))


def item_size(item: dict[str, Any]) -> int:
    """Size of an item as DynamoDB counts it against MAX_ITEM_BYTES (top-level None is not stored)."""
    return sum(len(k.encode("utf-8")) + _value_size(v) for k, v in item.items() if v is not None)


def oversize_problem(item: dict[str, Any], what: str) -> str | None:
    """The message for an item DynamoDB would refuse (naming its longest text), or None when it fits."""
    size = item_size(item)
    if size <= MAX_ITEM_BYTES:
        return None
    texts = [(k, len(v)) for k, v in item.items() if isinstance(v, str)]
    name, chars = max(texts, key=lambda kv: kv[1]) if texts else ("?", 0)
    return (
        f"{what} is {size / 1024:.0f} KB as a DynamoDB item; DynamoDB stores at most {MAX_ITEM_BYTES // 1024} KB "
        f"per item. Its longest text, {name.replace('_', ' ')}, has {chars:,} characters: shorten it and save again "
        "(the limits are DOCENT_MAX_COMMENT_CHARS and DOCENT_MAX_ANSWER_CHARS)."
    )


def to_dynamo(value: Any) -> Any:
    """Floats become Decimal (DynamoDB has no float); NaN and infinities become None (NULL)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def _gsi(name: str, hash_key: str, range_key: str = "created_at") -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }


def table_definitions(prefix: str) -> list[dict[str, Any]]:
    """CreateTable requests for the three tables (on-demand billing)."""

    def attrs(*names: str) -> list[dict[str, str]]:
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    return [
        {
            "TableName": f"{prefix}-turns",
            "KeySchema": [{"AttributeName": "turn_id", "KeyType": "HASH"}],
            "AttributeDefinitions": attrs("turn_id", "visible_session", "day", "route", "created_at"),
            "GlobalSecondaryIndexes": [
                _gsi("by_session", "visible_session"),
                _gsi("by_day", "day"),
                _gsi("by_route", "route"),
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": f"{prefix}-feedback",
            "KeySchema": [
                {"AttributeName": "turn_id", "KeyType": "HASH"},
                {"AttributeName": "fkey", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": attrs("turn_id", "fkey", "day", "route", "reviewer", "severity", "created_at"),
            "GlobalSecondaryIndexes": [
                _gsi("by_day", "day"),
                _gsi("by_route", "route"),
                _gsi("by_reviewer", "reviewer"),
                _gsi("by_severity", "severity"),
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": f"{prefix}-qa",
            "KeySchema": [{"AttributeName": "pair_id", "KeyType": "HASH"}],
            "AttributeDefinitions": attrs("pair_id"),
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": f"{prefix}-sessions",
            "KeySchema": [{"AttributeName": "session_id", "KeyType": "HASH"}],
            "AttributeDefinitions": attrs("session_id"),
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": f"{prefix}-conversations",
            "KeySchema": [
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "session_id", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": attrs("owner", "session_id"),
            "BillingMode": "PAY_PER_REQUEST",
        },
    ]
