"""DynamoDB backend pieces that need no server: type conversion, table design, error translation."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from feedback.dynamodb import DynamoDBFeedbackStore, from_dynamo, table_definitions, to_dynamo
from feedback.store import StoreError, StoreUnavailableError


def test_floats_become_decimals_and_back():
    data = {"confidence": 0.73, "timings": {"llm": 12.5}, "refs": [{"score": 1.0, "url": None}], "n": 3, "ok": True}
    stored = to_dynamo(data)
    assert stored["confidence"] == Decimal("0.73") and stored["refs"][0]["score"] == Decimal("1.0")
    assert to_dynamo(float("nan")) is None
    assert from_dynamo(stored) == data


def test_tables_are_on_demand_with_the_indexes_the_queries_need():
    tables = {t["TableName"]: t for t in table_definitions("acme")}
    assert set(tables) == {"acme-turns", "acme-feedback", "acme-qa", "acme-sessions", "acme-conversations"}
    assert all(t["BillingMode"] == "PAY_PER_REQUEST" for t in tables.values())
    indexes = {name: {i["IndexName"] for i in t.get("GlobalSecondaryIndexes", [])} for name, t in tables.items()}
    assert indexes["acme-turns"] == {"by_session", "by_day", "by_route"}
    assert indexes["acme-feedback"] == {"by_day", "by_route", "by_reviewer", "by_severity"}
    assert tables["acme-sessions"]["KeySchema"] == [{"AttributeName": "session_id", "KeyType": "HASH"}]
    assert tables["acme-conversations"]["KeySchema"] == [  # a user's list is one Query on the table itself
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "session_id", "KeyType": "RANGE"},
    ]


def _client(endpoint="http://127.0.0.1:9"):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )


def test_unreachable_endpoint_is_store_unavailable():
    store = DynamoDBFeedbackStore(_client("http://127.0.0.1:9"))  # nothing listens on port 9 (discard)
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        store.get_turn("t")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", StoreUnavailableError),
        ("ProvisionedThroughputExceededException", StoreUnavailableError),
        ("ResourceNotFoundException", StoreError),
    ],
)
def test_service_errors_are_translated(code, error):
    client = _client()
    store = DynamoDBFeedbackStore(client, "acme")
    with Stubber(client) as stub:
        stub.add_client_error("get_item", service_error_code=code)
        with pytest.raises(error) as info:
            store.get_turn("t")
    if code == "ResourceNotFoundException":
        assert "docent stores init" in str(info.value) and not isinstance(info.value, StoreUnavailableError)
