"""AWS End User Messaging SMS (pinpoint-sms-voice-v2): sending texts from this account's origination identities."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs import acknowledge

SEND_ACTION = "sms-voice:SendTextMessage"
# The resource types SendTextMessage authorizes (Service Authorization Reference), as `<type>/<id>` ARN
# resources: the origination identity sent from (a phone number, a sender ID, or a pool choosing one) and
# the configuration set. The reference lists a fifth, protect-configuration, which a request names only
# with a ProtectConfigurationId; the delivery function sends none, so it is not granted.
SEND_RESOURCE_TYPES = ("phone-number", "sender-id", "pool", "configuration-set")
# Why each of those ARNs ends in a wildcard (cdk-nag AwsSolutions-IAM5, acknowledged per resource).
WILDCARD_REASON = (
    "SendTextMessage is authorized on the origination identity a message is sent from and its configuration "
    "set; which identity that is depends on the message (the developer's validated sender, a fixed sender or "
    "pool from the smsOriginationIdentity knob, or End User Messaging's own choice) and these resources are "
    "created outside this stack, so the grant covers this account's and region's {kind} resources only."
)


class Sms(Construct):
    """The ARNs a function that sends SMS may send through: this account's and region's identities."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.send_resource_arns = {
            kind: stack.format_arn(
                service="sms-voice",
                resource=kind,
                resource_name="*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for kind in SEND_RESOURCE_TYPES
        }

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """sms-voice:SendTextMessage through this account's phone numbers, sender IDs, pools and configuration sets."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[SEND_ACTION],
            resource_arns=list(self.send_resource_arns.values()),
        )
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            for kind in self.send_resource_arns:
                acknowledge(
                    principal, f"AwsSolutions-IAM5[Resource::{_nag_arn(kind)}]", WILDCARD_REASON.format(kind=kind)
                )
        return grant


def _nag_arn(kind: str) -> str:
    """The ARN of `send_resource_arns[kind]` as cdk-nag names it in a finding (pseudo parameters in <>)."""
    return f"arn:<AWS::Partition>:sms-voice:<AWS::Region>:<AWS::AccountId>:{kind}/*"
