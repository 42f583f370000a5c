"""Time budgets: each function's timeout, batch size and per-call limits, derived from each other in one place.

Pure data and arithmetic (no boto3, no CDK): `infra/topology.py` gives every function the timeout derived here (the
CDK stack and the local stack both read it), `trialgw.adapters.aws` builds the boto3 clients from `AWS_CALL` and
`SMS_CALL`, the providers take their connect limit from here, and the SQS consumers stop taking new records when the
remaining time can't cover one more (`FunctionBudget.admits`). `tests/unit/test_budgets.py` checks the arithmetic of
every function and `tests/infra` that the template says the same.

The arithmetic, per function:

- one remote call takes at most `attempts × (connect + read) + back-off` (`CallLimits.worst_seconds`): botocore's
  standard retry mode sleeps at most `min(2^i, 20)` seconds before retry i+1 (its throttling scale; other errors
  wait less), and the clients ignore a server's `x-amz-retry-after`, which could stretch each wait by 5 s more;
- one item (an API request, an SQS record, a swept record) makes the AWS calls of its longest path, each at its
  worst, plus, for delivery, one provider request at its worst: `item_seconds`;
- an invocation may also make a few calls whatever it processes (a secret read once per cache period; a consumer's
  hand-back of the records it had no time to start) and keeps a margin for its own work: `reserve_seconds`;
- the timeout lets `sure_items` items finish at their worst: `timeout = ceil(sure_items × item + reserve)`;
- a consumer starts an item only while the remaining time covers that item at its worst plus the reserve, so no
  item is ever cut off by the timeout; the records it did not start go back to the queue untried.

Limits these figures assume (what the arithmetic cannot see): connect and read timeouts bound each socket wait, not
a whole answer, so a server that trickles its answer byte by byte could take longer (AWS and the providers answer in
one piece); DNS resolution is not under the connect timeout, except the webhook URL checks' own lookups
(`DNS_LOOKUP_SECONDS`, `trialgw.adapters.dns`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

# What AWS allows: an SQS event source's largest batch, API Gateway's integration timeout (REST, default quota), a
# Lambda function's longest timeout.
SQS_MAX_BATCH = 10
API_GATEWAY_TIMEOUT_SECONDS = 29
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# botocore's standard retry mode: the wait before retry i+1 is at most min(BASE × 2^i, MAX) seconds (BASE is its
# scale for throttling errors, the largest it uses).
BOTOCORE_BACKOFF_BASE_SECONDS = 1.0
BOTOCORE_MAX_BACKOFF_SECONDS = 20.0
# Our own work in an invocation (parsing, Powertools, logs, the answer) and the start of the invocation.
MARGIN_SECONDS = 2.0
# AWS's advice for an SQS event source: the queue's visibility timeout at least six times its function's timeout, so
# the mapping can retry a throttled invocation before the batch becomes visible again.
VISIBILITY_TIMEOUT_FACTOR = 6


@dataclass(frozen=True, slots=True)
class CallLimits:
    """How long one remote call may take: a connection within `connect_seconds`, each read of the answer within
    `read_seconds`, up to `attempts` tries (the first included) with botocore's standard back-off between them."""

    connect_seconds: float
    read_seconds: float
    attempts: int = 1
    backoff_base_seconds: float = BOTOCORE_BACKOFF_BASE_SECONDS

    def __post_init__(self) -> None:
        if self.connect_seconds <= 0 or self.read_seconds <= 0 or self.backoff_base_seconds < 0:
            raise ValueError("a call's limits must be positive")
        if self.attempts < 1:
            raise ValueError("a call makes at least one attempt")

    @property
    def backoff_seconds(self) -> float:
        """The longest botocore sleeps between the attempts, in total."""
        return sum(
            (
                min(self.backoff_base_seconds * 2.0**retry, BOTOCORE_MAX_BACKOFF_SECONDS)
                for retry in range(self.attempts - 1)
            ),
            0.0,
        )

    @property
    def worst_seconds(self) -> float:
        return self.attempts * (self.connect_seconds + self.read_seconds) + self.backoff_seconds

    def scaled(self, factor: float) -> CallLimits:
        """The same limits with every time multiplied by `factor` (tests that run the arithmetic faster)."""
        return CallLimits(
            self.connect_seconds * factor, self.read_seconds * factor, self.attempts, self.backoff_base_seconds * factor
        )


# Every AWS call of every function (DynamoDB, SQS, SES, Secrets Manager): in-region endpoints answer in
# milliseconds, so a quarter second to connect and 0.75 s per read leave ample room, and one retry absorbs a blip
# (throttling, a 500, a dropped connection). 2 × (0.25 + 0.75) + 1 = 3 s.
AWS_CALL = CallLimits(connect_seconds=0.25, read_seconds=0.75, attempts=2)
# The aws-sms provider's SendTextMessage: no SDK retry, since a retried send after a lost answer would text the
# phone twice; SQS retries it with back-off like every provider. 1 + 4 = 5 s.
SMS_CALL = CallLimits(connect_seconds=1.0, read_seconds=4.0, attempts=1)
# The HTTP providers (cm, meta): `provider_timeout_seconds` (a setting, at most this) bounds one request, connecting
# included; meta connects within at most META_CONNECT_SECONDS and retries a failed connection once (nothing was sent).
PROVIDER_TIMEOUT_SECONDS = 5.0
META_CONNECT_SECONDS = 3.0


def provider_worst_seconds(timeout_seconds: float = PROVIDER_TIMEOUT_SECONDS) -> float:
    """The longest one provider request takes, whichever provider carries the message.

    cm: `timeout_seconds` in total (urllib3's total timeout, no retry); meta: a failed connection (at most
    META_CONNECT_SECONDS) and then the request within `timeout_seconds`; aws-sms: one SMS_CALL; the sandbox: its
    configured delay, a local testing knob that the budget does not cover."""
    cm = timeout_seconds
    meta = min(timeout_seconds, META_CONNECT_SECONDS) + timeout_seconds
    return max(cm, meta, SMS_CALL.worst_seconds)


# The calls a consumer makes once for the records it had no time to start (`trialgw.adapters.sqs_batches`).
HAND_BACK_CALLS = (
    "untried records back on the queue (SendMessageBatch)",
    "those that could not be, visible again at once (ChangeMessageVisibilityBatch)",
)


# The longest one name lookup of a webhook URL's check may take (trialgw.adapters.dns gives up after it: the URL is
# refused as not resolving).
DNS_LOOKUP_SECONDS = 1.0
# One POST of a trial's webhook (issue 18, trialgw.adapters.webhook_http): connected (TLS included) within
# WEBHOOK_CONNECT_SECONDS, each read of the answer within WEBHOOK_READ_SECONDS, no retry within the call (the worker
# re-queues the event instead), and at most WEBHOOK_MAX_REDIRECTS 307/308 hops after the first request, each hop
# checked (one name lookup) and connected anew.
WEBHOOK_CONNECT_SECONDS = 3.0
WEBHOOK_READ_SECONDS = 5.0
WEBHOOK_MAX_REDIRECTS = 3
WEBHOOK_CALL = CallLimits(connect_seconds=WEBHOOK_CONNECT_SECONDS, read_seconds=WEBHOOK_READ_SECONDS)
WEBHOOK_REQUESTS = 1 + WEBHOOK_MAX_REDIRECTS
# The webhook worker's event source drives at most this many invocations at once (Lambda's smallest maximum
# concurrency); each handles its records one at a time, so no trial (nor all of them) has more calls in flight.
WEBHOOK_MAX_CONCURRENCY = 2


@dataclass(frozen=True, slots=True)
class FunctionBudget:
    """One function's time budget (see the module docstring for the arithmetic)."""

    function: str
    # The AWS calls of one item's longest path, each named by what it does (docs/architecture.md lists them).
    item_calls: tuple[str, ...]
    # Calls made at most once per invocation, whatever it processes.
    invocation_calls: tuple[str, ...] = ()
    # One provider request's worst case, in each item (delivery).
    provider_seconds: float = 0.0
    # Name lookups in one item's longest path (a webhook URL's check), each at most `dns_lookup_seconds`.
    dns_lookups: int = 0
    dns_lookup_seconds: float = DNS_LOOKUP_SECONDS
    # Records per SQS batch (the event source's batch size): only for a function that consumes a queue.
    batch_size: int | None = None
    # Items an invocation finishes even when each takes its worst; more start only while time is left (consumers
    # need at least 2, or every record after the first would be handed back).
    sure_items: int = 1
    aws: CallLimits = AWS_CALL
    margin_seconds: float = MARGIN_SECONDS
    # Whether API Gateway invokes it: then one request, at its worst, must be answered within API Gateway's limit.
    serves_api: bool = False
    # What handing back the records it did not start costs (`HAND_BACK_CALLS`: a consumer whose queue takes them).
    hand_back_calls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.batch_size is not None and not 1 <= self.batch_size <= SQS_MAX_BATCH:
            raise ValueError(f"{self.function}: an SQS batch holds 1 to {SQS_MAX_BATCH} records")
        if self.sure_items < 1 or (self.batch_size is not None and self.sure_items > self.batch_size):
            raise ValueError(f"{self.function}: sure_items must be 1 to the batch size")
        if self.timeout_seconds > LAMBDA_MAX_TIMEOUT_SECONDS:
            raise ValueError(
                f"{self.function}: {self.timeout_seconds} s is over Lambda's {LAMBDA_MAX_TIMEOUT_SECONDS} s"
            )

    @property
    def call_seconds(self) -> float:
        return self.aws.worst_seconds

    @property
    def item_seconds(self) -> float:
        """One item at its worst."""
        return (
            len(self.item_calls) * self.call_seconds
            + self.provider_seconds
            + self.dns_lookups * self.dns_lookup_seconds
        )

    @property
    def reserve_seconds(self) -> float:
        """What an invocation keeps besides its items: its once-per-invocation calls, its hand-back, its margin."""
        once = len(self.invocation_calls) + len(self.hand_back_calls)
        return once * self.call_seconds + self.margin_seconds

    @property
    def request_seconds(self) -> float:
        """One API request at its worst (one item, the once-per-invocation calls, the margin; no hand-back)."""
        return self.item_seconds + len(self.invocation_calls) * self.call_seconds + self.margin_seconds

    @property
    def timeout_seconds(self) -> int:
        """The function's timeout: `sure_items` items at their worst and the reserve, in whole seconds (Lambda's)."""
        # Rounded to the millisecond first, so float noise (22.999999…) never adds a second.
        return math.ceil(round(self.sure_items * self.item_seconds + self.reserve_seconds, 3))

    @property
    def visibility_timeout_seconds(self) -> int:
        """The visibility timeout of a queue this function consumes (`VISIBILITY_TIMEOUT_FACTOR` × its timeout)."""
        return VISIBILITY_TIMEOUT_FACTOR * self.timeout_seconds

    def admits(self, remaining_ms: int) -> bool:
        """Whether an invocation with `remaining_ms` left may start one more item: it covers that item at its worst
        and the reserve."""
        return remaining_ms >= (self.item_seconds + self.reserve_seconds) * 1000

    def items_within(self, remaining_ms: int) -> int:
        """How many more items fit, each at its worst, in `remaining_ms` besides the reserve (for a worker that must
        pick its items up front)."""
        spare = remaining_ms / 1000 - self.reserve_seconds
        return max(0, math.floor(spare / self.item_seconds)) if self.item_seconds > 0 else 0

    def scaled(self, factor: float) -> FunctionBudget:
        """The same budget with every time multiplied by `factor`: tests run the arithmetic in a fraction of the
        time (the fault suite's slow-provider test)."""
        return replace(
            self,
            aws=self.aws.scaled(factor),
            provider_seconds=self.provider_seconds * factor,
            dns_lookup_seconds=self.dns_lookup_seconds * factor,
            margin_seconds=self.margin_seconds * factor,
        )


CREDENTIAL_READ = "a secret, once per cache period (Secrets Manager GetSecretValue)"

SEND = FunctionBudget(
    "send",
    # The longest of the two paths a request can take (8 calls each): accepted, or accepted so far and then given back
    # because the queue refused the message.
    item_calls=(
        "Idempotency-Key claim (UpdateItem)",
        "capacity breaker read, at most once per capacity_cache_seconds (GetItem)",
        "quota take (UpdateItem)",
        "message record (PutItem)",
        "delivery queue (SQS SendMessage)",
        "give-back: the record removed (DeleteItem); accepted: the capacity count added (UpdateItem)",
        "give-back: the quota returned (UpdateItem); accepted: the breaker tripped (UpdateItem)",
        "Idempotency-Key released or completed (UpdateItem)",
    ),
    serves_api=True,
)
SIGNUP = FunctionBudget(
    "signup",
    item_calls=(
        "sign-up counters taken (TransactWriteItems)",
        "trial created (PutItem)",
        "e-mail (SES SendEmail)",
        "give-back: the trial discarded (DeleteItem)",
        "give-back: the counters returned (TransactWriteItems)",
    ),
    serves_api=True,
)
DASHBOARD = FunctionBudget(
    "dashboard",
    # The longest path: a test event or a replay (issue 18). The other routes make two of these calls at most.
    item_calls=(
        "trial read (GetItem)",
        "whitelist or one page of messages or of the webhook log (Query), or the trial's webhooks read or written, or"
        " the logged event to replay read (GetItem / UpdateItem)",
        "a test event or replay counted against the trial's limit (UpdateItem)",
        "the event queued for the webhook worker (SQS SendMessage)",
    ),
    # A PUT of the trial's webhooks checks up to two URLs, each name looked up once (counted on top of the longest
    # path's calls, though a PUT makes two: a budget a little over, never under).
    dns_lookups=2,
    serves_api=True,
)
# One inbound message; a sender in up to two live trials (a message recorded for both: claim, memberships, each
# trial's record and its webhook event (issue 18), claim completed, 7 as well). A key's message writes at most three
# transactions: the whitelisting (with its record and reply count), one more round of it without what failed its
# condition, or, already whitelisted, the record and count in one (and one more round); `dynamo_whitelisting.ATTEMPTS`
# keeps it so.
INBOUND_ITEM_CALLS = (
    "claim on the provider's message id (UpdateItem)",
    "trial read, or the sender's memberships (GetItem / Query)",
    "whitelisted with record and reply count, or removed from the first trial (TransactWriteItems)",
    "that again without what was written, or (already whitelisted) record and reply count, or inbound record, or"
    " removed from the second trial (TransactWriteItems / PutItem)",
    "(already whitelisted) that again, or reply counted against the sender's limit (TransactWriteItems / UpdateItem)",
    "reply queued (SQS SendMessage)",
    "claim completed or released (UpdateItem)",
)
MO_WEBHOOK = FunctionBudget(
    "mo_webhook",
    # A webhook request carries one message or a few (Meta batches): two finish even at their worst. API Gateway
    # answers the provider after 29 s whatever happens; what runs on is finished, and the provider's retry finds it
    # done (its claim) or takes over once the claim's lease, this timeout, has run out.
    item_calls=INBOUND_ITEM_CALLS,
    invocation_calls=(CREDENTIAL_READ,),
    sure_items=2,
    serves_api=True,
)
SMS_INBOUND = FunctionBudget(
    "sms_inbound",
    # One record of the SMS topics' queue: a text (an inbound message) or a delivery event (fewer calls).
    item_calls=INBOUND_ITEM_CALLS,
    batch_size=SQS_MAX_BATCH,
    sure_items=2,
    hand_back_calls=HAND_BACK_CALLS,
)
DELIVERY = FunctionBudget(
    "delivery",
    # The worst path per message. The sandbox's success path is as long: leased, sent, then its `delivered` report
    # located (GetItem) and applied (UpdateItem), and never a release or a back-off after it. A send whose trial has a
    # status webhook URL (issue 18) adds its status event after the status write: a last failure's is the third call
    # below (no release follows it); the sandbox's two (`sent`, `delivered`) make its path 6 calls, 18 s at their
    # worst, within one item's 4 calls and provider request (20 s), since the sandbox makes no provider request.
    item_calls=(
        "attempt counted and the record leased (UpdateItem)",
        "status recorded: sent or failed (UpdateItem / TransactWriteItems)",
        "lease released, an unrecorded sent handed back, or the status event queued (UpdateItem / SQS SendMessage)",
        "retry back-off (SQS ChangeMessageVisibility)",
    ),
    provider_seconds=provider_worst_seconds(),
    invocation_calls=(CREDENTIAL_READ,),
    batch_size=SQS_MAX_BATCH,
    sure_items=2,
    hand_back_calls=HAND_BACK_CALLS,
)
DEAD_LETTERS = FunctionBudget(
    "dead_letters",
    item_calls=(
        "record marked failed (UpdateItem / TransactWriteItems)",
        "its status event, for a trial with a status webhook URL (SQS SendMessage)",
    ),
    batch_size=SQS_MAX_BATCH,
    # Short items: half a batch fits at its worst (a whole one when its status events are not all at their worst),
    # within a timeout that keeps the delivery queue's visibility (shared by its dead-letter queue) at six of them.
    # Should time run short, the records not started are reported failed and come back later (a dead-letter queue has
    # no dead-letter queue to push them towards, and no URL to hand back to).
    sure_items=SQS_MAX_BATCH // 2,
)
WEBHOOK_DELIVERY = FunctionBudget(
    "webhook_delivery",
    # One event's worst path: its trial read (once per trial and batch), the POST with every redirect hop at its worst
    # (`provider_seconds`, each hop's URL check one name lookup), the attempt logged, and the retry or the deferral
    # re-queued.
    item_calls=(
        "the trial's URLs, secret and expiry (GetItem)",
        "attempt logged with its event (BatchWriteItem)",
        "the attempt's unprocessed items again (BatchWriteItem)",
        "retry or deferral re-queued (SQS SendMessage)",
        "retry back-off when that failed (SQS ChangeMessageVisibility)",
    ),
    provider_seconds=WEBHOOK_REQUESTS * WEBHOOK_CALL.worst_seconds,
    dns_lookups=WEBHOOK_REQUESTS,
    batch_size=SQS_MAX_BATCH,
    sure_items=2,
    hand_back_calls=HAND_BACK_CALLS,
)
SWEEPER = FunctionBudget(
    "sweeper",
    item_calls=(
        "record marked failed (UpdateItem / TransactWriteItems)",
        "its status event, for a trial with a status webhook URL (SQS SendMessage)",
    ),
    invocation_calls=("stale records found (Query on the status index)",),
    # Each run marks what its time allows (`items_within`); the next run, minutes later, takes the rest.
    sure_items=10,
)

BUDGETS: dict[str, FunctionBudget] = {
    budget.function: budget
    for budget in (SEND, SIGNUP, DASHBOARD, MO_WEBHOOK, SMS_INBOUND, DELIVERY, DEAD_LETTERS, WEBHOOK_DELIVERY, SWEEPER)
}


# What a function without a budget of its own gets (a test's function): two AWS calls, 8 s. Every function of the
# topology has its own (tests/unit/test_budgets.py fails on one that has not).
DEFAULT = FunctionBudget("(default)", item_calls=("an AWS call", "another AWS call"))


def for_function(name: str) -> FunctionBudget:
    """The budget of function `name`, `DEFAULT` for one that has none."""
    return BUDGETS.get(name, DEFAULT)


__all__ = [
    "AWS_CALL",
    "BUDGETS",
    "DEFAULT",
    "SMS_CALL",
    "WEBHOOK_CALL",
    "CallLimits",
    "FunctionBudget",
    "for_function",
    "provider_worst_seconds",
]
