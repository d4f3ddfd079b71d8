"""DynamoDB table design and type conversion for feedback/dynamodb.py.

Tables (prefix from DOCENT_DYNAMODB_TABLE_PREFIX), all on-demand:
- `{prefix}-turns`    key turn_id. GSIs: by_session (visible_session, created_at; sparse, so
                      clearing a session drops its turns from it), by_day (day, created_at),
                      by_route (route, created_at). `ratings` maps "kind#reviewer" -> thumbs (0 for
                      reviews) so the review queue needs no join.
- `{prefix}-feedback` key (turn_id, fkey="kind#reviewer"). GSIs: by_day, by_route (the turn's
                      route, copied), by_reviewer, by_severity (sparse); all ranged on created_at.
- `{prefix}-qa`       key pair_id (hash of the normalised question) + one "#version" counter item.

>>> [t["TableName"] for t in table_definitions("acme")]
['acme-turns', 'acme-feedback', 'acme-qa']
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

VERSION_ID = "#version"


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
    ]
