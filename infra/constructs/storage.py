"""DynamoDB tables: one per `trialgw.names.TABLES`, all with the same key shape, billing and safety nets."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from trialgw import names

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


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
            self.tables[definition.logical] = dynamodb.Table(
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
