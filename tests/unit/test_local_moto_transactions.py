"""moto's `TransactWriteItems` as the local stack runs it: items backed up, never whole tables, same outcomes.

moto deep-copied every table a transaction names to roll back a failure, so each whitelisting and each delivered
send cost time in proportion to everything stored: under load the local stack slowed to seconds per request and
grew by gigabytes. `lighten_transaction_backups` keeps the rollback and copies only the items named.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from infra.local.moto_backend import lighten_transaction_backups

TABLE = "items"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Restored after the test: the rest of the session sees moto as it was.
    monkeypatch.setitem(vars(models), "copy", vars(models)["copy"])
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    lighten_transaction_backups()
    lighten_transaction_backups()

    def no_table_copies(_table: Table, _memo: dict[int, Any]) -> Table:
        raise AssertionError("a whole table was copied")

    monkeypatch.setattr(Table, "__deepcopy__", no_table_copies, raising=False)
    with mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(3):
            client.put_item(TableName=TABLE, Item={"pk": {"S": "trial"}, "sk": {"S": f"m{n}"}, "count": {"N": "1"}})
        yield client


def _items(client: Any) -> dict[str, dict[str, Any]]:
    items = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {item["sk"]["S"]: item for item in items}


def _add_one(sk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "trial"}, "sk": {"S": sk}},
            "UpdateExpression": "ADD #count :one",
            "ExpressionAttributeNames": {"#count": "count"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def _put_new(sk: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"pk": {"S": "trial"}, "sk": {"S": sk}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def test_a_transaction_that_succeeds_changes_every_item(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[_add_one("m0"), _put_new("new"), _add_one("m1")])
    items = _items(dynamodb)
    assert items["m0"]["count"] == {"N": "2"}
    assert items["m1"]["count"] == {"N": "2"}
    assert "new" in items
    assert items["m2"]["count"] == {"N": "1"}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    before = _items(dynamodb)
    failing = {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "trial"}, "sk": {"S": "m2"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_add_one("m0"), _put_new("new"), failing])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _items(dynamodb) == before


def test_an_invalid_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    before = _items(dynamodb)
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_add_one("m0"), _add_one("m0")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _items(dynamodb) == before
