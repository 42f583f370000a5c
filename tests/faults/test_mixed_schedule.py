"""Every fault at once, over a few hundred messages: nothing accepted is lost, hangs, or reaches the provider twice.

A developer sends 240 messages through the real gateway with an `Idempotency-Key` each, retrying every 503 and
every lost answer with the same key. Some of those requests meet AWS faults (the queue refusing for good, answers
lost after the work was done, throttling botocore absorbs). The real delivery function then takes the queue through
the local stack's event source mapping, with SQS failing some deletes (so batches come back), DynamoDB throttling
some writes, and a fake CM gateway answering each message by a script drawn for it: accepted at once, after
transient errors (500, 429, a 503 page, cut JSON, no answer within the timeout), never within the attempts, or
refused outright. The dead-letter consumer takes what delivery gave up on.

The proof, from the tables and the provider's own counts: every accepted message has exactly one record and one
quota unit; no record is left `queued`; accepted = sent + failed, and each message ends where its script says; the
provider accepted no message twice (no worker dies here, so the one documented duplicate window never opens).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from tests.cm_requests import cm_send_body
from tests.faults.conftest import (
    MAX_ATTEMPTS,
    PHONE,
    VISIBILITY_SECONDS,
    Call,
    FakeProvider,
    Kind,
    Step,
    World,
    key_of,
    provider_settings,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw.models import Channel

pytestmark = pytest.mark.faults

MESSAGES = 240
SEED = 20261202
# A fresh invocation of the delivery and dead-letter functions: every record of a batch is started.
REMAINING_MS = 120_000

# Scripts per message, with how often each is drawn: the steps of its attempts (then OK), and how it must end.
SCRIPTS: tuple[tuple[int, tuple[Step, ...], str], ...] = (
    (55, (), "sent"),
    (12, (Step.SERVER_ERROR,), "sent"),
    (8, (Step.THROTTLED, Step.UNAVAILABLE), "sent"),
    (5, (Step.HANG,), "sent"),
    (5, (Step.MALFORMED,), "sent"),
    (8, (Step.REJECTED,), "failed"),
    (7, (Step.SERVER_ERROR,) * MAX_ATTEMPTS, "failed"),
)

ENQUEUE = Call("enqueue", "sqs", "SendMessage")
RECORD = Call("record", "dynamodb", "PutItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX))
TAKE_QUOTA = Call(
    "take-quota",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1] == names.TRIAL_SK and "ReturnValuesOnConditionCheckFailure" in b,
)
STATUS_WRITE = Call("status", "dynamodb", "TransactWriteItems", lambda b: "TransactItems" in b and "sent" in str(b))
DELETE_BATCH = Call("delete", "sqs", "DeleteMessageBatch")


def script_of(message_id: str) -> tuple[tuple[Step, ...], str]:
    """The script drawn for a message, the same every time it is asked (a hash of its id seeds the draw)."""
    draw = random.Random(int(hashlib.sha256(message_id.encode()).hexdigest()[:16], 16))
    weights = [weight for weight, _, _ in SCRIPTS]
    _, steps, ending = draw.choices(SCRIPTS, weights=weights)[0]
    return steps, ending


def send(gateway: Any, key: str, index: int) -> tuple[int, dict[str, str], Any]:
    body = cm_send_body(
        key, channels=["WhatsApp"], to=(PHONE,), content=f"Message {index}", sender="TrialTest", reference=f"r{index}"
    )
    event = rest_event("apigw_rest_send.json", body=body, headers={"Idempotency-Key": f"message-{index}"})
    return invoke(gateway, event)


def test_a_mixed_fault_schedule_loses_nothing_leaves_nothing_queued_and_sends_nothing_twice(
    world: World, provider: FakeProvider
) -> None:
    dice = random.Random(SEED)
    world.configure(quota_whatsapp="1000", **provider_settings(provider, "cm", timeout_seconds=0.3))
    provider.script_for = lambda message_id: list(script_of(message_id)[0])
    gateway = load_handler("send")
    key = world.make_trial((Channel.WHATSAPP, PHONE))

    # --- the developer's side: every message sent until it is accepted, retries under its Idempotency-Key ----------
    refused_first, replayed = 0, 0
    for index in range(MESSAGES):
        roll = dice.random()
        if roll < 0.08:
            # The queue refuses for good: 503, nothing taken; the retry below goes through.
            world.inject(ENQUEUE, Kind.SERVER_ERROR)
        elif roll < 0.14:
            # SQS stored the message, the answer was lost, botocore sent it again: two copies, one message id.
            world.inject(ENQUEUE, Kind.LOST, times=1)
        elif roll < 0.20:
            world.inject(RECORD, Kind.LOST, times=1)
        elif roll < 0.26:
            world.inject(TAKE_QUOTA, Kind.THROTTLED, times=1)
        status, headers, body = send(gateway, key, index)
        world.heal()
        if status == 503:
            refused_first += 1
            status, headers, body = send(gateway, key, index)
        assert status == 200, body
        if dice.random() < 0.1:
            # The answer never reached the developer, who sends the very same request again.
            status, headers, again = send(gateway, key, index)
            assert (status, again, headers.get("Idempotent-Replayed")) == (200, body, "true")
            replayed += 1
    assert refused_first > 0
    assert replayed > 0

    records = {r["message_id"]["S"]: r for r in world.message_records() if r["direction"]["S"] == "outbound"}
    assert len(records) == MESSAGES
    assert world.sent(key) == {"sent_whatsapp": MESSAGES}

    # --- delivery: SQS and DynamoDB blips, the provider's scripts, then the dead-letter consumer -----------------
    world.inject(DELETE_BATCH, Kind.THROTTLED, times=3)
    world.inject(STATUS_WRITE, Kind.THROTTLED, times=2)
    world.drain(load_handler("delivery"), timeout=300, remaining_ms=REMAINING_MS)
    world.heal()
    world.drain(
        load_handler("dead_letters"),
        queue=world.queue.dead_letters,
        timeout=4 * VISIBILITY_SECONDS + 30,
        remaining_ms=REMAINING_MS,
    )

    # --- the proof -------------------------------------------------------------------------------------------------
    final = {r["message_id"]["S"]: r for r in world.message_records() if r["direction"]["S"] == "outbound"}
    assert set(final) == set(records)
    statuses = {message_id: record["status"]["S"] for message_id, record in final.items()}
    assert [m for m, status in statuses.items() if status == "queued"] == []
    expected = {message_id: script_of(message_id)[1] for message_id in final}
    assert statuses == expected
    sent = [m for m, status in statuses.items() if status == "sent"]
    failed = [m for m, status in statuses.items() if status == "failed"]
    assert len(sent) + len(failed) == MESSAGES
    assert sent
    assert failed
    # The provider took each sent message exactly once, and no failed one.
    assert {m: provider.accepted[m] for m in sent} == dict.fromkeys(sent, 1)
    assert [m for m in failed if provider.accepted[m]] == []
    assert max(provider.accepted.values()) == 1
    assert world.in_queue() == 0
    assert world.dead_letters() == []
