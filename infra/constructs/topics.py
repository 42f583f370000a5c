"""SNS topics: one per `trialgw.names.TOPICS`, each encrypted and open to AWS End User Messaging.

End User Messaging SMS publishes a two-way number's inbound texts to the topic named as the number's
`TwoWayChannelArn`. It must be allowed twice: by the topic policy (sns:Publish) and by the key policy
of the topic's KMS key. AWS-managed keys (alias/aws/sns) cannot be given to another service, so each
topic has its own customer-managed key, rotated yearly by KMS.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from trialgw import names

END_USER_MESSAGING = "sms-voice.amazonaws.com"


class Topics(Construct):
    """The topics, by their logical name (`topics["twoWaySms"]`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definitions: Sequence[names.TopicDef] = names.TOPICS,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Only End User Messaging of this account, acting for one of its own resources (a phone
        # number, pool or configuration set): no confused deputy from another account.
        source_conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:sms-voice:{stack.region}:{stack.account}:*"},
        }
        self.by_logical: dict[str, sns.Topic] = {}
        self.keys: dict[str, kms.Key] = {}
        for definition in definitions:
            construct_name = _pascal(definition.logical)
            key = kms.Key(
                self,
                f"{construct_name}Key",
                description=f"trialgw {definition.logical} topic (SNS) encryption",
                enable_key_rotation=True,
                removal_policy=removal_policy,
                pending_window=Duration.days(7),
            )
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="EndUserMessagingPublishes",
                    principals=[iam.ServicePrincipal(END_USER_MESSAGING)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy, "*" is this key
                    conditions=source_conditions,
                )
            )
            topic = sns.Topic(
                self,
                construct_name,
                display_name=f"trialgw {definition.logical}",
                master_key=key,
                enforce_ssl=True,
            )
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="EndUserMessagingPublishes",
                    principals=[iam.ServicePrincipal(END_USER_MESSAGING)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions=source_conditions,
                )
            )
            self.by_logical[definition.logical] = topic
            self.keys[definition.logical] = key

    def __getitem__(self, logical: str) -> sns.Topic:
        return self.by_logical[logical]


def _pascal(logical: str) -> str:
    return logical[:1].upper() + logical[1:]
