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
from tests.integration.conftest import load_handler
from tests.integration.test_delivery_handler import accepted_send, receive, record_of, run
from tests.unit.test_local_deliveries import gateway
from trialgw import names
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
