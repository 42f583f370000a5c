"""The trial's webhook events when the webhook queue fails (issue 18): every way SQS fails the event's SendMessage,
the trial's own path goes on as if there were no webhooks. A recorded inbound message is answered `recorded` and its
claim completed (no retry from the provider); a flagged send is delivered once and recorded `sent` (no retry, no
second provider call); the event alone is lost, logged and counted (`WebhookEventsNotQueued`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.cm_requests import cm_send_body
from tests.faults.conftest import PHONE, SQS_KINDS, Call, Kind, World
from tests.faults.test_mo_faults import SENDER, claims, cm_mo_event, inbound_records
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.keys import hash_key
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

pytestmark = pytest.mark.faults

WEBHOOK_EVENT = Call(
    "webhook-event",
    "sqs",
    "SendMessage",
    lambda b: str(b.get("QueueUrl", "")).endswith("/" + names.WEBHOOK_EVENTS.local_name),
)


def _events(world: World) -> list[dict[str, Any]]:
    url = world.sqs.get_queue_url(QueueName=names.WEBHOOK_EVENTS.local_name)["QueueUrl"]
    messages = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.parametrize("kind", SQS_KINDS)
def test_a_recorded_message_whose_event_cannot_be_queued_is_recorded_and_done(world: World, kind: Kind) -> None:
    key = world.make_trial((Channel.WHATSAPP, SENDER))
    mo = load_handler("mo_webhook")
    fault = world.inject(WEBHOOK_EVENT, kind)
    status, _, body = invoke(mo, cm_mo_event(key, uuid.uuid4().hex, text="See you at five"))
    assert (status, body["outcomes"]) == (200, ["recorded"])
    assert fault.injected >= 1
    assert [r["text"]["S"] for r in inbound_records(world)] == ["See you at five"]
    # Done: the provider's retry of it is a duplicate, not a second processing.
    assert [c["state"]["S"] for c in claims(world)] == ["done"]
    if kind is not Kind.LOST:
        assert _events(world) == []


@pytest.mark.parametrize("kind", SQS_KINDS)
def test_a_flagged_send_whose_status_event_cannot_be_queued_is_delivered_once(world: World, kind: Kind) -> None:
    world.configure(sandbox_reports="false")
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    config = DynamoWebhookConfigStore(world.ddb, names.TRIALS.local_name)
    assert config.save_urls(hash_key(key), inbound_url=None, status_url="https://hooks.example.com/status")
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content="Hi", sender="TrialTest", reference="r-1")
    status, _, answer = invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))
    assert status == 200, answer
    fault = world.inject(WEBHOOK_EVENT, kind)
    world.drain(load_handler("delivery"))
    assert fault.injected >= 1
    assert [d.to for d in DELIVERIES.entries() if d.kind == "send"] == [PHONE]
    (record,) = [r for r in world.message_records() if r["direction"]["S"] == "outbound"]
    assert record["status"]["S"] == "sent"
    assert record["status_webhook"] == {"BOOL": True}
    assert world.in_queue() == 0
    assert world.dead_letters() == []
