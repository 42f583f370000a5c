"""Fault injection: AWS errors at the boto3 boundary of the real handlers on moto's server, and a fake provider.

AWS: moto's HTTP server (the local stack's `MotoBackend`, one per session, reset before each test) holds the
project's tables, the delivery queue with its dead-letter queue, and the SES identity; the product's own cached
clients (`trialgw.adapters.aws`) point at it. `World.inject` hooks botocore's `before-send` event of those clients,
so a chosen call fails the way AWS fails it, below the adapters and inside botocore's own retries (the product's
clients make up to 4 attempts, standard mode):

- `THROTTLED` / `THROTTLING`: the service's throttling error (DynamoDB ProvisionedThroughputExceededException or
  ThrottlingException, SQS RequestThrottled, SES TooManyRequestsException);
- `SERVER_ERROR`: HTTP 500;
- `UNREACHABLE`: EndpointConnectionError, the request never left;
- `LOST`: the request reached moto and was carried out, then its answer was lost (ReadTimeoutError);
- `CONDITION`: ConditionalCheckFailedException from DynamoDB where the write has no condition that could fail.

`times=None` fails every attempt (what an adapter sees once botocore gives up); `times=1` is a blip that botocore's
retry absorbs. The tests' own clients (`World.ddb`, `World.sqs`) are separate and never faulted, and botocore's
back-off sleeps are zero, so the suite stays fast.

Providers: `FakeProvider` is an HTTP server on 127.0.0.1 that speaks as CM's gateway and as Meta's Graph API. Every
message goes through the same script of steps (hang, 429, 500, 503, an HTML page, malformed JSON, a refusal), then
is accepted; the server counts the requests and the acceptances per message (CM: our message id, sent as
`reference`; Meta: the text).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.httpsession import URLLib3Session
from botocore.retries.standard import ExponentialBackoff

from infra.local.environment import REGION, apply_aws_environment
from infra.local.mail import MailOutbox
from infra.local.moto_backend import MotoBackend
from infra.local.pump import QueuePump
from infra.local.resources import DeadLetterResource, QueueResource, create_queues, create_tables
from tests.integration.conftest import forget_cached_state
from trialgw import budgets, names, settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.join_codes import hash_join_code, join_code
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, Trial
from trialgw.ports import WhitelistOutcome
from trialgw.providers.sandbox.delivery import DELIVERIES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

SENDER = "trials@trialgw.example"
SITE_URL = "https://d111111abcdef8.cloudfront.net"
CM_SECRET = "cm-secret-for-fault-tests"
PHONE = "+31612345678"
# Receives of a queued message before the dead-letter queue, and the delivery function's attempts: always equal.
MAX_ATTEMPTS = 3
# The delivery queue's visibility timeout here (60 s in AWS): how soon an unacknowledged batch comes back.
VISIBILITY_SECONDS = 2
CM_TOKEN = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"
WHATSAPP_TOKEN = "EAAGfaultTestWhatsAppToken0123456789"
WHATSAPP_PHONE_NUMBER_ID = "118000000000055"
# How long the fake provider hangs: past every provider timeout the tests set.
HANG_SECONDS = 5.0


# --- AWS faults ---------------------------------------------------------------------------------------------


class Kind(StrEnum):
    THROTTLED = "throttled"
    THROTTLING = "throttling"
    SERVER_ERROR = "server-error"
    UNREACHABLE = "unreachable"
    LOST = "lost"
    CONDITION = "condition"


# Where each kind applies: SQS and SES have no conditions, and only DynamoDB has two throttling errors.
DYNAMODB_KINDS = tuple(Kind)
SQS_KINDS = (Kind.THROTTLED, Kind.SERVER_ERROR, Kind.UNREACHABLE, Kind.LOST)
SES_KINDS = SQS_KINDS
KINDS = {"dynamodb": DYNAMODB_KINDS, "sqs": SQS_KINDS, "sesv2": SES_KINDS}
# Faults after which the service certainly did nothing (LOST did it; CONDITION is asserted case by case).
DEFINITE = (Kind.THROTTLED, Kind.THROTTLING, Kind.SERVER_ERROR, Kind.UNREACHABLE)

_DYNAMODB = "com.amazonaws.dynamodb.v20120810#"
_JSON = {"Content-Type": "application/x-amz-json-1.0"}
# (status, headers, body) of each error answer, in each service's protocol.
_ERROR_ANSWERS: dict[tuple[str, Kind], tuple[int, dict[str, str], dict[str, str]]] = {
    ("dynamodb", Kind.THROTTLED): (
        400,
        _JSON,
        {"__type": _DYNAMODB + "ProvisionedThroughputExceededException", "message": "Rate of requests exceeded"},
    ),
    ("dynamodb", Kind.THROTTLING): (400, _JSON, {"__type": _DYNAMODB + "ThrottlingException", "message": "Throttled"}),
    ("dynamodb", Kind.SERVER_ERROR): (
        500,
        _JSON,
        {"__type": _DYNAMODB + "InternalServerError", "message": "Internal server error"},
    ),
    ("dynamodb", Kind.CONDITION): (
        400,
        _JSON,
        {"__type": _DYNAMODB + "ConditionalCheckFailedException", "message": "The conditional request failed"},
    ),
    ("sqs", Kind.THROTTLED): (
        400,
        {**_JSON, "x-amzn-query-error": "RequestThrottled;Sender"},
        {"__type": "com.amazonaws.sqs#ThrottlingException", "message": "Rate exceeded"},
    ),
    ("sqs", Kind.SERVER_ERROR): (
        500,
        {**_JSON, "x-amzn-query-error": "InternalError;Receiver"},
        {"__type": "com.amazonaws.sqs#InternalError", "message": "Internal error"},
    ),
    ("sesv2", Kind.THROTTLED): (
        429,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException"},
        {"message": "Too Many Requests"},
    ),
    ("sesv2", Kind.SERVER_ERROR): (
        500,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalFailure"},
        {"message": "Internal failure"},
    ),
}


def _any_body(_body: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Call:
    """One AWS call of a path, recognised by its service (botocore's id), its operation and its request body.

    A transaction's `CONDITION` is its cancellation (TransactionCanceledException) naming the items `condition_items`
    picks as ConditionalCheckFailed (no `Item` returned): set it on a transaction's call to fail those conditions."""

    label: str
    service: str
    operation: str
    match: Callable[[dict[str, Any]], bool] = _any_body
    condition_items: Callable[[dict[str, Any]], bool] | None = None

    def matches(self, service: str, operation: str, body: dict[str, Any]) -> bool:
        return (service, operation) == (self.service, self.operation) and self.match(body)


def key_of(body: dict[str, Any]) -> tuple[str, str]:
    """The (pk, sk) of a DynamoDB single-item request, ("", "") when it has none."""
    key = body.get("Key") or body.get("Item") or {}
    return str(key.get("pk", {}).get("S", "")), str(key.get("sk", {}).get("S", ""))


@dataclass
class Fault:
    call: Call
    kind: Kind
    # Attempts to fail, None: every one.
    times: int | None = None
    # Matching attempts seen, and how many of them were failed.
    attempts: int = 0
    injected: int = 0


class _Raw(io.BytesIO):
    """What botocore reads an HTTP answer's body from."""

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _body(request: AWSPreparedRequest) -> dict[str, Any]:
    raw = request.body
    if not raw or not isinstance(raw, bytes | bytearray | str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _cancelled(
    request: AWSPreparedRequest, body: dict[str, Any], failing: Callable[[dict[str, Any]], bool]
) -> AWSResponse:
    """DynamoDB's cancellation of a transaction whose `failing` items' conditions did not hold."""
    reasons = [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
        if failing(item)
        else {"Code": "None"}
        for item in body.get("TransactItems", [])
    ]
    answer = {
        "__type": _DYNAMODB + "TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": reasons,
    }
    http_headers = HTTPHeaders()
    http_headers["Content-Type"] = _JSON["Content-Type"]
    return AWSResponse(request.url, 400, http_headers, _Raw(json.dumps(answer).encode()))


class Injector:
    """A botocore `before-send` hook: fails the requests the faults match, and logs every call (service, operation,
    body) the hooked clients make."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._http = URLLib3Session()
        self._lock = threading.Lock()

    def install(self, client: Any) -> None:
        client.meta.events.register_first("before-send", self._before_send)

    def _before_send(self, request: AWSPreparedRequest, event_name: str, **_kwargs: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        body = _body(request)
        with self._lock:
            self.calls.append((service, operation, body))
            fault = next((f for f in self.faults if f.call.matches(service, operation, body)), None)
            if fault is None:
                return None
            fault.attempts += 1
            if fault.times is not None and fault.injected >= fault.times:
                return None
            fault.injected += 1
        if fault.kind is Kind.UNREACHABLE:
            raise EndpointConnectionError(endpoint_url=request.url)
        if fault.kind is Kind.LOST:
            # Carried out by the service; only the answer never arrives.
            self._http.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.kind is Kind.CONDITION and fault.call.condition_items is not None:
            return _cancelled(request, body, fault.call.condition_items)
        status, headers, answer = _ERROR_ANSWERS[(service, fault.kind)]
        http_headers = HTTPHeaders()
        for name, value in headers.items():
            http_headers[name] = value
        return AWSResponse(request.url, status, http_headers, _Raw(json.dumps(answer).encode()))

    def labels(self, catalog: tuple[Call, ...]) -> list[str]:
        """The calls made so far, each named by the first call of `catalog` it matches ("?" for none)."""
        found = []
        for service, operation, body in self.calls:
            call = next((c for c in catalog if c.matches(service, operation, body)), None)
            found.append(call.label if call else f"?{service}.{operation}")
        return found


@pytest.fixture(autouse=True)
def _no_botocore_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries still happen, and as many; only their sleeps are skipped.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda _self, _context: 0.0)


# --- the world: moto's server, the tables, the queue -------------------------------------------------------------


@dataclass
class Moto:
    backend: MotoBackend
    outbox: MailOutbox
    endpoint: str
    # The tests' own clients: never faulted, built once (building a client costs more than a test's calls).
    ddb: DynamoDBClient
    sqs: SQSClient
    sesv2: SESV2Client


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    outbox = MailOutbox()
    backend = MotoBackend(outbox)
    endpoint = backend.start()
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    clients = (
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("sqs", endpoint_url=endpoint),
        session.client("sesv2", endpoint_url=endpoint),
    )
    try:
        yield Moto(backend, outbox, endpoint, *clients)
    finally:
        backend.stop()


# A fresh invocation of the delivery function has its whole timeout left (from its time budget).
DELIVERY_TIMEOUT_MS = budgets.DELIVERY.timeout_seconds * 1000


def delivery_budget_for(remaining_ms: int) -> budgets.FunctionBudget:
    """The delivery function's budget scaled to a timeout of `remaining_ms`: a test that gives an invocation less time
    (to keep a delivery lease short) stands for a function with that timeout, whose budget, and so
    which records it starts, shrink alike."""
    production = budgets.BUDGETS["delivery"]
    return production.scaled(remaining_ms / (production.timeout_seconds * 1000))


class LambdaContext:
    """What the handlers read of Lambda's context. Its remaining time counts down from `remaining_ms` as Lambda's does:
    a worker starts a record by it (its time budget), and it bounds a delivery lease (the invocation's deadline)."""

    function_name = "trialgw-faults"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trialgw-faults"
    memory_limit_in_mb = 256
    aws_request_id = "fault-request"
    log_group_name = "/aws/lambda/trialgw-faults"
    log_stream_name = "faults"

    def __init__(self, remaining_ms: int = DELIVERY_TIMEOUT_MS) -> None:
        self.remaining_ms = remaining_ms
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def base_environment(endpoint: str) -> dict[str, str]:
    """The process environment of a function on this moto: AWS pointed at it (as the local stack does), the
    tables, short waits."""
    aws: dict[str, str] = {}
    apply_aws_environment(aws, endpoint)
    return {
        **aws,
        "POWERTOOLS_SERVICE_NAME": "trialgw-faults",
        "POWERTOOLS_METRICS_NAMESPACE": "trialgw",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TRIALGW_SENDER_EMAIL": SENDER,
        "TRIALGW_SITE_URL": SITE_URL,
        "TRIALGW_API_URL": SITE_URL,
        "TRIALGW_CM_WEBHOOK_SECRET": CM_SECRET,
        # Every send reads the breaker and counts itself: the breaker's calls are on the path under test.
        "TRIALGW_CAPACITY_CACHE_SECONDS": "0",
        "TRIALGW_CAPACITY_FLUSH_SECONDS": "0",
        "TRIALGW_DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "TRIALGW_DELIVERY_BACKOFF_BASE_SECONDS": "0",
    }


def attempts() -> int:
    """Attempts botocore makes before an adapter sees a retryable error: the product's client configuration."""
    retries: dict[str, Any] = aws.dynamodb().meta.config.retries  # type: ignore[attr-defined]
    return int(retries["total_max_attempts"])


@dataclass
class World:
    """moto with fresh resources, the product's clients hooked by `injector`, and clean clients for the checks."""

    moto: Moto
    monkeypatch: pytest.MonkeyPatch
    injector: Injector
    ddb: DynamoDBClient
    sqs: SQSClient
    queue: QueueResource
    # The SMS topics' queue (two-way SMS and SMS delivery events), consumed by the MO function.
    sms_queue: QueueResource

    @property
    def endpoint(self) -> str:
        return self.moto.endpoint

    def configure(self, **values: str) -> None:
        """Sets `TRIALGW_<NAME>` settings; handlers loaded afterwards read them."""
        for name, value in values.items():
            self.monkeypatch.setenv(f"TRIALGW_{name.upper()}", value)
        settings.reload()

    def inject(self, call: Call, kind: Kind, times: int | None = None) -> Fault:
        fault = Fault(call, kind, times)
        self.injector.faults.append(fault)
        return fault

    def heal(self) -> None:
        self.injector.faults.clear()

    def items(self, table: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pages = self.ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for page in pages:
            found += page["Items"]
        return found

    def trial_item(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=names.TRIALS.local_name,
            Key={"pk": {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"}, "sk": {"S": names.TRIAL_SK}},
            ConsistentRead=True,
        ).get("Item")
        return item

    def sent(self, key: str) -> dict[str, int]:
        """The trial's non-zero sent counters, e.g. {"sent_whatsapp": 1}."""
        item = self.trial_item(key) or {}
        return {name: int(value["N"]) for name, value in item.items() if name.startswith("sent_") and value["N"] != "0"}

    def message_records(self) -> list[dict[str, Any]]:
        return [i for i in self.items(names.MESSAGES.local_name) if i["sk"]["S"].startswith(names.MESSAGE_SK_PREFIX)]

    def queued(self) -> list[dict[str, Any]]:
        """The bodies on the delivery queue (in flight or not), peeked without receiving them."""
        return [json.loads(m.body) for m in self.moto.backend.peek(self.queue.name)]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.moto.backend.peek(self.queue.dead_letter_name)]

    def make_trial(self, *whitelisted: tuple[Channel, str]) -> str:
        """An active trial (and its join code) with an hour left and `whitelisted` recipients (as the webhooks
        whitelist them); its key."""
        now = int(time.time())
        key = new_key()
        trial = Trial(hash_key(key), "Jane", "jane@example.com", None, now - 60, now + 3600)
        DynamoTrialStore(self.ddb, names.TRIALS.local_name).create(
            trial, ttl=now + 7200, join_hash=hash_join_code(join_code(key))
        )
        store = DynamoWhitelistStore(self.ddb, names.WHITELIST.local_name, names.TRIALS.local_name)
        for channel, address in whitelisted:
            outcome = store.add(trial, channel, address, now=now, limit=10, ttl=now + 7200)
            assert outcome is WhitelistOutcome.ADDED
        return key

    def pump(
        self,
        handler: ModuleType,
        *,
        remaining_ms: int | None = None,
        sqs: Any = None,
        queue: QueueResource | DeadLetterResource | None = None,
    ) -> QueuePump:
        """Lambda's SQS event source mapping (the local stack's) feeding `handler` from `queue` (the delivery queue by
        default), one receive per round. Each invocation has the delivery function's timeout, or `remaining_ms` with
        the budget scaled to match (`delivery_budget_for`)."""
        start_ms = DELIVERY_TIMEOUT_MS if remaining_ms is None else remaining_ms
        if remaining_ms is not None:
            self.monkeypatch.setattr(budgets, "DELIVERY", delivery_budget_for(remaining_ms))
        return QueuePump(
            function="delivery",
            queue=queue or self.queue,
            invoke=lambda _name, event: handler.handler(event, LambdaContext(start_ms)),
            sqs=sqs or self.sqs,
            batching_window_seconds=0,
            idle_seconds=0.05,
            log=lambda _line: None,
        )

    def in_queue(self, queue: QueueResource | DeadLetterResource | None = None) -> int:
        """Messages on `queue` (the delivery queue by default), visible or in flight. Counted from moto's list under
        its lock: GetQueueAttributes reads the clock once per count, so a message turning visible between the two
        counts is in neither (a drain that stopped with a message still on the queue)."""
        return len(self.moto.backend.peek((queue or self.queue).name))

    def drain(
        self,
        handler: ModuleType,
        *,
        timeout: float = 20.0,
        remaining_ms: int | None = None,
        queue: QueueResource | DeadLetterResource | None = None,
        sqs: Any = None,
    ) -> int:
        """Feeds `queue` (the delivery queue by default) to `handler` until nothing is left on it (delivered,
        dropped or dead-lettered); the number of rounds that received something."""
        pump = self.pump(handler, remaining_ms=remaining_ms, queue=queue, sqs=sqs)
        deadline = time.monotonic() + timeout
        rounds = 0
        while self.in_queue(queue):
            if time.monotonic() > deadline:
                pytest.fail(f"{(queue or self.queue).name} did not drain within {timeout} s: {self.queued()}")
            if pump.poll_once().received:
                rounds += 1
            else:
                time.sleep(0.05)
        return rounds


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(endpoint + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def make_queues(sqs: SQSClient, *, max_receive_count: int = MAX_ATTEMPTS) -> dict[str, QueueResource]:
    """Every queue of `names.QUEUES` with its dead-letter queue, by logical name, all with a short visibility."""
    queues = {queue.logical: queue for queue in create_queues(sqs, max_receive_count=max_receive_count)}
    for queue in queues.values():
        for url in (queue.url, queue.dead_letter_url):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)})
    return queues


def make_queue(sqs: SQSClient, *, max_receive_count: int = MAX_ATTEMPTS) -> QueueResource:
    """The delivery queue (and the others, made beside it)."""
    return make_queues(sqs, max_receive_count=max_receive_count)[names.OUTBOUND.logical]


@pytest.fixture
def world(moto_server: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for variable in [v for v in os.environ if v.startswith(("TRIALGW_", "AWS_", "POWERTOOLS_"))]:
        monkeypatch.delenv(variable)
    for variable, value in base_environment(moto_server.endpoint).items():
        monkeypatch.setenv(variable, value)
    _reset(moto_server.endpoint)
    ddb, sqs = moto_server.ddb, moto_server.sqs
    create_tables(ddb, os.environ)
    moto_server.sesv2.create_email_identity(EmailIdentity=SENDER)
    queues = make_queues(sqs)
    for made in queues.values():
        monkeypatch.setenv(made.env_var, made.url)
    queue = queues[names.OUTBOUND.logical]
    DELIVERIES.clear()
    forget_cached_state()
    injector = Injector()
    for client in (aws.dynamodb(), aws.sqs(), aws.sesv2()):
        injector.install(client)
    try:
        yield World(moto_server, monkeypatch, injector, ddb, sqs, queue, queues[names.SMS_INBOUND.logical])
    finally:
        DELIVERIES.clear()
        forget_cached_state()


# --- the fake provider ------------------------------------------------------------------------------------------


class Step(StrEnum):
    OK = "ok"
    # No answer until well after the client gave up.
    HANG = "hang"
    THROTTLED = "429"
    SERVER_ERROR = "500"
    # A load balancer's 503 page: HTML, not the provider's JSON.
    UNAVAILABLE = "503"
    # 200 with an HTML page (a captive portal, a misrouted proxy).
    HTML = "html"
    # 200 with JSON cut short.
    MALFORMED = "malformed"
    # A permanent refusal: CM's invalid recipient, Meta's undeliverable.
    REJECTED = "rejected"


_HTML_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>busy</body></html>"
_CUT_JSON = b'{"details": "Created 1 message(s)", "errorCode": 0, "messages": [{"status": "Acc'


@dataclass
class FakeProvider:
    """CM's gateway at `cm_url` and Meta's Graph API at `graph_url` on 127.0.0.1 (see the module docstring)."""

    script: list[Step] = field(default_factory=list)
    # A script per message (by CM's reference, our message id) in place of `script`, for mixed schedules.
    script_for: Callable[[str], list[Step]] | None = None
    # Per message: every step it was answered with, and when each request came (monotonic seconds).
    requests: dict[str, list[Step]] = field(default_factory=lambda: defaultdict(list))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    accepted: Counter[str] = field(default_factory=Counter)
    unauthorized: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def cm_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cm/v1.0/message"

    @property
    def graph_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graph/v21.0"

    def next_step(self, message: str) -> Step:
        with self.lock:
            done = len(self.requests[message])
            script = self.script if self.script_for is None else self.script_for(message)
            step = script[done] if done < len(script) else Step.OK
            self.requests[message].append(step)
            self.times[message].append(time.monotonic())
            if step is Step.OK:
                self.accepted[message] += 1
            return step

    def answer(self, kind: str, message: str, body: dict[str, Any]) -> tuple[int, str, bytes] | None:
        """The HTTP answer (status, content type, body) of the next step, None to hang."""
        step = self.next_step(message)
        if step is Step.HANG:
            return None
        if step is Step.UNAVAILABLE:
            return 503, "text/html", _HTML_PAGE
        if step is Step.HTML:
            return 200, "text/html", _HTML_PAGE.replace(b"503 Service Temporarily Unavailable", b"Sign in")
        if step is Step.MALFORMED:
            return 200, "application/json", _CUT_JSON
        return _cm_answer(step, message) if kind == "cm" else _graph_answer(step, message, body)


def _cm_answer(step: Step, reference: str) -> tuple[int, str, bytes]:
    def message(status: str, code: int, details: str | None) -> dict[str, Any]:
        return {
            "to": "0031612345678",
            "status": status,
            "reference": reference,
            "parts": 1 if status == "Accepted" else 0,
            "messageDetails": details,
            "messageErrorCode": code,
        }

    answers: dict[Step, tuple[int, dict[str, Any]]] = {
        Step.OK: (200, {"details": "Created 1 message(s)", "errorCode": 0, "messages": [message("Accepted", 0, None)]}),
        Step.THROTTLED: (429, {"details": "Too many requests", "errorCode": 999, "messages": []}),
        Step.SERVER_ERROR: (500, {"details": "Internal error", "errorCode": 500, "messages": []}),
        Step.REJECTED: (
            400,
            {
                "details": "Created 0 message(s)",
                "errorCode": 201,
                "messages": [message("Rejected", 302, "The recipient is not a valid phone number")],
            },
        ),
    }
    status, body = answers[step]
    return status, "application/json", json.dumps(body).encode()


def _graph_answer(step: Step, text: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    def error(code: int, message: str, **extra: Any) -> dict[str, Any]:
        return {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Afault", **extra}}

    wamid = f"wamid.fault{abs(hash(text)) % 10**9}"
    answers: dict[Step, tuple[int, dict[str, Any]]] = {
        Step.OK: (
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": str(body.get("to")), "wa_id": str(body.get("to"))}],
                "messages": [{"id": wamid}],
            },
        ),
        Step.THROTTLED: (429, error(130429, "Rate limit hit")),
        Step.SERVER_ERROR: (500, error(131000, "Something went wrong", is_transient=True)),
        Step.REJECTED: (400, error(131026, "Message undeliverable")),
    }
    status, answer = answers[step]
    return status, "application/json", json.dumps(answer).encode()


def _serve(fake: FakeProvider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            if self.path.startswith("/cm/"):
                authorized = self.headers.get("X-CM-PRODUCTTOKEN") == CM_TOKEN
                message = str(body.get("messages", {}).get("msg", [{}])[0].get("reference", ""))
                kind = "cm"
            else:
                authorized = self.headers.get("Authorization") == f"Bearer {WHATSAPP_TOKEN}"
                message = str(body.get("text", {}).get("body", ""))
                kind = "graph"
            if not authorized:
                with fake.lock:
                    fake.unauthorized += 1
                self._reply(401, "application/json", b'{"error": "unauthorized"}')
                return
            answer = fake.answer(kind, message, body)
            if answer is None:
                # Hang: the client times out; then the connection is dropped without a word.
                fake.stopping.wait(HANG_SECONDS)
                self.close_connection = True
                return
            self._reply(*answer)

        def _reply(self, status: int, content_type: str, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    server = _serve(fake)
    fake.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def provider_settings(fake: FakeProvider, provider_name: str, *, timeout_seconds: float = 0.5) -> dict[str, str]:
    """The delivery settings that put WhatsApp on `provider_name` (`cm` or `meta`) at the fake provider."""
    common = {"provider_whatsapp": provider_name, "provider_timeout_seconds": str(timeout_seconds)}
    if provider_name == "cm":
        return {
            **common,
            "cm_gateway_url": fake.cm_url,
            "cm_product_token": CM_TOKEN,
            "cm_senders": json.dumps({"WhatsApp": "0031850876714"}),
        }
    return {
        **common,
        "meta_graph_url": fake.graph_url,
        "whatsapp_phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
        "whatsapp_access_token": WHATSAPP_TOKEN,
    }
