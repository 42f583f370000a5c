"""Delivery when the provider fails: the real delivery function fed by the real queue on moto (the local stack's event
source mapping), sending through the `cm` and `meta` providers to a fake CM gateway / Graph API on 127.0.0.1, and
through the sandbox made slow by its settings.

Each accepted send is delivered or visibly failed: transient faults (no answer within
`TRIALGW_PROVIDER_TIMEOUT_SECONDS`, 429, 500, a 503 page, HTML or cut JSON where CM's JSON belongs) are retried
through SQS with back-off until the message goes through, or, after the last attempt, the record is `failed` and
the message sits in the dead-letter queue; a refusal fails at once. The provider counts the requests of each
message: none is accepted twice, also when SQS hands a delivered message out again.
"""

from __future__ import annotations

import itertools
import threading
import time
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.cm_requests import cm_send_body
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
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

pytestmark = pytest.mark.faults

TRANSIENT = {
    "cm": (Step.HANG, Step.THROTTLED, Step.SERVER_ERROR, Step.UNAVAILABLE, Step.HTML, Step.MALFORMED),
    # Meta's 2xx with an unreadable body counts as delivered (tested below), so HTML and cut JSON are not retried.
    "meta": (Step.HANG, Step.THROTTLED, Step.SERVER_ERROR, Step.UNAVAILABLE),
}


def accept(world: World, text: str = "Hello from the trial") -> dict[str, Any]:
    """An accepted WhatsApp send to PHONE through the real gateway; its body on the delivery queue."""
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content=text, sender="TrialTest", reference="r-1")
    status, _, answer = invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))
    assert status == 200, answer
    (queued,) = world.queued()
    return queued


def delivery_on(world: World, provider: FakeProvider, name: str, **extra: str) -> ModuleType:
    world.configure(**provider_settings(provider, name), **extra)
    return load_handler("delivery")


def message_key(name: str, queued: dict[str, Any]) -> str:
    """How the fake provider tells messages apart: our id (CM's `reference`) or the text (Meta)."""
    return str(queued["message_id"] if name == "cm" else queued["text"])


def record(world: World, queued: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in world.message_records() if r["message_id"]["S"] == queued["message_id"]]
    return found


@pytest.mark.parametrize(
    ("name", "step"),
    [pytest.param(name, step, id=f"{name}-{step}") for name, steps in TRANSIENT.items() for step in steps],
)
def test_transient_faults_are_retried_and_the_message_is_delivered_once(
    world: World, provider: FakeProvider, name: str, step: Step
) -> None:
    provider.script = [step] * (MAX_ATTEMPTS - 1)
    queued = accept(world)
    delivery = delivery_on(world, provider, name)

    world.drain(delivery)

    key = message_key(name, queued)
    assert provider.requests[key] == [step] * (MAX_ATTEMPTS - 1) + [Step.OK]
    assert provider.accepted == {key: 1}
    assert provider.unauthorized == 0
    found = record(world, queued)
    assert (found["status"]["S"], found["attempts"]["N"], found["provider"]["S"]) == ("sent", str(MAX_ATTEMPTS), name)
    assert "reason" not in found
    assert world.dead_letters() == []


@pytest.mark.parametrize(
    ("name", "step", "reason"),
    [
        ("cm", Step.HANG, "CM did not answer in time"),
        ("cm", Step.SERVER_ERROR, "CM had an internal error"),
        ("cm", Step.MALFORMED, "without CM's JSON"),
        ("meta", Step.THROTTLED, "Meta error 130429 (HTTP 429)"),
        ("meta", Step.UNAVAILABLE, "Meta Graph API answered HTTP 503"),
    ],
    ids=lambda value: str(value) if isinstance(value, Step) else None,
)
def test_a_fault_on_every_attempt_ends_failed_with_the_message_in_the_dead_letter_queue(
    world: World, provider: FakeProvider, name: str, step: Step, reason: str
) -> None:
    provider.script = [step] * MAX_ATTEMPTS
    queued = accept(world)
    delivery = delivery_on(world, provider, name)

    world.drain(delivery)

    assert provider.requests[message_key(name, queued)] == [step] * MAX_ATTEMPTS
    assert provider.accepted == {}
    found = record(world, queued)
    assert (found["status"]["S"], found["attempts"]["N"]) == ("failed", str(MAX_ATTEMPTS))
    assert found["reason"]["S"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: ")
    assert reason in found["reason"]["S"]
    # Visibly failed, and kept where an operator can inspect or redrive it.
    assert [letter["message_id"] for letter in world.dead_letters()] == [queued["message_id"]]


@pytest.mark.parametrize("name", ["cm", "meta"])
def test_a_refusal_fails_at_once_and_is_not_retried(world: World, provider: FakeProvider, name: str) -> None:
    provider.script = [Step.REJECTED]
    queued = accept(world)

    world.drain(delivery_on(world, provider, name))

    assert provider.requests[message_key(name, queued)] == [Step.REJECTED]
    found = record(world, queued)
    assert (found["status"]["S"], found["attempts"]["N"]) == ("failed", "1")
    assert ("302" if name == "cm" else "131026") in found["reason"]["S"] or "recipient" in found["reason"]["S"]
    assert world.dead_letters() == []


@pytest.mark.parametrize("step", [Step.HTML, Step.MALFORMED])
def test_a_2xx_from_meta_that_cannot_be_read_counts_as_delivered_not_retried(
    world: World, provider: FakeProvider, step: Step
) -> None:
    provider.script = [step]
    queued = accept(world)

    world.drain(delivery_on(world, provider, "meta"))

    # Meta took it (2xx): sending again would be the duplicate. No id to match status reports with, though.
    assert provider.requests[queued["text"]] == [step]
    found = record(world, queued)
    assert found["status"]["S"] == "sent"
    assert "provider_message_id" not in found


def test_retries_back_off_exponentially(world: World, provider: FakeProvider) -> None:
    provider.script = [Step.SERVER_ERROR, Step.SERVER_ERROR]
    queued = accept(world)

    world.drain(delivery_on(world, provider, "cm", delivery_backoff_base_seconds="1"))

    times = provider.times[queued["message_id"]]
    assert provider.requests[queued["message_id"]] == [Step.SERVER_ERROR, Step.SERVER_ERROR, Step.OK]
    # The function hides the message for 1 s, then 2 s (not the queue's own visibility timeout)...
    hidden_for = [
        body["VisibilityTimeout"]
        for service, operation, body in world.injector.calls
        if (service, operation) == ("sqs", "ChangeMessageVisibility")
    ]
    assert hidden_for == [1, 2]
    # ...and SQS keeps it hidden that long (a lower bound only: a busy machine may take longer, never shorter).
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.9, gaps
    assert gaps[1] >= 1.9, gaps


def test_a_delivered_message_handed_out_again_never_reaches_the_provider_twice(
    world: World, provider: FakeProvider
) -> None:
    provider.script = [Step.THROTTLED]
    queued = accept(world)
    delivery = delivery_on(world, provider, "cm")
    # The event source mapping cannot delete what the function delivered: SQS hands it out again.
    pump_sqs = boto3.client("sqs")
    injector = Injector()
    injector.install(pump_sqs)
    fault = Fault(Call("delete", "sqs", "DeleteMessageBatch"), Kind.THROTTLED)
    injector.faults.append(fault)
    pump = world.pump(delivery, sqs=pump_sqs)

    first = pump.poll_once()
    while not first.received:
        time.sleep(0.05)
        first = pump.poll_once()
    # Throttled by the provider: retried at once (back-off 0), and delivered, but the delete fails. The clock starts
    # before the poll that receives it: the message's visibility timeout starts no earlier.
    handed_out = time.monotonic()
    second = pump.poll_once()
    while not second.received:
        time.sleep(0.05)
        handed_out = time.monotonic()
        second = pump.poll_once()
    assert provider.accepted == {queued["message_id"]: 1}
    assert fault.injected > 0
    assert world.in_queue() == 1

    # After the queue's visibility timeout the message comes back: the function acknowledges it without sending.
    injector.faults.clear()
    world.drain(delivery)
    assert time.monotonic() - handed_out >= VISIBILITY_SECONDS - 0.5
    assert provider.requests[queued["message_id"]] == [Step.THROTTLED, Step.OK]
    assert provider.accepted == {queued["message_id"]: 1}
    assert record(world, queued)["status"]["S"] == "sent"


# The attempt's lease on the send's record (`begin_attempt`): the conditional write that is the delivery's claim.
LEASE = Call(
    "lease",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX) and "lease" in str(b.get("ExpressionAttributeNames")),
)


def test_a_lease_whose_answer_was_lost_is_found_by_the_sdks_retry_and_sent_once(
    world: World, provider: FakeProvider
) -> None:
    queued = accept(world)
    delivery = delivery_on(world, provider, "cm")
    # The lease is written, its answer lost: the SDK sends the write again, which its condition refuses (a lease
    # runs). The refusal returns the record as it was, whose lease carries this call's own token: the lease is ours.
    fault = world.inject(LEASE, Kind.LOST, times=1)
    pump = world.pump(delivery, remaining_ms=500)

    outcome = pump.poll_once()

    assert (outcome.received, outcome.failed) == (1, 0)
    assert fault.injected == 1
    assert provider.requests[queued["message_id"]] == [Step.OK]
    found = record(world, queued)
    # One attempt, counted once by the write that landed; the `sent` write held under that lease and ended it.
    assert (found["status"]["S"], found["attempts"]["N"]) == ("sent", "1")
    assert "lease_token" not in found
    world.heal()
    world.drain(delivery, remaining_ms=500)
    assert provider.accepted == {queued["message_id"]: 1}
    assert world.dead_letters() == []


SENT_WRITE = Call(
    "sent-status", "dynamodb", "TransactWriteItems", lambda b: "TransactItems" in b and ":status" in str(b)
)


def test_a_sent_status_that_cannot_be_written_is_written_on_redelivery_without_sending_again(
    world: World, provider: FakeProvider
) -> None:
    queued = accept(world)
    delivery = delivery_on(world, provider, "cm")
    # Every try of the write inside the delivery fails (2 tries: the SDK's retry).
    fault = world.inject(SENT_WRITE, Kind.THROTTLED, times=2)
    pump = world.pump(delivery, remaining_ms=500)

    outcome = pump.poll_once()

    # The provider has it, the record does not say so yet: the message goes back onto the queue as a copy that
    # carries the status to write (the original is acknowledged), and nothing may send it again.
    assert (outcome.received, outcome.failed) == (1, 0)
    assert fault.injected == 2
    assert provider.accepted == {queued["message_id"]: 1}
    assert record(world, queued)["status"]["S"] == "queued"
    assert world.in_queue() == 1

    world.heal()
    world.drain(delivery, remaining_ms=500)
    # The copy's receive writes what the first one carried over: sent, by CM, without reaching the provider.
    assert provider.requests[queued["message_id"]] == [Step.OK]
    final = record(world, queued)
    assert final["status"]["S"] == "sent"
    assert final["provider"]["S"] == "cm"
    assert final["attempts"]["N"] == "1"
    assert world.dead_letters() == []


def test_a_sent_status_that_can_be_neither_written_nor_handed_back_waits_for_the_lease(
    world: World, provider: FakeProvider
) -> None:
    queued = accept(world)
    delivery = delivery_on(world, provider, "cm")
    world.inject(SENT_WRITE, Kind.THROTTLED, times=2)
    hand_back = world.inject(Call("hand-back", "sqs", "SendMessage"), Kind.THROTTLED)
    pump = world.pump(delivery, remaining_ms=500)

    outcome = pump.poll_once()

    # The item fails; its lease (until the invocation's deadline) keeps the retry away while it runs.
    assert (outcome.received, outcome.failed) == (1, 1)
    assert hand_back.injected > 0
    assert provider.accepted == {queued["message_id"]: 1}
    found = record(world, queued)
    assert (found["status"]["S"], found["attempts"]["N"]) == ("queued", "1")
    assert "lease_token" in found

    # After the lease: the one duplicate window left (docs/design-decisions.md), a duplicate rather than a loss.
    world.heal()
    world.drain(delivery, remaining_ms=500)
    assert provider.accepted == {queued["message_id"]: 2}
    assert record(world, queued)["status"]["S"] == "sent"
    assert world.dead_letters() == []


@pytest.mark.parametrize("fault", ["transient", "permanent"])
def test_the_sandbox_told_to_fail_ends_failed_retried_into_the_dead_letter_queue_or_at_once(
    world: World, fault: str
) -> None:
    queued = accept(world)
    world.configure(sandbox_fault=fault)

    rounds = world.drain(load_handler("delivery"))

    assert DELIVERIES.entries() == []
    found = record(world, queued)
    attempts = MAX_ATTEMPTS if fault == "transient" else 1
    assert (found["status"]["S"], found["attempts"]["N"]) == ("failed", str(attempts))
    assert found["reason"]["S"].endswith(f"Sandbox configured to fail ({fault}).")
    assert rounds == attempts
    dead = [letter["message_id"] for letter in world.dead_letters()]
    assert dead == ([queued["message_id"]] if fault == "transient" else [])


def test_a_slow_sandbox_past_the_visibility_timeout_delivers_once_to_two_workers(world: World) -> None:
    queued = accept(world)
    world.configure(sandbox_delay_seconds=str(VISIBILITY_SECONDS + 1))
    # Two function instances, each with its own event source poller, as Lambda scales out.
    workers = [load_handler("delivery"), load_handler("delivery")]
    stop = threading.Event()
    errors: list[BaseException] = []
    refused: list[int] = []

    def poll(handler: ModuleType) -> None:
        pump = world.pump(handler, sqs=boto3.client("sqs"))
        try:
            while not stop.is_set():
                outcome = pump.poll_once()
                if outcome.failed:
                    refused.append(outcome.failed)
                if not outcome.received:
                    stop.wait(0.1)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=poll, args=(handler,), daemon=True) for handler in workers]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while world.in_queue() and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    # The race happened: the second worker got the message while the first was still delivering it, and the first's
    # lease on the record made it give the message back (until that lease ends) rather than deliver it.
    assert refused
    assert world.in_queue() == 0
    assert [entry.message_id for entry in DELIVERIES.entries()] == [queued["message_id"]]
    found = record(world, queued)
    assert (found["status"]["S"], found["attempts"]["N"]) == ("delivered", "1")
