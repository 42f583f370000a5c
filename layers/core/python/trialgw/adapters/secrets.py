"""Secrets in Secrets Manager (cached by Powertools): one reader for the webhook secrets and the providers'
credentials, and the webhook secrets (from settings locally)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trialgw.errors import DependencyUnavailable
from trialgw.settings import MoWebhookSettings

# A rotated or newly filled secret is picked up within this many seconds, without a cold start.
SECRET_CACHE_SECONDS = 300


class SecretProblem(StrEnum):
    UNREADABLE = "unreadable"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"


class SecretUnreadable(Exception):
    """A JSON secret that could not be used; `error` is the type of what failed (never its text, which could quote
    the secret)."""

    def __init__(self, problem: SecretProblem, error: str) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.error = error


def read_json_secret(name: str) -> dict[str, Any] | None:
    """The JSON object in secret `name` (cached `SECRET_CACHE_SECONDS`), or None when the secret has no value yet
    (the stack creates it empty). Raises SecretUnreadable."""
    from aws_lambda_powertools.utilities import parameters

    from trialgw.adapters import aws

    # Within the time budget's limits (Powertools' own client would wait up to a minute).
    aws.budget_secrets()
    try:
        value: Any = parameters.get_secret(name, transform="json", max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        if _has_no_value(error):
            return None
        raise SecretUnreadable(SecretProblem.UNREADABLE, type(error).__name__) from None
    except parameters.exceptions.TransformParameterError as error:
        raise SecretUnreadable(SecretProblem.NOT_JSON, type(error).__name__) from None
    if not isinstance(value, dict):
        raise SecretUnreadable(SecretProblem.NOT_OBJECT, type(value).__name__)
    return value


def _has_no_value(error: Exception) -> bool:
    """Whether Secrets Manager answered ResourceNotFoundException: what GetSecretValue says of a secret with no
    value (no AWSCURRENT version), as the stack creates it. Powertools wraps the botocore error it raised in."""
    cause = error.__cause__ or error.__context__
    details = getattr(cause, "response", None)
    return isinstance(details, dict) and details.get("Error", {}).get("Code") == "ResourceNotFoundException"


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    cm_webhook_secret: str
    meta_app_secret: str
    meta_verify_token: str

    def __repr__(self) -> str:
        # Never print a secret, whoever logs this object.
        return "WebhookSecrets(***)"


_WEBHOOK_PROBLEMS = {
    SecretProblem.UNREADABLE: "The webhook secrets could not be read; please retry.",
    SecretProblem.NOT_JSON: "The webhook secrets are not valid JSON; the operator must fix them.",
    SecretProblem.NOT_OBJECT: "The webhook secrets must be a JSON object; the operator must fix them.",
}


def webhook_secrets(settings: MoWebhookSettings) -> WebhookSecrets:
    """The secrets the webhooks check; an unset secret is "" and matches nothing."""
    if not settings.webhook_secrets_name:
        return WebhookSecrets(
            settings.cm_webhook_secret or "", settings.meta_app_secret or "", settings.meta_verify_token or ""
        )
    try:
        value = read_json_secret(settings.webhook_secrets_name)
    except SecretUnreadable as error:
        raise DependencyUnavailable(_WEBHOOK_PROBLEMS[error.problem]) from error
    if value is None:
        # The stack generates the CM secret at creation: a secret without a value is a transient read failure.
        raise DependencyUnavailable(_WEBHOOK_PROBLEMS[SecretProblem.UNREADABLE])
    return WebhookSecrets(
        str(value.get("cm_webhook_secret") or ""),
        str(value.get("meta_app_secret") or ""),
        str(value.get("meta_verify_token") or ""),
    )
