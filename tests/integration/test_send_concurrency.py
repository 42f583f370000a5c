"""Concurrent sends on moto's real HTTP server (the local stack's backend, one request at a time like
DynamoDB's item-level atomicity): the quota is exact and refusals consume nothing.

Each send runs the send logic as the handler does (`parse_send_request` then `send`), with its own boto3
session, clients, adapters and capacity breaker, as separate Lambda instances would have them.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import boto3
import pytest

from tests.integration.conftest import load_handler
from tests.send_answers import send
from trialgw import names
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.gateway.request import parse_send_request
from trialgw.keys import hash_key, new_key
from trialgw.logic.send import SendDeps
from trialgw.models import Channel, Trial
from trialgw.observability import metrics
from trialgw.ports import WhitelistOutcome
from trialgw.settings import SendSettings

PHONE = "+31612345678"
STRANGER = "+31687654321"
QUOTA = 10
SEND = load_handler("send")


@pytest.fixture
def endpoint(moto_endpoint):
    return moto_endpoint


@pytest.fixture
def world(endpoint, moto_dynamodb):
    """Fresh tables and a queue of this test's own on the server; the settings a send function would have."""
    dynamodb = moto_dynamodb
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    queue_url = sqs.create_queue(QueueName=f"send-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings = SendSettings(outbound_queue_url=queue_url, quota_whatsapp=QUOTA, capacity_flush_seconds=0)
    yield dynamodb, sqs, settings
    sqs.delete_queue(QueueUrl=queue_url)
    metrics.clear_metrics()


def _trial(dynamodb, *whitelisted: tuple[Channel, str]) -> str:
    now = int(time.time())
    key = new_key()
    trial = Trial(hash_key(key), "Jane", "jane@example.com", None, now - 60, now + 3600)
    DynamoTrialStore(dynamodb, names.TRIALS.local_name).create(trial, ttl=now + 7200)
    store = DynamoWhitelistStore(dynamodb, names.WHITELIST.local_name, names.TRIALS.local_name)
    for channel, address in whitelisted:
        assert store.add(trial, channel, address, now=now, limit=10, ttl=now + 7200) is WhitelistOutcome.ADDED
    return key


def _body(key: str, to: str = PHONE, channel: str = "WhatsApp") -> str:
    message = {"allowedChannels": [channel], "to": [{"number": to}], "body": {"content": "hi"}, "from": "TrialTest"}
    return json.dumps({"messages": {"authentication": {"producttoken": key}, "msg": [message]}})


def _instance(session: boto3.session.Session, endpoint: str, settings: SendSettings) -> SendDeps:
    """What one Lambda instance builds in `_deps()`: its own clients (connection pools) and breaker."""
    deps: SendDeps = SEND.build_deps(
        settings, session.client("dynamodb", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)
    )
    return deps


def _send_all(endpoint: str, settings: SendSettings, bodies: list[str]) -> list[int]:
    """Sends every body at once, one instance per body; the HTTP statuses in the bodies' order."""
    # Clients are built here, one after another (building them from one session is not thread-safe); the sends
    # then start together.
    session = boto3.session.Session()
    instances = [_instance(session, endpoint, settings) for _ in bodies]
    start = Barrier(len(bodies))

    def one(body: str, deps: SendDeps) -> int:
        start.wait(timeout=20)
        return send(parse_send_request(body, "application/json", None), settings, deps).status

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies, instances, timeout=25))


def _sent(dynamodb, key: str) -> dict[str, int]:
    state = DynamoTrialStore(dynamodb, names.TRIALS.local_name).state(hash_key(key))
    assert state is not None
    return {channel.value: count for channel, count in state.sent.items() if count}


def _items(dynamodb, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb.query(
        TableName=names.MESSAGES.local_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"}},
        ConsistentRead=True,
    )["Items"]
    return items


def _messages(dynamodb, key: str) -> list[dict[str, Any]]:
    """The trial's sends: its records with a status (a refused attempt's record has none, it has an outcome)."""
    return [item for item in _items(dynamodb, key) if "status" in item]


def _refusals(dynamodb, key: str) -> list[dict[str, Any]]:
    return [item for item in _items(dynamodb, key) if item.get("outcome", {}).get("S") == "refused"]


def _queued(sqs, queue_url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        if not batch.get("Messages"):
            return bodies
        bodies += [json.loads(message["Body"]) for message in batch["Messages"]]


def _capacity_count(dynamodb) -> int:
    return sum(window.accepted for window in DynamoCapacityStore(dynamodb, names.TRIALS.local_name).windows())


def test_thirty_concurrent_sends_on_a_quota_of_ten(world, endpoint):
    dynamodb, sqs, settings = world
    key = _trial(dynamodb, (Channel.WHATSAPP, PHONE))
    began = time.monotonic()
    statuses = _send_all(endpoint, settings, [_body(key)] * 30)
    assert time.monotonic() - began < 30
    assert Counter(statuses) == {200: 10, 429: 20}
    assert _sent(dynamodb, key) == {"WhatsApp": QUOTA}
    messages = _messages(dynamodb, key)
    assert len(messages) == QUOTA
    assert {m["status"]["S"] for m in messages} == {"queued"}
    queued = _queued(sqs, settings.outbound_queue_url)
    assert len(queued) == QUOTA
    assert {q["message_id"] for q in queued} == {m["message_id"]["S"] for m in messages}
    # Each refusal recorded once, apart: 20 records of errorCode 102, none of them counted or queued.
    refusals = _refusals(dynamodb, key)
    assert [r["error_code"]["N"] for r in refusals] == ["102"] * 20
    assert not {r["message_id"]["S"] for r in refusals} & {q["message_id"] for q in queued}
    # Every instance counted its one accepted message toward capacity (flushed at once), none counted a refusal.
    assert _capacity_count(dynamodb) == QUOTA


def test_concurrent_refusals_consume_nothing(world, endpoint):
    dynamodb, sqs, settings = world
    key = _trial(dynamodb, (Channel.WHATSAPP, PHONE))
    bodies = (
        [_body(key)] * 12  # 10 accepted, 2 over the quota
        + [_body(key, to=STRANGER)] * 12  # not whitelisted
        + [_body(new_key())] * 3  # unknown key
        + [_body(key, channel="Viber")] * 3  # channel not offered
    )
    random.Random(7).shuffle(bodies)
    statuses = _send_all(endpoint, settings, bodies)
    assert Counter(statuses) == {200: 10, 429: 2, 403: 12, 401: 3, 400: 3}
    assert _sent(dynamodb, key) == {"WhatsApp": QUOTA}
    assert len(_messages(dynamodb, key)) == QUOTA
    # Refusals of the trial's key are recorded (2 + 12 + 3); the unknown key's belong to no trial.
    assert Counter(r["error_code"]["N"] for r in _refusals(dynamodb, key)) == {"102": 2, "302": 12, "305": 3}
    assert {q["to"] for q in _queued(sqs, settings.outbound_queue_url)} == {PHONE}
    assert _capacity_count(dynamodb) == QUOTA


def test_only_refusals_concurrently_leave_the_trial_as_it_was(world, endpoint):
    dynamodb, sqs, settings = world
    key = _trial(dynamodb, (Channel.WHATSAPP, PHONE))
    statuses = _send_all(endpoint, settings, [_body(key, to=STRANGER)] * 20)
    assert Counter(statuses) == {403: 20}
    assert _sent(dynamodb, key) == {}
    assert _messages(dynamodb, key) == []
    assert len(_refusals(dynamodb, key)) == 20
    assert _queued(sqs, settings.outbound_queue_url) == []
    assert _capacity_count(dynamodb) == 0
    # The whole quota is still there.
    assert Counter(_send_all(endpoint, settings, [_body(key)] * 10)) == {200: 10}
