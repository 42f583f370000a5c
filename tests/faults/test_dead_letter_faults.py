"""Dead letters end `failed`, once (issue 14, path 1): a message whose every receive ends in something other than a
provider's refusal reaches the delivery queue's dead-letter queue with its record still `queued`; the dead-letter
consumer (`functions/dead_letters`, fed by the dead-letter queue's event source) marks it `failed` with a reason a
developer understands, and a dead letter handed out twice changes nothing the second time. Whatever still escapes
(a dead letter that never reaches its consumer) is found by the stale-message sweeper's query and failed.

The real delivery and dead-letter functions run behind the local stack's event source mapping (`infra.local.pump`)
on moto's server, with AWS faults injected below the adapters.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.cm_requests import cm_send_body
from tests.fakes import FakeWebhookEventQueue
from tests.faults.conftest import (
    MAX_ATTEMPTS,
    PHONE,
    VISIBILITY_SECONDS,
    Call,
    FakeProvider,
    Fault,
    Injector,
    Kind,
    Step,
    World,
    key_of,
    provider_settings,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.logic.dead_letters import SweepDeps, dead_letter_reason, stale_reason, sweep_stale_queued
from trialgw.logic.delivery import max_delivery_seconds
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

pytestmark = pytest.mark.faults

# What a fresh invocation has left: enough for every record of a batch to be started (trialgw.budgets).
REMAINING_MS = 120_000

# The attempt counter on the send's record (`begin_attempt`): the write DynamoDB throttles in the example.
ATTEMPT_COUNTER = Call(
    "attempt-counter",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX) and "attempts" in str(b.get("UpdateExpression")),
)
# The delete of a consumed batch, failing every try: SQS hands the batch out again after its visibility timeout.
DELETE = Call("delete", "sqs", "DeleteMessageBatch")


def accept(world: World) -> dict[str, Any]:
    """An accepted WhatsApp send through the real gateway; its body on the delivery queue."""
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content="Hello", sender="TrialTest", reference="r")
    status, _, answer = invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))
    assert status == 200, answer
    (queued,) = world.queued()
    return queued


def record(world: World, queued: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in world.message_records() if r["message_id"]["S"] == queued["message_id"]]
    return found


def in_dead_letters(world: World, queued: dict[str, Any]) -> bool:
    return [letter["message_id"] for letter in world.dead_letters()] == [queued["message_id"]]


def settle_twice(world: World) -> tuple[dict[str, Any], int]:
    """Runs the dead-letter consumer on the dead-letter queue; its first batch's delete fails, so the queue hands
    the dead letter out again and the consumer takes it a second time. Returns the record as the first round left
    it, and how many rounds the second pass took."""
    consumer = load_handler("dead_letters")
    pump_sqs = boto3.client("sqs")
    injector = Injector()
    injector.install(pump_sqs)
    delete = Fault(DELETE, Kind.THROTTLED)
    injector.faults.append(delete)
    pump = world.pump(consumer, sqs=pump_sqs, queue=world.queue.dead_letters, remaining_ms=REMAINING_MS)
    first = pump.poll_once()
    while not first.received:
        time.sleep(0.05)
        first = pump.poll_once()
    assert (first.received, first.failed, first.deleted) == (1, 0, 0)
    assert delete.injected > 0
    marked = dict(world.message_records()[0])
    injector.faults.clear()
    rounds = world.drain(
        consumer, queue=world.queue.dead_letters, timeout=4 * VISIBILITY_SECONDS + 10, remaining_ms=REMAINING_MS
    )
    return marked, rounds


def test_a_crash_on_every_attempt_ends_failed_once_after_the_dead_letter_consumer(world: World) -> None:
    """TRIALGW_SANDBOX_FAULT=crash: every attempt raises an unexpected error, as a bug or a timeout would."""
    queued = accept(world)
    world.configure(sandbox_fault="crash")

    world.drain(load_handler("delivery"), remaining_ms=REMAINING_MS)

    # Every attempt was made, none completed: nothing says why, and the message is a dead letter.
    assert DELIVERIES.entries() == []
    assert (record(world, queued)["status"]["S"], record(world, queued)["attempts"]["N"]) == ("queued", "3")
    assert in_dead_letters(world, queued)

    marked, rounds = settle_twice(world)

    found = record(world, queued)
    assert found["status"]["S"] == "failed"
    assert (
        found["reason"]["S"]
        == dead_letter_reason(MAX_ATTEMPTS)
        == ("not delivered: gave up after 3 attempts (the delivery never completed: a timeout or an internal error)")
    )
    # Handed out twice, marked once: the second time changed nothing (not even the time of the status).
    assert rounds == 1
    assert found == marked
    assert world.dead_letters() == []
    assert world.in_queue() == 0


def test_a_throttled_attempt_counter_ends_failed_once_the_store_recovers(world: World) -> None:
    """DynamoDB throttles the attempt counter on every receive (botocore's retries exhausted each time): nothing is
    delivered, the record stays `queued`, the message ends in the dead-letter queue. While the store still throttles
    the dead letter is retried, never dropped; once it recovers, the consumer marks the record."""
    queued = accept(world)
    fault = world.inject(ATTEMPT_COUNTER, Kind.THROTTLED)

    world.drain(load_handler("delivery"), timeout=60, remaining_ms=REMAINING_MS)

    assert fault.injected > 0
    assert DELIVERIES.entries() == []
    assert record(world, queued)["status"]["S"] == "queued"
    assert in_dead_letters(world, queued)

    # The consumer's own write is refused too: it reports the item failed, the dead letter stays.
    status_write = world.inject(
        Call("status", "dynamodb", "UpdateItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX)),
        Kind.THROTTLED,
    )
    consumer = world.pump(load_handler("dead_letters"), queue=world.queue.dead_letters, remaining_ms=REMAINING_MS)
    outcome = consumer.poll_once()
    assert (outcome.received, outcome.failed) == (1, 1)
    assert status_write.injected > 0
    assert record(world, queued)["status"]["S"] == "queued"
    assert in_dead_letters(world, queued)

    world.heal()
    settle_twice(world)

    found = record(world, queued)
    assert (found["status"]["S"], found["reason"]["S"]) == ("failed", dead_letter_reason(MAX_ATTEMPTS))
    assert world.dead_letters() == []


def test_a_send_the_last_attempt_already_failed_keeps_the_providers_reason(
    world: World, provider: FakeProvider
) -> None:
    """The provider hangs past its timeout on every attempt: the last attempt records why; its dead letter is
    consumed without rewriting that."""
    provider.script = [Step.HANG] * MAX_ATTEMPTS
    queued = accept(world)
    world.configure(**provider_settings(provider, "cm"))

    world.drain(load_handler("delivery"), remaining_ms=REMAINING_MS)
    failed = record(world, queued)
    assert failed["status"]["S"] == "failed"
    assert failed["reason"]["S"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: ")
    assert in_dead_letters(world, queued)

    world.drain(load_handler("dead_letters"), queue=world.queue.dead_letters, remaining_ms=REMAINING_MS)

    assert record(world, queued) == failed
    assert world.dead_letters() == []


def test_a_dead_letter_that_never_reaches_its_consumer_is_found_and_failed_by_the_sweeper(world: World) -> None:
    """The invariant's backstop: the dead letter is lost (an operator purged the queue, its retention ran out), so
    nothing marks the record; the sweeper's query on the status index finds it once it is older than the longest a
    delivery can take, counts it and fails it."""
    queued = accept(world)
    world.configure(sandbox_fault="crash")
    world.drain(load_handler("delivery"), remaining_ms=REMAINING_MS)
    assert in_dead_letters(world, queued)
    world.sqs.purge_queue(QueueUrl=world.queue.dead_letter_url)

    deadline = max_delivery_seconds(
        max_attempts=MAX_ATTEMPTS, backoff_base_seconds=0, visibility_timeout_seconds=VISIBILITY_SECONDS
    )
    log = DynamoMessageLog(world.ddb, names.MESSAGES.local_name)
    now = time.time()
    # Not yet past the deadline: a delivery may still be under way.
    early = sweep_stale_queued(
        stale_after_seconds=deadline,
        limit=10,
        deps=SweepDeps(log, log, clock=lambda: now, webhook_events=FakeWebhookEventQueue()),
    )
    assert (early.stale, early.failed) == (0, 0)

    later = SweepDeps(log, log, clock=lambda: now + deadline + 1, webhook_events=FakeWebhookEventQueue())
    swept = sweep_stale_queued(stale_after_seconds=deadline, limit=10, deps=later)

    assert (swept.stale, swept.failed) == (1, 1)
    found = record(world, queued)
    assert (found["status"]["S"], found["reason"]["S"]) == ("failed", stale_reason(deadline))
    # The invariant holds again: nothing `queued` is older than the deadline.
    assert sweep_stale_queued(stale_after_seconds=deadline, limit=10, deps=later).stale == 0
