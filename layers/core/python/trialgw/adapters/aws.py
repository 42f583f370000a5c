"""Lazily built, cached boto3 clients: nothing is created at import time (cold start is measured).

Their timeouts and retries are the time budget's (`trialgw.budgets`): `AWS_CALL` for every AWS service the functions
use, `SMS_CALL` for the aws-sms provider. Every function's budget counts on these same limits (a test checks), so
one client per service serves all the functions of a process.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from trialgw.budgets import AWS_CALL, SMS_CALL, CallLimits

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

# A server may ask botocore to wait longer before a retry (up to 5 s more than its own back-off); the budget counts
# botocore's back-off only, so the clients do not listen.
RETRY_AFTER_HEADER = "x-amz-retry-after"


def client_config(limits: CallLimits) -> Config:
    """botocore's configuration for calls within `limits`."""
    from botocore.config import Config

    return Config(
        connect_timeout=limits.connect_seconds,
        read_timeout=limits.read_seconds,
        retries={"mode": "standard", "total_max_attempts": limits.attempts},
    )


def _ignore_retry_after(response: Any = None, **_kwargs: Any) -> None:
    http_response = response[0] if isinstance(response, tuple) and response else None
    headers = getattr(http_response, "headers", None)
    if headers is not None and RETRY_AFTER_HEADER in headers:
        del headers[RETRY_AFTER_HEADER]


def _client(service: str, limits: CallLimits) -> Any:
    import boto3

    client = boto3.client(service, config=client_config(limits))  # type: ignore[call-overload]
    # Before botocore's own retry handler, which is registered for exactly this event.
    event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register_first(event, _ignore_retry_after)
    return client


@cache
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb", AWS_CALL)
    return client


@cache
def sesv2() -> SESV2Client:
    client: SESV2Client = _client("sesv2", AWS_CALL)
    return client


@cache
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs", AWS_CALL)
    return client


@cache
def secretsmanager() -> SecretsManagerClient:
    client: SecretsManagerClient = _client("secretsmanager", AWS_CALL)
    return client


def budget_secrets() -> None:
    """Makes Powertools' `parameters.get_secret` read through `secretsmanager()`, within the budget's limits (its
    own default client waits up to a minute per call). Call before `get_secret`; a provider already set (a test's)
    is kept."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from botocore.exceptions import BotoCoreError

    if "secrets" in DEFAULT_PROVIDERS:
        return
    try:
        DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=secretsmanager())
    except BotoCoreError:
        # No client here (no region): Powertools' own would fail the same way, and `get_secret` reports it.
        return


@cache
def sms_voice() -> Any:
    """AWS End User Messaging SMS (`pinpoint-sms-voice-v2`)."""
    return _client("pinpoint-sms-voice-v2", SMS_CALL)
