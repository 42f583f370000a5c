"""The simulated phone's side of the sandbox's statuses (`infra.local.sandbox_statuses`, `POST /_local/read`) on moto:
a send the real delivery handler gave the sandbox is `delivered`; the phone reports it `read` through the status path
providers' reports take; nothing else can be reached."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.local.events import HttpRequest
from infra.local.sandbox_statuses import SandboxStatuses
from infra.local.server import LocalGateway
from tests.integration.conftest import load_handler, make_trial
from tests.integration.test_delivery_handler import PHONE, accepted_send, receive, record_of, run
from tests.integration.test_webhook_events_produced import webhook_events
from tests.unit.test_local_deliveries import gateway
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.keys import hash_key
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES, SandboxDelivery

pytestmark = pytest.mark.usefixtures("aws_env", "clean_sandbox")


def _delivered_send() -> SandboxDelivery:
    accepted_send()
    (message,) = receive(1)
    assert run(load_handler("delivery"), message) == {"batchItemFailures": []}
    [entry] = [d for d in DELIVERIES.entries() if d.kind == "send"]
    return entry


def _post(local: LocalGateway, body: object) -> tuple[int, object]:
    response = local.handle(HttpRequest("POST", "/_local/read", body=json.dumps(body).encode()))
    return response.status, json.loads(response.body)


def test_the_phone_reports_a_sandbox_send_read_and_sees_its_status(tmp_path: Path) -> None:
    entry = _delivered_send()
    statuses = SandboxStatuses(
        DELIVERIES.entries,
        names.MESSAGES.local_name,
        webhook_events_queue_url=os.environ[names.WEBHOOK_EVENTS.env_var],
    )
    local = gateway(tmp_path, DELIVERIES, statuses)
    assert statuses.status(entry) == "delivered"

    assert _post(local, {"message_ids": ["not-one-the-sandbox-delivered"]}) == (200, {"updated": 0})
    assert _post(local, {"message_ids": [entry.message_id]}) == (200, {"updated": 1})
    assert record_of(entry.message_id)["status"]["S"] == "read"
    listed = json.loads(local.handle(HttpRequest("GET", "/_local/deliveries")).body)
    assert [e["status"] for e in listed if e["kind"] == "send"] == ["read"]
    # Only forward: a second read moves nothing.
    assert _post(local, {"message_ids": [entry.message_id]}) == (200, {"updated": 0})


@pytest.mark.parametrize("body", [None, [], {"message_ids": "x"}, {"message_ids": [1]}])
def test_a_malformed_read_is_400(tmp_path: Path, body: object) -> None:
    local = gateway(
        tmp_path,
        DELIVERIES,
        SandboxStatuses(
            DELIVERIES.entries,
            names.MESSAGES.local_name,
            webhook_events_queue_url=os.environ[names.WEBHOOK_EVENTS.env_var],
        ),
    )
    assert _post(local, body)[0] == 400


def test_the_phones_read_of_a_flagged_send_is_its_trials_status_event(tmp_path: Path) -> None:
    # Issue 18: on `make dev` a send of a trial with a status URL makes `sent`, `delivered` (delivery) and, once the
    # phone shows it, `read` (here), each on the webhook queue.
    key = make_trial((Channel.WHATSAPP, PHONE))
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    assert store.save_urls(hash_key(key), inbound_url=None, status_url="http://127.0.0.1:9000/status")
    accepted_send(key=key)
    (message,) = receive(1)
    assert run(load_handler("delivery"), message) == {"batchItemFailures": []}
    [entry] = [d for d in DELIVERIES.entries() if d.kind == "send"]
    statuses = SandboxStatuses(
        DELIVERIES.entries,
        names.MESSAGES.local_name,
        webhook_events_queue_url=os.environ[names.WEBHOOK_EVENTS.env_var],
    )
    assert _post(gateway(tmp_path, DELIVERIES, statuses), {"message_ids": [entry.message_id]}) == (200, {"updated": 1})
    codes = [json.loads(e.payload)["messages"]["msg"]["status"]["code"] for e in webhook_events()]
    # Sent, delivered (the sandbox's report on delivery's path), read (the phone's), each once.
    assert sorted(codes) == ["0", "2", "4"]
