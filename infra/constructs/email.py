"""SES v2: the identity trial e-mails are sent from, and the configuration set every send goes through."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")


class Email(Construct):
    """An e-mail address identity, or a domain identity when `domain` is given (DKIM DNS records to add
    are then in `identity.dkim_records`), with a configuration set as the identity's default.

    A new SES account is in the sandbox: it can mail only verified addresses until AWS lifts that.
    """

    def __init__(self, scope: Construct, construct_id: str, *, sender_email: str, domain: str | None) -> None:
        super().__init__(scope, construct_id)
        if domain and not sender_email.lower().endswith(f"@{domain.lower()}"):
            raise ValueError(f"senderEmail {sender_email!r} is not an address of sesDomain {domain!r}")
        self.sender_email = sender_email
        self.domain = domain
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            # The mail carries a trial key: never hand it to a receiving server in clear text.
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            reputation_metrics=True,
            sending_enabled=True,
        )
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=ses.Identity.domain(domain) if domain else ses.Identity.email(sender_email),
            configuration_set=self.configuration_set,
        )
        self.configuration_set_name = self.configuration_set.configuration_set_name
        self.configuration_set_arn = Stack.of(self).format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set_name
        )

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Send through this identity and configuration set only, and only from `sender_email`."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(SEND_ACTIONS),
            resource_arns=[self.identity.email_identity_arn, self.configuration_set_arn],
            conditions={"StringEquals": {"ses:FromAddress": self.sender_email}},
        )
