"""Secrets Manager: the webhook secrets and the providers' credentials, never in the template."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs import acknowledge
from trialgw.providers.registry import PROVIDER_SECRET_KEYS, WEBHOOK_SECRET_KEYS

# The JSON keys `trialgw.adapters.secrets.webhook_secrets` reads, as the provider packages declare them: the first
# (CM's) is generated here, the others (Meta's) the operator fills in.
SECRET_KEYS = WEBHOOK_SECRET_KEYS
GENERATED_KEY, *OPERATOR_KEYS = SECRET_KEYS
# The JSON keys of the provider secret are `trialgw.providers.registry.PROVIDER_SECRET_KEYS`: the delivery function
# reads them and `trialgw-admin` (which must not import infra/) sets them.
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

    Created with no value at all: the template holds neither a value nor a generator, so no deploy,
    first or later, ever writes the secret's value, and the operator's tokens survive every stack
    update. Until the operator puts a value (`trialgw-admin providers set-credential` or `aws
    secretsmanager put-secret-value`), the delivery function reads "no credentials" and each channel
    stays on the sandbox provider.
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=(
                f"trialgw channel provider credentials ({', '.join(PROVIDER_SECRET_KEYS)}): set them after "
                "deploying with trialgw-admin providers set-credential; a deploy never writes them"
            ),
            removal_policy=removal_policy,
        )
        # Without SecretString or GenerateSecretString, CloudFormation creates an empty secret (no
        # version). The L2 Secret always adds a default generator, so it is taken out of the L1.
        resource = self.secret.node.default_child
        if not isinstance(resource, secretsmanager.CfnSecret):
            raise TypeError("the provider secret's resource is not an AWS::SecretsManager::Secret")
        resource.add_property_deletion_override("GenerateSecretString")
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
