"""AWS API calls per operation, counted with botocore's event hooks while the real handler runs on moto."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from infra.local.resources import create_tables
from tests.integration.conftest import SENDER, invoke, load_handler, rest_event
from trialgw import settings
from trialgw.adapters import aws

# What a signup cannot do with fewer calls: count the address, store the trial, send the e-mail.
SIGNUP_MINIMUM = 3


class CallCounter:
    """Counts API calls while `counting`; register it before clients exist (they copy the session's hooks)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.counting = False

    def __call__(self, event_name: str, **_: Any) -> None:
        if self.counting:
            # event_name looks like "before-call.dynamodb.UpdateItem".
            self.calls[event_name.split(".", 1)[1]] += 1

    def count(self, operation: Any) -> Counter[str]:
        self.calls.clear()
        self.counting = True
        try:
            operation()
        finally:
            self.counting = False
        return Counter(self.calls)


def measure_signup() -> Counter[str]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "TRIALGW_SENDER_EMAIL": SENDER,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    with mock_aws():
        boto3.setup_default_session()
        counter = CallCounter()
        boto3.DEFAULT_SESSION.events.register("before-call", counter)  # type: ignore[union-attr]
        settings.reload()
        aws.dynamodb.cache_clear()
        aws.sesv2.cache_clear()
        create_tables(boto3.client("dynamodb"), os.environ)
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        signup = load_handler("signup")
        invoke(signup, rest_event("apigw_rest_signup.json"))  # warm: clients built outside the count
        body = json.dumps({"name": "Jane", "email": "other@example.com"})
        return counter.count(lambda: invoke(signup, rest_event("apigw_rest_signup.json", body=body)))


def report() -> list[dict[str, object]]:
    calls = measure_signup()
    total = sum(calls.values())
    print("\nAWS API calls per operation (real handler on moto)")
    print(f"{'operation':<28}{'calls':>8}{'minimum':>10}{'× min':>8}  detail")
    detail = ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
    print(f"{'signup (accepted)':<28}{total:>8}{SIGNUP_MINIMUM:>10}{total / SIGNUP_MINIMUM:>8.2f}  {detail}")
    return [{"operation": "signup", "calls": total, "minimum": SIGNUP_MINIMUM, "detail": dict(calls)}]
