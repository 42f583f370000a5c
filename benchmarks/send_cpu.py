"""Each request handler's own CPU time per request, with every AWS call answered by a stub, against a floor.

The handlers run as deployed (Powertools resolver, request parsing, the rules, their DynamoDB, SQS and SES
calls, the send handler's capacity breaker with its default intervals, INFO logging and EMF metrics, their
output thrown away) with real botocore clients: each call is validated and serialized, then answered
in-process at botocore's `before-call` hook (`benchmarks.stubs.AwsStub`), as botocore's Stubber does, so nothing
waits on a network and the CPU measured is the function's own. Tracing is off (no X-Ray outside Lambda).
Measured: the send gateway (accepted, and refused for an unknown key), a sign-up (the e-mail rendered and sent),
the inbound message that whitelists a recipient (the welcome reply queued) and the dashboard's trial view.

The floor is a bare Powertools `APIGatewayRestResolver` with one POST route that parses the same body
with `json.loads` and answers a 200 JSON: what any Powertools function pays for the request at all.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import os
import statistics
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from benchmarks.aws_calls import NOT_WHITELISTED, SIGNUP_EVENT, UNKNOWN_KEY, WHITELISTED, send_body, send_event
from benchmarks.stubs import AwsStub
from tests.integration.conftest import SENDER, SITE_URL, FakeLambdaContext, load_handler, rest_event
from trialgw import names, settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore, sent_attribute
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, Trial, member_token
from trialgw.observability import logger
from trialgw.urls import GATEWAY_PATH

WARMUP = 50
REQUESTS = 300
ROUNDS = 5
QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/123456789012/{names.OUTBOUND.local_name}"
CM_SECRET = "bench"
CM_WEBHOOK_RESOURCE = "/webhooks/cm/{secret}"
CM_WEBHOOK_PATH = f"/webhooks/cm/{CM_SECRET}"


def floor_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.post(GATEWAY_PATH.rstrip("/"))
    def post() -> dict[str, Any]:
        body = json.loads(app.current_event.body or "")
        return {"details": "Created 1 message(s)", "errorCode": 0, "messages": len(body["messages"]["msg"])}

    return app


@dataclass(frozen=True)
class CpuTime:
    name: str
    ms_per_request: float
    ratio: float
    # Stubbed AWS calls per request.
    aws_calls: float


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Logs and EMF metrics are written as in Lambda, to /dev/null."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
        # The dashboard publishes no metrics: Powertools warns about that on every request.
        warnings.filterwarnings("ignore", "No application metrics to publish")
        previous = handler.setStream(devnull)
        try:
            yield
        finally:
            handler.setStream(previous)


def _cpu_ms(call: Callable[[dict[str, Any]], dict[str, Any]], event: dict[str, Any], status: int) -> float:
    """Median over rounds of the CPU time per request, in milliseconds, after a warm-up."""
    for _ in range(WARMUP):
        answer = call(copy.deepcopy(event))
        assert answer["statusCode"] == status, answer
    samples = []
    for _ in range(ROUNDS):
        # Fresh copies, made outside the timing: nothing a request might change is seen twice.
        events = [copy.deepcopy(event) for _ in range(REQUESTS)]
        started = time.process_time()
        for each in events:
            call(each)
        samples.append((time.process_time() - started) * 1000 / REQUESTS)
    return statistics.median(samples)


def _setup() -> tuple[ModuleType, AwsStub, str]:
    """The send handler, loaded afresh, with its clients stubbed and one trial in the stub."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "POWERTOOLS_SERVICE_NAME": "send",
            "POWERTOOLS_METRICS_NAMESPACE": "trialgw",
            "POWERTOOLS_METRICS_DISABLED": "false",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "TRIALGW_SENDER_EMAIL": SENDER,
            # The composed sign-up event comes from the site's page (its Origin): sign-up refuses other sites.
            "TRIALGW_SITE_URL": SITE_URL,
            "TRIALGW_CM_WEBHOOK_SECRET": CM_SECRET,
            names.OUTBOUND.env_var: QUEUE_URL,
        }
    )
    # Default quotas and breaker intervals, whatever another benchmark set.
    for variable in [v for v in os.environ if v.startswith(("TRIALGW_QUOTA_", "TRIALGW_CAPACITY_"))]:
        del os.environ[variable]
    settings.reload()
    boto3.setup_default_session()
    for client in (aws.dynamodb, aws.sesv2, aws.sqs):
        client.cache_clear()
    logger.setLevel("INFO")

    key = new_key()
    stub = AwsStub(hash_key(key))
    stub.attach(aws.dynamodb())
    stub.attach(aws.sqs())
    stub.attach(aws.sesv2())
    seed_trial(stub, aws.dynamodb(), key)
    return load_handler("send"), stub, key


def seed_trial(stub: AwsStub, dynamodb: Any, key: str) -> None:
    """The stub's one trial, for `key`: written by the real adapter through `dynamodb` (a client `stub` answers),
    with one WhatsApp recipient whitelisted and one message sent."""
    now = int(time.time())
    trial = Trial(
        key_hash=hash_key(key),
        name="Bench",
        email="bench@example.com",
        company=None,
        created_at=now,
        expires_at=now + 24 * 3600,
    )
    DynamoTrialStore(dynamodb, names.TRIALS.local_name).create(trial, ttl=now + 48 * 3600)
    stub.trial_item.update(
        {
            names.MEMBERS_ATTRIBUTE: {"SS": [member_token(Channel.WHATSAPP, WHITELISTED)]},
            sent_attribute(Channel.WHATSAPP): {"N": "1"},
        }
    )


def api_event(
    method: str, resource: str, path: str, body: str | None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway REST event for `method path` (the composed sign-up event, re-addressed)."""
    event = rest_event(SIGNUP_EVENT, body=body, headers=headers)
    parameters = {"secret": path.rsplit("/", 1)[-1]} if "{secret}" in resource else None
    event.update(resource=resource, path=path, httpMethod=method, pathParameters=parameters)
    event["requestContext"].update(resourcePath=resource, path="/prod" + path, httpMethod=method)
    return event


def mo_body(key: str, sender: str) -> str:
    """CM's MO JSON: `sender` texts the trial key on WhatsApp (the stub accepts every claim of its reference)."""
    return json.dumps(
        {
            "reference": str(uuid.uuid4()),
            "from": {"number": sender},
            "to": {"number": "+31850876714"},
            "message": {"text": key},
            "channel": "WhatsApp",
        }
    )


def measure() -> list[CpuTime]:
    send, stub, key = _setup()
    signup, mo, dashboard = load_handler("signup"), load_handler("mo_webhook"), load_handler("dashboard")
    context = cast(LambdaContext, FakeLambdaContext())
    app = floor_app()
    signup_body = json.dumps({"name": "Jane Doe", "email": "jane@example.com", "company": "Example"})
    bearer = {"Authorization": f"Bearer {key}"}
    cases: list[tuple[str, ModuleType, dict[str, Any], int]] = [
        ("send: accepted", send, send_event(send_body(key, WHITELISTED)), 200),
        ("send: refused, invalid key", send, send_event(send_body(UNKNOWN_KEY, WHITELISTED)), 401),
        ("signup: accepted (e-mail sent)", signup, api_event("POST", "/signup", "/signup", signup_body), 202),
        (
            "mo_webhook: key whitelists (welcome)",
            mo,
            api_event("POST", CM_WEBHOOK_RESOURCE, CM_WEBHOOK_PATH, mo_body(key, NOT_WHITELISTED)),
            200,
        ),
        (
            "dashboard: trial view",
            dashboard,
            api_event("GET", "/dashboard-api/trial", "/dashboard-api/trial", None, bearer),
            200,
        ),
    ]
    with _quiet():
        floor = _cpu_ms(lambda event: app.resolve(event, context), cases[0][2], 200)
        results = [CpuTime("floor: bare Powertools resolver", floor, 1.0, 0.0)]
        for name, module, event, status in cases:
            before = stub.calls
            handler: Callable[[dict[str, Any]], dict[str, Any]] = functools.partial(module.handler, context=context)
            ms = _cpu_ms(handler, event, status)
            calls = (stub.calls - before) / (WARMUP + ROUNDS * REQUESTS)
            results.append(CpuTime(name, ms, ms / floor, calls))
    return results


def report() -> list[dict[str, object]]:
    rows = measure()
    print(
        f"\nHandlers: CPU time per request, AWS answered by a stub (median of {ROUNDS} rounds of {REQUESTS}, "
        f"after {WARMUP} warm-up)"
    )
    print(f"{'what':<40}{'ms/request':>12}{'× floor':>10}{'AWS calls':>11}")
    for row in rows:
        print(f"{row.name:<40}{row.ms_per_request:>12.3f}{row.ratio:>10.2f}{row.aws_calls:>11.2f}")
    return [
        {
            "name": r.name,
            "ms_per_request": round(r.ms_per_request, 3),
            "ratio": round(r.ratio, 2),
            "aws_calls_per_request": round(r.aws_calls, 3),
        }
        for r in rows
    ]


if __name__ == "__main__":
    report()
