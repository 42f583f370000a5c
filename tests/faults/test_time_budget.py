"""A slow provider and the delivery function's time budget (`trialgw.budgets`): a batch of 10 whose provider hangs for
its whole timeout on every message's first two attempts.

Lambda ends an invocation at its timeout, whatever it is doing: a message whose provider request is under way then
may reach the phone with nothing recording it (and be sent again), and the messages never started burn a receive each
(SQS counts every receive towards the dead-letter queue). Here every invocation gets a context that counts down from
the function's timeout as Lambda's does, and the test checks, invocation by invocation, what Lambda would have done to
it: each must return before its deadline (no message cut off); the messages it had no time for must go back untried,
spending no attempt; and in the end each message reaches the provider on exactly its third attempt (the last the
queue allows: one receive spent on nothing would have put it in the dead-letter queue first), once.

Time is scaled: the budget, the timeout derived from it and the provider's timeout are the production figures times
`SCALE`, so the test takes seconds rather than minutes; the arithmetic is the same.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from infra.local.pump import QueuePump
from tests.cm_requests import cm_send_body
from tests.faults.conftest import MAX_ATTEMPTS, PHONE, FakeProvider, Step, World, provider_settings
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import budgets
from trialgw.models import Channel

pytestmark = pytest.mark.faults

BATCH = 10
# Production seconds → test seconds.
SCALE = 0.05
PRODUCTION = budgets.BUDGETS["delivery"]
BUDGET = PRODUCTION.scaled(SCALE)
# A fresh invocation's remaining time: the scaled function's timeout (Lambda's are whole seconds).
TIMEOUT_MS = BUDGET.timeout_seconds * 1000
# The provider hangs for all of the time the budget gives one provider request (CM's total timeout).
PROVIDER_TIMEOUT = BUDGET.provider_seconds
# The attribute a message handed back untried carries: the attempts its earlier copies made.
ATTEMPTS_ATTRIBUTE = "trialgw-attempts"


class CountdownContext:
    """Lambda's context as a function with `timeout_ms` sees it: the remaining time counts down."""

    function_name = "trialgw-delivery"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trialgw-delivery"
    memory_limit_in_mb = 256
    aws_request_id = "time-budget"
    log_group_name = "/aws/lambda/trialgw-delivery"
    log_stream_name = "time-budget"

    def __init__(self, timeout_ms: int) -> None:
        self.deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    # (message id, receive count of this copy, attempts of its earlier copies) of each record in the event.
    records: list[tuple[str, int, int]]
    # Provider requests made during the invocation.
    requests: int
    # Provider requests per message before the invocation: the attempts made on it so far.
    attempted: dict[str, int]
    # Seconds left before the deadline when the handler returned (negative: Lambda would have cut it off).
    left: float
    failed: int


def message_id(record: dict[str, Any]) -> str:
    return str(json.loads(record["body"])["message_id"])


def attempts_before(record: dict[str, Any]) -> int:
    value = (record.get("messageAttributes") or {}).get(ATTEMPTS_ATTRIBUTE, {}).get("stringValue")
    return int(value) if value is not None else 0


def timed_pump(world: World, handler: ModuleType, provider: FakeProvider, seen: list[Invocation]) -> QueuePump:
    def invoke_function(_name: str, event: dict[str, Any]) -> Any:
        records = [
            (message_id(r), int(r["attributes"]["ApproximateReceiveCount"]), attempts_before(r))
            for r in event["Records"]
        ]
        attempted = {message: len(steps) for message, steps in provider.requests.items()}
        context = CountdownContext(TIMEOUT_MS)
        result = handler.handler(event, context)
        left = context.deadline - time.monotonic()
        requests = sum(len(steps) for steps in provider.requests.values()) - sum(attempted.values())
        failed = len((result or {}).get("batchItemFailures") or [])
        seen.append(Invocation(records, requests, attempted, left, failed))
        return result

    return QueuePump(
        function="delivery",
        queue=world.queue,
        invoke=invoke_function,
        sqs=world.sqs,
        batching_window_seconds=0,
        idle_seconds=0.05,
        log=lambda _line: None,
    )


def test_a_slow_provider_never_gets_a_message_cut_off_and_never_costs_its_neighbours_an_attempt(
    world: World, provider: FakeProvider
) -> None:
    world.monkeypatch.setattr(budgets, "DELIVERY", BUDGET)
    # Every message hangs on its first two attempts and is accepted on its third, the last before the dead letters.
    provider.script = [Step.HANG] * (MAX_ATTEMPTS - 1)
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    gateway = load_handler("send")
    for number in range(BATCH):
        body = cm_send_body(
            key, channels=["WhatsApp"], to=(PHONE,), content=f"Message {number}", sender="TrialTest", reference=None
        )
        assert invoke(gateway, rest_event("apigw_rest_send.json", body=body))[0] == 200
    message_ids = {queued["message_id"] for queued in world.queued()}
    assert len(message_ids) == BATCH
    world.configure(**provider_settings(provider, "cm", timeout_seconds=PROVIDER_TIMEOUT))
    seen: list[Invocation] = []
    pump = timed_pump(world, load_handler("delivery"), provider, seen)

    first = pump.poll_once()
    while not first.received:
        time.sleep(0.05)
        first = pump.poll_once()

    # The first batch held all ten; only what the budget admits was started, and nothing ran past the deadline.
    (one,) = seen
    assert len(one.records) == BATCH
    assert one.left > 0, f"the invocation ran {-one.left:.2f} s past its {TIMEOUT_MS} ms timeout"
    # Each start needs an item's worst case plus the reserve; after k hung requests that is left no more.
    window = (TIMEOUT_MS / 1000) - (BUDGET.item_seconds + BUDGET.reserve_seconds)
    assert 1 <= one.requests <= math.floor(window / PROVIDER_TIMEOUT) + 1 < BATCH
    # The ones tried failed (a retry on schedule); the others went back untried, as new messages: not failures.
    assert one.failed == one.requests
    assert world.in_queue() == BATCH

    drained = time.monotonic() + 60
    while world.in_queue():
        assert time.monotonic() < drained, f"the queue did not drain: {world.queued()}"
        if not pump.poll_once().received:
            time.sleep(0.05)

    # No invocation was cut off by its timeout.
    assert all(invocation.left > 0 for invocation in seen), [round(i.left, 2) for i in seen]
    # No receive was spent on nothing: whenever the function received a message, the receives before this one
    # (counting its earlier copies') were exactly the attempts made on it so far.
    for invocation in seen:
        for message, receive_count, before in invocation.records:
            assert before + receive_count - 1 == invocation.attempted.get(message, 0), (message, receive_count, before)
    # Each message reached the provider on its third attempt, once, and none went to the dead-letter queue.
    assert {message: provider.requests[message] for message in message_ids} == dict.fromkeys(
        message_ids, [Step.HANG] * (MAX_ATTEMPTS - 1) + [Step.OK]
    )
    assert dict(provider.accepted) == dict.fromkeys(message_ids, 1)
    assert world.dead_letters() == []
    records = {r["message_id"]["S"]: r for r in world.message_records()}
    assert {m: (records[m]["status"]["S"], records[m]["attempts"]["N"]) for m in message_ids} == dict.fromkeys(
        message_ids, ("sent", str(MAX_ATTEMPTS))
    )
