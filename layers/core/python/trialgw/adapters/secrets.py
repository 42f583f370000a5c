"""Webhook secrets: from Secrets Manager in AWS (cached by Powertools), from settings locally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trialgw.errors import DependencyUnavailable
from trialgw.settings import MoWebhookSettings

# A rotated secret is picked up within this many seconds, without a cold start.
SECRET_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    cm_webhook_secret: str
    meta_app_secret: str
    meta_verify_token: str

    def __repr__(self) -> str:
        # Never print a secret, whoever logs this object.
        return "WebhookSecrets(***)"


def webhook_secrets(settings: MoWebhookSettings) -> WebhookSecrets:
    """The secrets the webhooks check; an unset secret is "" and matches nothing."""
    if not settings.webhook_secrets_name:
        return WebhookSecrets(
            settings.cm_webhook_secret or "", settings.meta_app_secret or "", settings.meta_verify_token or ""
        )
    from aws_lambda_powertools.utilities import parameters

    from trialgw.adapters import aws

    aws.budget_secrets()
    try:
        value: Any = parameters.get_secret(
            settings.webhook_secrets_name, transform="json", max_age=SECRET_CACHE_SECONDS
        )
    except parameters.exceptions.GetParameterError as error:
        raise DependencyUnavailable("The webhook secrets could not be read; please retry.") from error
    except parameters.exceptions.TransformParameterError as error:
        raise DependencyUnavailable("The webhook secrets are not valid JSON; the operator must fix them.") from error
    if not isinstance(value, dict):
        raise DependencyUnavailable("The webhook secrets must be a JSON object; the operator must fix them.")
    return WebhookSecrets(
        str(value.get("cm_webhook_secret") or ""),
        str(value.get("meta_app_secret") or ""),
        str(value.get("meta_verify_token") or ""),
    )
