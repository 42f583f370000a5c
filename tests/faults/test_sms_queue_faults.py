"""Two-way SMS keeps its failures (issue 14, path 4): the SMS topics deliver to a queue the MO function consumes, so
an end user's text whose processing fails every time is retried and then kept in the queue's dead-letter queue,
never dropped; once the fault is gone an operator's redrive whitelists the sender.

The text arrives as SNS puts it on the queue (its JSON envelope around End User Messaging's JSON); the real MO
function takes it behind the local stack's event source mapping (`infra.local.pump`) on moto's server, with the
trial read failing below the adapters.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.faults.conftest import MAX_ATTEMPTS, Call, Kind, World, key_of
from tests.integration.conftest import load_handler
from trialgw import names
from trialgw.keys import hash_key
from trialgw.models import Channel, member_token

pytestmark = pytest.mark.faults

SENDER = "+447700900123"
READ_TRIAL = Call("read-trial", "dynamodb", "GetItem", lambda b: key_of(b)[1] == names.TRIAL_SK)
# What a fresh invocation has left: enough for every record of a batch to be started (trialgw.budgets).
REMAINING_MS = 120_000


def sns_envelope(text: str) -> str:
    """A two-way SMS as the SMS queue holds it: SNS's envelope (raw delivery off) around End User Messaging's JSON."""
    inbound = {
        "originationNumber": SENDER,
        "destinationNumber": "+447860054666",
        "messageKeyword": "KEYWORD_447860054666",
        "messageBody": text,
        "inboundMessageId": str(uuid.uuid4()),
    }
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:trialgw-two-way-sms",
            "Message": json.dumps(inbound),
            "Timestamp": "2026-03-02T09:15:30.000Z",
            "SignatureVersion": "1",
            "Signature": "c2lnbmF0dXJl",
            "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
    )


def whitelisted(world: World, key: str) -> bool:
    trial = world.trial_item(key) or {}
    return member_token(Channel.SMS, SENDER) in trial.get(names.MEMBERS_ATTRIBUTE, {}).get("SS", [])


def dead_letters(world: World) -> list[str]:
    return [message.body for message in world.moto.backend.peek(world.sms_queue.dead_letter_name)]


def redrive(world: World) -> None:
    """What an operator does once the fault is gone (the console's "Start DLQ redrive", StartMessageMoveTask): the
    dead letters back onto the SMS queue."""
    while True:
        answer: Any = world.sqs.receive_message(QueueUrl=world.sms_queue.dead_letter_url, MaxNumberOfMessages=10)
        messages = answer.get("Messages", [])
        if not messages:
            return
        for message in messages:
            world.sqs.send_message(QueueUrl=world.sms_queue.url, MessageBody=message["Body"])
            world.sqs.delete_message(QueueUrl=world.sms_queue.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.parametrize("kind", [Kind.THROTTLED, Kind.SERVER_ERROR, Kind.UNREACHABLE])
def test_a_two_way_sms_that_fails_every_time_ends_in_the_dead_letter_queue_and_is_redriven(
    world: World, kind: Kind
) -> None:
    key = world.make_trial()
    envelope = sns_envelope(f"Joining with {key}")
    world.sqs.send_message(QueueUrl=world.sms_queue.url, MessageBody=envelope)
    fault = world.inject(READ_TRIAL, kind)
    sms = load_handler("sms_inbound")

    rounds = world.drain(sms, queue=world.sms_queue, timeout=60, remaining_ms=REMAINING_MS)

    # Tried on every receive the queue allows, then kept: the very message SNS delivered, nothing dropped.
    assert rounds == MAX_ATTEMPTS
    assert fault.injected > 0
    assert dead_letters(world) == [envelope]
    assert not whitelisted(world, key)
    assert world.message_records() == []

    world.heal()
    redrive(world)
    world.drain(sms, queue=world.sms_queue, remaining_ms=REMAINING_MS)

    assert whitelisted(world, key)
    assert dead_letters(world) == []
    # Whitelisted once, answered once: the retries left no half-done work behind.
    inbound = [r for r in world.message_records() if r["direction"]["S"] == "inbound"]
    assert [r["counterpart"]["S"] for r in inbound] == [SENDER]
    assert [m["to"] for m in world.queued()] == [SENDER]
    assert hash_key(key) in inbound[0]["pk"]["S"]
