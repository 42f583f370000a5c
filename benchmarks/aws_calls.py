"""AWS API calls per operation, counted with botocore's event hooks while the real handler runs on moto.

Each operation is counted warm (clients built, the send handler's capacity breaker freshly read and
flushed), so a row shows what the request itself costs. The breaker's own calls (reading its flag at most
every `TRIALGW_CAPACITY_CACHE_SECONDS`, adding the instance's count at most every
`TRIALGW_CAPACITY_FLUSH_SECONDS`) are told apart by their key and reported on their own row, amortized
over a burst of accepted sends from a fresh instance with the default settings. Delivery is counted per
message: the real delivery handler on one SQS batch of 10 accepted sends, received from the queue and handed
over as the event source mapping does (its receive and delete are not the function's calls), once as a real provider
(the sandbox with `TRIALGW_SANDBOX_REPORTS=false`: its reports would come through its webhook) and once as the
sandbox, which applies its own `delivered` report on the delivery's path.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from infra.local.pump import sqs_event
from infra.local.resources import create_tables
from tests.integration.conftest import SENDER, SITE_URL, FakeLambdaContext, invoke, load_handler, rest_event
from trialgw import names, settings
from trialgw.adapters import aws
from trialgw.keys import KEY_PATTERN
from trialgw.urls import GATEWAY_PATH

SIGNUP_EVENT = "apigw_rest_signup.json"
# Sends in the burst whose breaker calls are averaged.
BURST_SENDS = 50
# A quota big enough for every accepted send below on one trial; it changes no call count.
BENCH_QUOTA = 1000
BREAKER = " (breaker)"
# A GUID-shaped key no trial has.
UNKNOWN_KEY = "00000000-0000-4000-8000-000000000000"
WHITELISTED = "+31612340001"
NOT_WHITELISTED = "+31612340002"
# The MO rows' senders: the warm-up's (whitelisted first), and one that finds the trial full.
WARM_SENDER = "+31612340009"
FULL_SENDER = "+31612340003"


@dataclass(frozen=True)
class Expected:
    """What an operation needs at least with this design, and the issue's goal where it sets one."""

    minimum: float
    goal: float | None = None


BURST_ROW = f"accepted send: breaker, per send ({BURST_SENDS} sends)"
# Accepted sends delivered in one SQS batch, the most the event source mapping hands over at once.
DELIVERY_BATCH = 10
DELIVERY_ROW = f"delivery, per message (batch of {DELIVERY_BATCH} sends)"
SANDBOX_DELIVERY_ROW = f"delivery, per message: sandbox ({DELIVERY_BATCH} sends)"
EXPECTED: dict[str, Expected] = {
    # Count the address, store the trial, send the e-mail.
    "signup (accepted)": Expected(3),
    # Claim the provider message id (a lease), read the trial, one transaction (whitelist entry, reverse index and
    # slot; the message's record; the reply counted against the sender's limit), queue the reply, complete the claim.
    # No fewer: the claim comes before any effect, and the trial (its expiry is in the entries and the reply) can be
    # read by no write; the reply is queued (another service) only once counted, and the claim completed only once
    # the reply is queued, or a failed queue would leave the message done and its reply lost (docs/benchmarks.md).
    "MO that whitelists": Expected(5, goal=5),
    # The whitelist transaction cancelled (that is how "already" is learnt: its entry's condition), then the record
    # and the reply's count in one transaction.
    "MO already whitelisted": Expected(6),
    # The whitelist transaction cancelled (no room), then the reply's count alone: a sender on no trial is not recorded.
    "MO whitelist full": Expected(6),
    # Claim, trial read (none), reply counted, queued, claim completed.
    "MO with an invalid key": Expected(5),
    # Claim, the sender's memberships, the record and the trial's inbound webhook event (issue 18; one each per live
    # trial), claim completed. The event is queued whether or not the trial has an inbound URL: knowing would take
    # the trial's read, a call too, on every recorded message; the webhook worker drops it instead.
    "MO recorded (no key)": Expected(5),
    # Claim, memberships, the removal transaction (one per live trial), reply counted, queued, claim completed.
    "MO STOP": Expected(6),
    # The quota's conditional write (key, expiry, whitelist, quota in one), the message's record, the queue.
    # The goal folds the record into the queue's consumer; the record stays on the request path so the
    # dashboard shows a send at once.
    "accepted send": Expected(3, goal=2),
    # The quota's write, refused: no such trial. A refusal before the key is known belongs to no trial: no record.
    "refused send (invalid key)": Expected(1, goal=1),
    # The quota's write, refused; it returns the trial for the how-to-whitelist answer and the headers. Then the
    # refusal's record on the trial's list (one PutItem, best effort: issue 17's "refused sends shown").
    "refused send (not whitelisted)": Expected(2, goal=2),
    # A rule refuses before any store is asked; one read proves the key before the rule is answered; the record.
    "refused send (rule: Viber)": Expected(2, goal=2),
    # No key: nothing to look up, nothing recorded.
    "refused send (no key)": Expected(0, goal=0),
    # Per send, on top of its own calls: a fresh instance reads the flag once and adds its count once in a
    # burst shorter than both intervals; after that, at most a read per 5 s and a flush per second.
    BURST_ROW: Expected(2 / BURST_SENDS),
    # Per message, whatever the batch: one conditional write before the provider is called (the record's lease,
    # which counts the attempt and keeps a redelivered SQS message from reaching it twice) and one after (the record
    # moves to `sent` under that lease). The batch's receive and delete are the event source mapping's, not the
    # function's.
    DELIVERY_ROW: Expected(2),
    # The sandbox (the default, and what `make dev` and a deployment without provider credentials use) also applies
    # its `delivered` report as a provider's webhook would: the pointer's read and the record's move (2 more).
    SANDBOX_DELIVERY_ROW: Expected(4),
}


def _is_breaker_call(params: Mapping[str, Any]) -> bool:
    key = params.get("Key")
    return isinstance(key, dict) and key.get(names.PARTITION_KEY) == {"S": names.CAPACITY_PK}


class CallCounter:
    """Counts API calls while `counting`; register it before clients exist (they copy the session's hooks).

    Hooked on `before-parameter-build`, which sees the call's parameters, so the capacity breaker's calls
    (their key is the breaker's partition) are counted apart, as "<service>.<Operation> (breaker)".
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.counting = False

    def __call__(self, event_name: str, params: Mapping[str, Any], **_: Any) -> None:
        if self.counting:
            # event_name looks like "before-parameter-build.dynamodb.UpdateItem".
            name = event_name.split(".", 1)[1]
            self.calls[name + BREAKER if _is_breaker_call(params) else name] += 1

    def count(self, operation: Callable[[], object]) -> Counter[str]:
        self.calls.clear()
        self.counting = True
        try:
            operation()
        finally:
            self.counting = False
        return Counter(self.calls)


@dataclass(frozen=True)
class Measured:
    operation: str
    calls: Counter[str]
    # Requests the calls are spread over (1 but for the breaker's burst), and how long they took.
    requests: int = 1
    seconds: float | None = None

    @property
    def request_path(self) -> float:
        """Calls per request, the breaker's left out (they have their own row)."""
        return sum(n for name, n in self.calls.items() if not name.endswith(BREAKER)) / self.requests

    @property
    def breaker(self) -> float:
        return sum(n for name, n in self.calls.items() if name.endswith(BREAKER)) / self.requests


def send_body(key: str | None, to: str, channel: str = "WhatsApp", sender: str = "TrialGW") -> str:
    authentication = {} if key is None else {"authentication": {"producttoken": key}}
    message = {
        "allowedChannels": [channel],
        "from": sender,
        "to": [{"number": to}],
        "body": {"type": "auto", "content": "Your code is 123456"},
        "reference": "bench",
    }
    return json.dumps({"messages": {**authentication, "msg": [message]}})


def send_event(body: str) -> dict[str, Any]:
    event = rest_event(SIGNUP_EVENT, body=body)
    event.update(resource=GATEWAY_PATH.rstrip("/"), path=GATEWAY_PATH, httpMethod="POST")
    event["requestContext"].update(resourcePath=GATEWAY_PATH.rstrip("/"), path="/prod" + GATEWAY_PATH)
    return event


def _sent(send: ModuleType, body: str, status: int) -> Callable[[], None]:
    def operation() -> None:
        answered, _, answer = invoke(send, send_event(body))
        assert answered == status, (answered, answer)

    return operation


def measure() -> list[Measured]:
    """Calls of an accepted signup, inbound messages (CM webhook: each outcome) and sends, warm."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "TRIALGW_SENDER_EMAIL": SENDER,
            # The composed sign-up event comes from the site's page (its Origin): sign-up refuses other sites.
            "TRIALGW_SITE_URL": SITE_URL,
            "TRIALGW_CM_WEBHOOK_SECRET": "bench",
            "TRIALGW_QUOTA_WHATSAPP": str(BENCH_QUOTA),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    # The logger may exist already (another benchmark imported it): quiet it here too.
    from trialgw.observability import logger

    logger.setLevel("WARNING")
    with mock_aws():
        boto3.setup_default_session()
        counter = CallCounter()
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", counter)  # type: ignore[union-attr]
        for queue in names.QUEUES:
            os.environ[queue.env_var] = boto3.client("sqs").create_queue(QueueName=queue.local_name)["QueueUrl"]
        settings.reload()
        for client in (aws.dynamodb, aws.sesv2, aws.sqs):
            client.cache_clear()
        create_tables(boto3.client("dynamodb"), os.environ)
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        signup, mo, send = load_handler("signup"), load_handler("mo_webhook"), load_handler("send")

        def sign_up(email: str) -> str:
            invoke(signup, rest_event(SIGNUP_EVENT, body=json.dumps({"name": "Jane", "email": email})))
            found = KEY_PATTERN.search(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages[-1].body)
            assert found is not None
            return found.group(0)

        def mo_event(key: str, reference: str, sender: str) -> dict[str, Any]:
            body = json.dumps(
                {
                    "reference": reference,
                    "from": {"number": sender},
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
        invoke(mo, mo_event(key, "ref-0001", WARM_SENDER))
        accepted = _sent(send, send_body(key, WHITELISTED), 200)
        _sent(send, send_body(key, WHITELISTED), 403)  # not yet whitelisted: builds the send's clients
        signup_calls = counter.count(lambda: sign_up("other@example.com"))
        mo_calls = counter.count(lambda: invoke(mo, mo_event(key, "ref-0002", WHITELISTED)))
        rows = [Measured("signup (accepted)", signup_calls), Measured("MO that whitelists", mo_calls)]
        # The other outcomes of an end user's message, each a fresh provider message id.
        rows.append(
            Measured(
                "MO already whitelisted", counter.count(lambda: invoke(mo, mo_event(key, "ref-0003", WHITELISTED)))
            )
        )
        # The trial filled up to its limit (uncounted): a further sender finds it full.
        for n in range(settings.load(settings.MoWebhookSettings).max_recipients - 2):
            invoke(mo, mo_event(key, f"ref-fill-{n}", f"+3161235{n:04d}"))
        other_mos = {
            "MO whitelist full": mo_event(key, "ref-0004", FULL_SENDER),
            "MO with an invalid key": mo_event(UNKNOWN_KEY, "ref-0005", FULL_SENDER),
            "MO recorded (no key)": mo_event("Hello there", "ref-0006", WHITELISTED),
            # Last: the warm-up's sender leaves the trial (the sends below go to WHITELISTED).
            "MO STOP": mo_event("STOP", "ref-0007", WARM_SENDER),
        }
        for operation, mo_message in other_mos.items():
            rows.append(Measured(operation, counter.count(functools.partial(invoke, mo, mo_message))))
        sends = {
            "accepted send": accepted,
            "refused send (invalid key)": _sent(send, send_body(UNKNOWN_KEY, WHITELISTED), 401),
            "refused send (not whitelisted)": _sent(send, send_body(key, NOT_WHITELISTED), 403),
            "refused send (rule: Viber)": _sent(send, send_body(key, WHITELISTED, channel="Viber"), 400),
            "refused send (no key)": _sent(send, send_body(None, WHITELISTED), 401),
        }
        for operation, run in sends.items():
            # Right after an accepted send, the breaker's flag is fresh and its count just flushed.
            accepted()
            rows.append(Measured(operation, counter.count(run)))

        # A fresh instance (a new breaker: nothing read, nothing flushed), then a burst of accepted sends.
        send._deps.cache_clear()

        def burst() -> None:
            for _ in range(BURST_SENDS):
                accepted()

        started = time.perf_counter()
        calls = counter.count(burst)
        seconds = time.perf_counter() - started
        rows.append(Measured(BURST_ROW, calls, BURST_SENDS, seconds))
        # As a real provider (its reports come later, through its webhook, not on the delivery's path), then as the
        # sandbox, whose `delivered` report is applied right after `sent`.
        os.environ["TRIALGW_SANDBOX_REPORTS"] = "false"
        try:
            rows.append(_delivery(counter, accepted, DELIVERY_ROW))
        finally:
            del os.environ["TRIALGW_SANDBOX_REPORTS"]
        rows.append(_delivery(counter, accepted, SANDBOX_DELIVERY_ROW))
        return rows


def _delivery(counter: CallCounter, accepted: Callable[[], None], row: str) -> Measured:
    """The delivery handler on a batch of accepted sends, as the queue's event source mapping hands it over."""
    # A fresh instance, which reads its settings at its cold start.
    settings.reload()
    delivery = load_handler("delivery")
    sqs = boto3.client("sqs")
    queue_url = os.environ[names.OUTBOUND.env_var]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def batch() -> dict[str, Any]:
        # Only this batch's sends on the queue: what the operations above queued is dropped.
        while dropped := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in dropped:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        for _ in range(DELIVERY_BATCH):
            accepted()
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=DELIVERY_BATCH,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )["Messages"]
        assert len(received) == DELIVERY_BATCH, len(received)
        return sqs_event(received, queue_arn=queue_arn)

    def deliver(event: dict[str, Any]) -> Callable[[], None]:
        def operation() -> None:
            answer = delivery.handler(event, FakeLambdaContext())
            assert not answer.get("batchItemFailures"), answer

        return operation

    # Warm: the first batch builds the function's clients and providers outside the count.
    deliver(batch())()
    return Measured(row, counter.count(deliver(batch())), DELIVERY_BATCH)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _ratio(measured: float, expected: float | None) -> str:
    if expected is None:
        return "-"
    if expected == 0:
        return "ok" if measured == 0 else "over"
    return f"{measured / expected:.2f}"


def report() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    print("\nAWS API calls per operation (real handler on moto; the breaker's calls on their own row)")
    print(f"{'operation':<42}{'calls':>7}{'minimum':>9}{'× min':>7}{'goal':>6}{'× goal':>8}  detail")
    for measured in measure():
        expected = EXPECTED[measured.operation]
        burst = measured.operation == BURST_ROW
        calls = measured.breaker if burst else measured.request_path
        shown = {name: n for name, n in measured.calls.items() if name.endswith(BREAKER) or not burst}
        detail = ", ".join(f"{name} {count}" for name, count in sorted(shown.items()))
        if burst:
            detail += f" over {measured.requests} sends in {measured.seconds or 0:.2f} s"
        elif measured.requests != 1:
            detail += f" over {measured.requests} messages"
        print(
            f"{measured.operation:<42}{_number(calls):>7}{_number(expected.minimum):>9}"
            f"{_ratio(calls, expected.minimum):>7}{_number(expected.goal):>6}{_ratio(calls, expected.goal):>8}"
            f"  {detail}"
        )
        row: dict[str, object] = {
            "operation": measured.operation,
            "calls": round(calls, 3),
            "minimum": expected.minimum,
            "goal": expected.goal,
            "detail": dict(measured.calls),
        }
        if measured.requests != 1:
            row.update(requests=measured.requests, seconds=round(measured.seconds or 0, 3))
        rows.append(row)
    return rows
