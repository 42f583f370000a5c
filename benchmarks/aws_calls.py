"""AWS API calls per operation, counted with botocore's event hooks while the real handler runs on moto."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from infra.local.resources import create_tables
from tests.integration.conftest import SENDER, invoke, load_handler, rest_event
from trialgw import names, settings
from trialgw.adapters import aws
from trialgw.keys import KEY_PATTERN

SIGNUP_EVENT = "apigw_rest_signup.json"
MINIMUM = {
    # Count the address, store the trial, send the e-mail.
    "signup (accepted)": 3,
    # Claim the provider message id, read the trial, the whitelist transaction, record the message,
    # queue the reply.
    "MO that whitelists": 5,
}


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


def measure() -> dict[str, Counter[str]]:
    """Calls of an accepted signup and of an inbound message that whitelists (CM webhook), warm."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "TRIALGW_SENDER_EMAIL": SENDER,
            "TRIALGW_CM_WEBHOOK_SECRET": "bench",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    with mock_aws():
        boto3.setup_default_session()
        counter = CallCounter()
        boto3.DEFAULT_SESSION.events.register("before-call", counter)  # type: ignore[union-attr]
        for queue in names.QUEUES:
            os.environ[queue.env_var] = boto3.client("sqs").create_queue(QueueName=queue.local_name)["QueueUrl"]
        settings.reload()
        for client in (aws.dynamodb, aws.sesv2, aws.sqs):
            client.cache_clear()
        create_tables(boto3.client("dynamodb"), os.environ)
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        signup, mo = load_handler("signup"), load_handler("mo_webhook")

        def sign_up(email: str) -> str:
            invoke(signup, rest_event(SIGNUP_EVENT, body=json.dumps({"name": "Jane", "email": email})))
            found = KEY_PATTERN.search(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages[-1].body)
            assert found is not None
            return found.group(0)

        def mo_event(key: str, reference: str) -> dict[str, Any]:
            body = json.dumps(
                {
                    "reference": reference,
                    "from": {"number": f"+3161234{reference[-4:]}"},
                    "to": {"number": "+31850876714"},
                    "message": {"text": key},
                    "channel": "WhatsApp",
                }
            )
            event = rest_event(SIGNUP_EVENT, body=body)
            event.update(
                resource="/webhooks/cm/{secret}", path="/webhooks/cm/bench", pathParameters={"secret": "bench"}
            )
            return event

        # Warm: clients built outside the count.
        key = sign_up("warm@example.com")
        invoke(mo, mo_event(key, "ref-0001"))
        return {
            "signup (accepted)": counter.count(lambda: sign_up("other@example.com")),
            "MO that whitelists": counter.count(lambda: invoke(mo, mo_event(key, "ref-0002"))),
        }


def report() -> list[dict[str, object]]:
    rows = []
    print("\nAWS API calls per operation (real handler on moto)")
    print(f"{'operation':<28}{'calls':>8}{'minimum':>10}{'× min':>8}  detail")
    for operation, calls in measure().items():
        total, minimum = sum(calls.values()), MINIMUM[operation]
        detail = ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
        print(f"{operation:<28}{total:>8}{minimum:>10}{total / minimum:>8.2f}  {detail}")
        rows.append({"operation": operation, "calls": total, "minimum": minimum, "detail": dict(calls)})
    return rows
