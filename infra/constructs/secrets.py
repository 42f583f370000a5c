"""Secrets Manager: the webhook secrets and the providers' credentials, never in the template."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs import acknowledge

# The JSON keys `trialgw.adapters.secrets.webhook_secrets` reads: the first is generated here, the
# others (Meta's) the operator fills in.
SECRET_KEYS = ("cm_webhook_secret", "meta_app_secret", "meta_verify_token")
GENERATED_KEY, *OPERATOR_KEYS = SECRET_KEYS
# The JSON keys the delivery function reads (fields of `trialgw.settings.DeliverySettings`): credentials the
# channel providers issue, which the operator fills in.
PROVIDER_SECRET_KEYS = ("cm_product_token", "whatsapp_access_token", "messenger_page_token", "instagram_access_token")
# 48 letters and digits (~285 bits): safe as a URL path segment without escaping.
CM_SECRET_LENGTH = 48


class WebhookSecrets(Construct):
    """One JSON secret holding every webhook secret.

    Secrets Manager generates `cm_webhook_secret` at creation (it becomes the last path segment of
    the CM MO webhook URL); the Meta values stay empty until the operator copies them from their
    Meta app (an empty value refuses every call to that webhook). Nothing secret is in the template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=(
                "trialgw webhook secrets: cm_webhook_secret (generated; the CM MO webhook path), "
                "meta_app_secret and meta_verify_token (fill in from your Meta app)"
            ),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(dict.fromkeys(OPERATOR_KEYS, "")),
                generate_string_key=GENERATED_KEY,
                password_length=CM_SECRET_LENGTH,
                exclude_punctuation=True,
                include_space=False,
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "These secrets are shared with external providers (CM's MO webhook URL, the Meta app's "
            "secret and verify token); automatic rotation would break the webhooks, so the operator "
            "rotates each value here and at the provider at once.",
        )
        self.secret_name = self.secret.secret_name

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.secret.grant_read(grantee)


class ProviderSecrets(Construct):
    """One JSON secret holding the channel providers' credentials (see `PROVIDER_SECRET_KEYS`).

    Created with every key present and empty: the template holds only empty placeholders, and a
    channel whose credential is empty stays on the sandbox provider until the operator puts the
    provider-issued value here (`aws secretsmanager put-secret-value` with the whole JSON).
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=(
                "trialgw channel provider credentials: cm_product_token (CM), whatsapp_access_token, "
                "messenger_page_token and instagram_access_token (Meta); fill in after deploying"
            ),
            # Empty strings, never a credential: the operator replaces them outside CloudFormation.
            secret_object_value={key: SecretValue.unsafe_plain_text("") for key in PROVIDER_SECRET_KEYS},
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "These credentials are issued by CM and Meta, and only they can issue new ones; a Secrets "
            "Manager rotation function cannot, so the operator rotates each token at the provider and "
            "puts the new value here.",
        )
        self.secret_name = self.secret.secret_name

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.secret.grant_read(grantee)
