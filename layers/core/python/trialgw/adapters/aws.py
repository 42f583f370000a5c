"""Lazily built, cached boto3 clients: nothing is created at import time (cold start is measured)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient


def _config() -> Config:
    from botocore.config import Config

    # Fail fast inside an API Gateway request (29 s hard limit): short timeouts, few retries.
    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def dynamodb() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", config=_config())


@cache
def sesv2() -> SESV2Client:
    import boto3

    return boto3.client("sesv2", config=_config())


@cache
def sqs() -> SQSClient:
    import boto3

    return boto3.client("sqs", config=_config())


@cache
def sms_voice() -> Any:
    """AWS End User Messaging SMS (`pinpoint-sms-voice-v2`)."""
    import boto3

    return boto3.client("pinpoint-sms-voice-v2", config=_config())
