"""Real handlers under moto: AWS is emulated in-process, everything else is the production code."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.resources import create_tables
from trialgw import budgets, names, settings
from trialgw.adapters import aws

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
SENDER = "trials@trialgw.example"
SITE_URL = "https://d111111abcdef8.cloudfront.net"
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
CM_SECRET = "cm-secret-for-tests"
META_APP_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "meta-verify-token-for-tests"


class FakeLambdaContext:
    function_name = "trialgw-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trialgw-test"
    memory_limit_in_mb = 256
    aws_request_id = "test-request"
    log_group_name = "/aws/lambda/trialgw-test"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        # A fresh invocation of the function with the longest timeout: every worker's budget admits its records.
        return max(budget.timeout_seconds for budget in budgets.BUDGETS.values()) * 1000


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_SERVICE_NAME": "trialgw-test",
        "POWERTOOLS_METRICS_NAMESPACE": "trialgw",
        "TRIALGW_SENDER_EMAIL": SENDER,
        "TRIALGW_SITE_URL": SITE_URL,
        "TRIALGW_API_URL": API_URL,
        "TRIALGW_CM_WEBHOOK_SECRET": CM_SECRET,
        "TRIALGW_META_APP_SECRET": META_APP_SECRET,
        "TRIALGW_META_VERIFY_TOKEN": META_VERIFY_TOKEN,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        create_tables(boto3.client("dynamodb"), os.environ)
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        for queue in names.QUEUES:
            url = boto3.client("sqs").create_queue(QueueName=queue.local_name)["QueueUrl"]
            monkeypatch.setenv(queue.env_var, url)
        forget_cached_state()
        yield
    forget_cached_state()


def forget_cached_state() -> None:
    """Settings and AWS clients read afresh, as in a new function instance."""
    settings.reload()
    for factory in (aws.dynamodb, aws.sqs, aws.sesv2, aws.sms_voice, aws.secretsmanager):
        factory.cache_clear()
    # Powertools' secrets provider holds the client (and cached secrets) of the instance before.
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.pop("secrets", None)


@pytest.fixture
def load_configured(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Loads a function's handler afresh with extra `TRIALGW_*` settings (settings are cached per process)."""

    def load(function: str, **extra: str) -> ModuleType:
        for name, value in extra.items():
            monkeypatch.setenv(f"TRIALGW_{name.upper()}", value)
        forget_cached_state()
        return load_handler(function)

    return load


@pytest.fixture
def clean_sandbox() -> Iterator[None]:
    """The sandbox's record of deliveries (process-wide) empty before and after the test."""
    from trialgw.providers.sandbox.delivery import DELIVERIES

    DELIVERIES.clear()
    yield
    DELIVERIES.clear()


def load_handler(function: str) -> ModuleType:
    """Imports functions/<function>/handler.py afresh: a new function instance.

    Always under one module name per function, as Lambda imports `handler` in every instance: Powertools'
    idempotency keys start with the module's name, so instances must share it to share their records."""
    name = f"trialgw_test_handler_{function}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function / "handler.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_KEEP = object()


def rest_event(template: str, *, body: Any = _KEEP, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A composed API Gateway REST event from tests/events/, with its body (and headers) replaced."""
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / template).read_text()))
    if body is _KEEP:
        pass
    elif isinstance(body, bytes):
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    for header, value in (headers or {}).items():
        event["headers"][header] = value
        event["multiValueHeaders"][header] = [value]
    return event


def sns_via_sqs(sns_event: dict[str, Any]) -> dict[str, Any]:
    """What the MO function gets for the notifications of an SNS Lambda event (the fixtures' shape) now that the SMS
    topics deliver to the SMS queue: SQS records (ids `sqs-0`, `sqs-1`, ...) whose body is SNS's JSON envelope."""
    records = []
    for index, record in enumerate(sns_event["Records"]):
        sns = record["Sns"]
        envelope = {
            "Type": "Notification",
            "MessageId": sns["MessageId"],
            "TopicArn": sns["TopicArn"],
            "Message": sns["Message"],
            "Timestamp": sns["Timestamp"],
            "SignatureVersion": "1",
            "Signature": "c2lnbmF0dXJl",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
        records.append(
            {
                "messageId": f"sqs-{index}",
                "receiptHandle": f"handle-{index}",
                "body": json.dumps(envelope),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1772442930000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:trialgw-sms-inbound",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}


def sms_outcomes(result: dict[str, Any]) -> dict[str, Any]:
    """The MO function's answer to an SMS queue batch as {"processed", "outcomes" (in record order), "failed"}."""
    outcomes = list(result["outcomes"].values())
    failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
    return {"processed": len(outcomes), "outcomes": outcomes, "failed": failed}


def invoke(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """Calls a handler like API Gateway would; returns status, headers and the JSON body."""
    answer = module.handler(event, FakeLambdaContext())
    headers = {k: v[0] if isinstance(v, list) else v for k, v in (answer.get("multiValueHeaders") or {}).items()}
    headers.update(answer.get("headers") or {})
    return answer["statusCode"], headers, json.loads(answer["body"]) if answer.get("body") else None


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's real HTTP server, which serializes requests: conditional writes are atomic under concurrency, as
    in DynamoDB (in-process `mock_aws` is not thread-safe). One per test module."""
    from infra.local.mail import MailOutbox
    from infra.local.moto_backend import MotoBackend

    backend = MotoBackend(MailOutbox())
    url = backend.start()
    try:
        yield url
    finally:
        backend.stop()


@pytest.fixture
def moto_dynamodb(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A DynamoDB client of the moto server, with the project's tables created afresh for the test."""
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    for table in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=table)
    create_tables(dynamodb, os.environ)
    return dynamodb


def make_trial(*whitelisted: tuple[Any, str]) -> str:
    """An active trial (in the `aws_env` tables) with an hour left and `whitelisted` (channel, address) recipients,
    whitelisted as the webhooks do; its key."""
    import time

    from trialgw.adapters.dynamo_trials import DynamoTrialStore
    from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
    from trialgw.keys import hash_key, new_key
    from trialgw.models import Trial
    from trialgw.ports import WhitelistOutcome

    now = int(time.time())
    key = new_key()
    trial = Trial(hash_key(key), "Jane", "jane@example.com", None, now - 60, now + 3600)
    DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).create(trial, ttl=trial.expires_at + 86400)
    store = DynamoWhitelistStore(aws.dynamodb(), names.WHITELIST.local_name, names.TRIALS.local_name)
    for channel, address in whitelisted:
        outcome = store.add(trial, channel, address, now=now, limit=10, ttl=trial.expires_at + 86400)
        assert outcome is WhitelistOutcome.ADDED
    return key
