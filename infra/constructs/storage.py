"""DynamoDB tables: one per `trialgw.names.TABLES`, all with the same key shape, billing and safety nets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from trialgw import names

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


# Why a function given a table with indexes may read them all (cdk-nag AwsSolutions-IAM5, acknowledged per role).
INDEX_WILDCARD_REASON = (
    "CDK grants a table's data together with its global secondary indexes (<table ARN>/index/*): the names in "
    "trialgw.names.TableDef.indexes of this one table, keys only, and nothing of any other table."
)


class Storage(Construct):
    """The tables, by their logical name (`tables["trials"]`).

    On-demand billing (trial traffic is spiky and mostly idle), TTL on `names.TTL_ATTRIBUTE` as the
    garbage collector (reads check expiry in code), point-in-time recovery, AWS-managed KMS keys.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definitions: Sequence[names.TableDef] = names.TABLES,
        deletion_protection: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        (partition_key, partition_type), (sort_key, sort_type) = names.KEY_ATTRIBUTES
        self.tables: dict[str, dynamodb.Table] = {}
        for definition in definitions:
            table = self.tables[definition.logical] = dynamodb.Table(
                self,
                definition.logical.capitalize(),
                partition_key=dynamodb.Attribute(name=partition_key, type=_ATTRIBUTE_TYPES[partition_type]),
                sort_key=dynamodb.Attribute(name=sort_key, type=_ATTRIBUTE_TYPES[sort_type]),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                time_to_live_attribute=names.TTL_ATTRIBUTE,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                deletion_protection=deletion_protection,
                removal_policy=removal_policy,
            )
            for index in definition.indexes:
                # Keys only: a reader needs the records' keys (which name the trial, the time and the message).
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(
                        name=index.partition_key[0], type=_ATTRIBUTE_TYPES[index.partition_key[1]]
                    ),
                    sort_key=dynamodb.Attribute(name=index.sort_key[0], type=_ATTRIBUTE_TYPES[index.sort_key[1]]),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                )

    def index_finding(self, logical: str) -> str | None:
        """The cdk-nag finding a grant on table `logical` raises for its indexes (`<table ARN>/index/*`), None when it
        has no index."""
        table = self.tables[logical]
        if not any(t.logical == logical and t.indexes for t in names.TABLES):
            return None
        logical_id = Stack.of(self).resolve(Stack.of(self).get_logical_id(cast(CfnElement, table.node.default_child)))
        return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]"
