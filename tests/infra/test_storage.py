"""DynamoDB tables: one per names.TABLES, on-demand, TTL, PITR, encryption, deletion protection."""

from __future__ import annotations

from typing import Any

from tests.infra.cfn import output_resource, outputs, props, referenced_id, resources
from tests.infra.conftest import Synthesized
from trialgw import names


def _tables(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [props(table) for _, table in resources(template, "AWS::DynamoDB::Table")]


def test_one_table_per_table_definition(template_json: dict[str, Any]) -> None:
    assert len(_tables(template_json)) == len(names.TABLES)
    table_outputs = {referenced_id(v) for k, v in outputs(template_json).items() if k.endswith("TableName")}
    assert table_outputs == {logical_id for logical_id, _ in resources(template_json, "AWS::DynamoDB::Table")}


def test_every_table_has_the_shared_key_shape_billing_ttl_and_pitr(template_json: dict[str, Any]) -> None:
    for definition in names.TABLES:
        _, resource = output_resource(template_json, f"{definition.logical.capitalize()}TableName")
        table = props(resource)
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
            (names.PARTITION_KEY, "HASH"),
            (names.SORT_KEY, "RANGE"),
        ]
        index_keys = {key for index in definition.indexes for key in (index.partition_key, index.sort_key)}
        assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == (
            set(names.KEY_ATTRIBUTES) | index_keys
        )
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["TimeToLiveSpecification"] == {"AttributeName": names.TTL_ATTRIBUTE, "Enabled": True}
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        # AWS-managed KMS key (aws/dynamodb), not the default AWS-owned one.
        assert table["SSESpecification"] == {"SSEEnabled": True}
        # Indexes as names.TableDef declares them, projecting keys only.
        assert [
            (
                i["IndexName"],
                [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]],
                i["Projection"]["ProjectionType"],
            )
            for i in table.get("GlobalSecondaryIndexes", [])
        ] == [
            (index.name, [(index.partition_key[0], "HASH"), (index.sort_key[0], "RANGE")], "KEYS_ONLY")
            for index in definition.indexes
        ]


def test_deletion_protection_follows_the_knob(synthesized: Synthesized) -> None:
    assert synthesized.stack.config.deletion_protection is True  # cdk.json's default
    for _, table in resources(synthesized.template_json, "AWS::DynamoDB::Table"):
        assert props(table)["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
    for _, table in resources(synthesized.variant_json, "AWS::DynamoDB::Table"):
        assert props(table)["DeletionProtectionEnabled"] is False
        assert table["DeletionPolicy"] == "Delete"
