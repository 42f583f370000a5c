"""The dashboard's test event, webhook log and replay through the real dashboard handler under moto (issue 18's
Contract): what is queued for the webhook worker, the log's pages, the limit on events asked for by hand."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.integration.conftest import invoke, make_trial
from tests.integration.test_dashboard_webhooks import request, stored_item
from tests.integration.test_send_handler import get_event
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_webhook_limit import COUNTER_PREFIX
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.channels import Channel
from trialgw.keys import hash_key
from trialgw.ports import WebhookAttempt
from trialgw.webhook_events import WebhookEvent, WebhookKind, from_message, is_event_id, new_event_id

INBOUND = "http://127.0.0.1:9/hook"
PHONE = "+31612345678"
LIMIT = 3


@pytest.fixture
def dashboard(load_configured: Any) -> Any:
    # Loopback URLs as under `make dev`, and a small limit so a test reaches it.
    return load_configured("dashboard", webhook_allow_loopback="true", webhook_manual_limit=str(LIMIT))


def queued() -> list[WebhookEvent]:
    """Every event on the webhook queue (taken off it)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=names.WEBHOOK_EVENTS.local_name)["QueueUrl"]
    events: list[WebhookEvent] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(from_message(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def configured_trial(module: Any, *whitelisted: tuple[Any, str]) -> str:
    """A trial with an inbound URL, saved through the dashboard (a loopback literal: no name to resolve)."""
    key = make_trial(*whitelisted)
    body = {"inboundUrl": INBOUND, "statusUrl": None}
    assert request(module, "PUT", "/dashboard-api/webhooks", key=key, body=body)[0] == 200
    return key


def log_of(module: Any, key: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    event = get_event("/dashboard-api/webhook-log")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in (query or {}).items()} or None
    event["headers"]["Authorization"] = f"Bearer {key}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
    return invoke(module, event)


def replay(module: Any, key: str | None, event_id: str) -> tuple[int, dict[str, str], Any]:
    path = f"/dashboard-api/webhook-log/{event_id}/replay"
    event = get_event(path)
    event.update(httpMethod="POST", resource="/dashboard-api/webhook-log/{eventId}/replay")
    event["requestContext"].update(httpMethod="POST", resourcePath="/dashboard-api/webhook-log/{eventId}/replay")
    event["pathParameters"] = {"eventId": event_id}
    if key is not None:
        event["headers"]["Authorization"] = f"Bearer {key}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
    return invoke(module, event)


def logged_event(key: str, *, kind: WebhookKind = WebhookKind.INBOUND, attempts: int = 1) -> WebhookEvent:
    """An event with `attempts` attempts written as the worker writes them, a second apart."""
    event = WebhookEvent(
        event_id=new_event_id(),
        key_hash=hash_key(key),
        kind=kind,
        payload='{"message":{"text":"<b>hé</b>"}}',
        created_at_ms=1_700_000_000_000,
        ttl=int(time.time()) + 86400,
    )
    log = DynamoWebhookLog(aws.dynamodb(), names.MESSAGES.local_name)
    for n in range(attempts):
        log.record_attempt(
            WebhookAttempt(
                attempt_id=f"att{n}{event.event_id[-6:]}",
                event_id=event.event_id,
                kind=kind,
                url=INBOUND,
                at_ms=1_700_000_000_000 + n * 1000,
                status=500 if n < attempts - 1 else 200,
                latency_ms=10 + n,
                error=None,
                answer="oops" if n < attempts - 1 else "ok",
                payload=event.payload,
                will_retry=n < attempts - 1,
            ),
            event,
        )
    return event


def test_a_test_event_is_queued_as_the_mo_json_of_the_first_whitelisted_recipient(dashboard: Any) -> None:
    key = configured_trial(dashboard, (Channel.WHATSAPP, PHONE))
    status, headers, body = request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)
    assert status == 202
    assert headers["Cache-Control"] == "no-store"
    assert is_event_id(body["eventId"])
    (event,) = queued()
    assert event.event_id == body["eventId"]
    assert event.kind is WebhookKind.TEST
    assert event.key_hash == hash_key(key)
    assert (event.attempt, event.replay) == (0, False)
    # The trial's messages' TTL: its expiry plus the expired-trial retention (a day by default).
    trial = DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).get(hash_key(key))
    assert trial is not None
    assert event.ttl == trial.expires_at + 86400
    payload = json.loads(event.payload)
    assert payload["from"]["number"] == PHONE
    assert payload["channel"] == "WhatsApp"
    assert payload["message"]["text"] == "This is a test event from the CM.COM messaging trial"
    assert set(payload) == {"reference", "messageContext", "from", "to", "message", "groupings", "timeUtc", "channel"}


def test_without_a_whitelisted_recipient_the_test_event_comes_from_the_example_number(dashboard: Any) -> None:
    key = configured_trial(dashboard)
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 202
    (event,) = queued()
    payload = json.loads(event.payload)
    assert (payload["from"]["number"], payload["channel"]) == ("+447700900123", "SMS")


def test_no_inbound_url_is_a_400_and_nothing_is_queued_or_counted(dashboard: Any) -> None:
    key = make_trial()
    status, _, body = request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)
    assert (status, body["code"]) == (400, "no_webhook_url")
    assert "inbound URL" in body["message"]
    assert queued() == []
    assert not any(name.startswith(COUNTER_PREFIX) for name in stored_item(key))


def test_the_log_shows_attempts_newest_first_in_pages(dashboard: Any) -> None:
    key = make_trial()
    event = logged_event(key, attempts=3)
    logged_event(make_trial())  # another trial's: never shown
    status, headers, body = log_of(dashboard, key)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert [a["status"] for a in body["attempts"]] == [200, 500, 500]
    assert body["next"] is None
    newest = body["attempts"][0]
    assert newest == {
        "id": f"att2{event.event_id[-6:]}",
        "eventId": event.event_id,
        "kind": "inbound",
        "url": INBOUND,
        # The messages view's time format: RFC 3339 UTC with milliseconds.
        "at": "2023-11-14T22:13:22.000Z",
        "status": 200,
        "latencyMs": 12,
        "error": None,
        "payload": event.payload,
        "answer": "ok",
        "willRetry": False,
    }
    first = log_of(dashboard, key, {"limit": "2"})[2]
    assert [a["latencyMs"] for a in first["attempts"]] == [12, 11]
    assert first["next"] is not None
    second = log_of(dashboard, key, {"limit": "2", "cursor": first["next"]})[2]
    assert [a["latencyMs"] for a in second["attempts"]] == [10]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"cursor": "not-a-cursor!"}, "invalid_cursor"),
        ({"cursor": "SE9PSyMx"}, "invalid_cursor"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "²"}, "invalid_limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_a_400(dashboard: Any, query: dict[str, str], code: str) -> None:
    status, _, body = log_of(dashboard, make_trial(), query)
    assert (status, body["code"]) == (400, code)


def test_a_replay_queues_the_logged_event_again_with_its_id(dashboard: Any) -> None:
    key = make_trial()
    event = logged_event(key, kind=WebhookKind.STATUS, attempts=2)
    status, _, body = replay(dashboard, key, event.event_id)
    assert (status, body) == (202, {"eventId": event.event_id})
    (again,) = queued()
    assert again == WebhookEvent(
        event_id=event.event_id,
        key_hash=event.key_hash,
        kind=WebhookKind.STATUS,
        payload=event.payload,
        created_at_ms=event.created_at_ms,
        ttl=event.ttl,
        attempt=0,
        replay=True,
    )


@pytest.mark.parametrize("event_id", ["evt_neverlogged123", "not-an-event", "evt_" + "x" * 80])
def test_a_replay_of_an_event_the_log_does_not_hold_is_a_404(dashboard: Any, event_id: str) -> None:
    key = make_trial()
    status, _, body = replay(dashboard, key, event_id)
    assert (status, body["code"]) == (404, "not_found")
    assert queued() == []


def test_another_trials_event_cannot_be_replayed(dashboard: Any) -> None:
    theirs = logged_event(make_trial())
    assert replay(dashboard, make_trial(), theirs.event_id)[0] == 404
    assert queued() == []


def test_test_events_and_replays_share_a_limit_per_trial_with_retry_after(dashboard: Any) -> None:
    key = configured_trial(dashboard)
    event = logged_event(key)
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 202
    assert replay(dashboard, key, event.event_id)[0] == 202
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 202
    for status, headers, body in (
        request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key),
        replay(dashboard, key, event.event_id),
    ):
        assert (status, body["code"], body["limit"]) == (429, "rate_limited", "webhook_sends")
        assert f"At most {LIMIT} test events and replays" in body["message"]
        assert 1 <= int(headers["Retry-After"]) <= 3600
    assert len(queued()) == LIMIT
    # Another trial has its own count.
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=configured_trial(dashboard))[0] == 202


def test_the_limits_window_moves_on_and_the_old_counter_goes(dashboard: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = configured_trial(dashboard)
    now = time.time()
    for _ in range(LIMIT):
        assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 202
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 429
    # An hour later (the trial is still active: make_trial gives it an hour; move its expiry on too).
    aws.dynamodb().update_item(
        TableName=names.TRIALS.local_name,
        Key={
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"},
            names.SORT_KEY: {"S": names.TRIAL_SK},
        },
        UpdateExpression="SET expires_at = :later",
        ExpressionAttributeValues={":later": {"N": str(int(now) + 3 * 3600)}},
    )
    later = dashboard._webhook_log_deps()._replace(clock=lambda: now + 3600)
    monkeypatch.setattr(dashboard, "_webhook_log_deps", lambda: later)
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key)[0] == 202
    counters = [name for name in stored_item(key) if name.startswith(COUNTER_PREFIX)]
    assert len(counters) == 1


def test_an_ended_trial_sends_and_replays_nothing(dashboard: Any) -> None:
    key = configured_trial(dashboard)
    event = logged_event(key)
    aws.dynamodb().update_item(
        TableName=names.TRIALS.local_name,
        Key={
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"},
            names.SORT_KEY: {"S": names.TRIAL_SK},
        },
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    for status, _, body in (
        request(dashboard, "POST", "/dashboard-api/webhooks/test", key=key),
        replay(dashboard, key, event.event_id),
    ):
        assert (status, body["code"]) == (409, "trial_ended")
    assert queued() == []
    # Its log stays readable.
    assert log_of(dashboard, key)[0] == 200


def test_a_revoked_or_missing_key_is_refused(dashboard: Any) -> None:
    revoked = configured_trial(dashboard)
    DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).revoke(hash_key(revoked))
    assert request(dashboard, "POST", "/dashboard-api/webhooks/test", key=revoked)[0] == 404
    status, headers, body = request(dashboard, "POST", "/dashboard-api/webhooks/test", key=None)
    assert (status, body["code"], headers["WWW-Authenticate"]) == (401, "unauthorized", "Bearer")
    assert replay(dashboard, None, "evt_neverlogged123")[0] == 401
    assert log_of(dashboard, "not-a-key")[0] == 401
    assert queued() == []


def test_a_queue_failure_is_a_503(dashboard: Any, load_configured: Any) -> None:
    key = configured_trial(dashboard)
    module = load_configured("dashboard", webhook_events_queue_url="https://sqs.eu-west-1.amazonaws.com/1/missing")
    status, headers, body = request(module, "POST", "/dashboard-api/webhooks/test", key=key)
    assert (status, body["code"]) == (503, "unavailable")
    assert "Retry-After" in headers
