"""Webhook events (issue 18): the queue's body round-trips, and a body the producers could not have made is refused."""

from __future__ import annotations

import json

import pytest

from trialgw.webhook_events import (
    MAX_PAYLOAD_CHARS,
    WebhookEvent,
    WebhookKind,
    from_message,
    is_event_id,
    new_event_id,
    to_message,
)

EVENT = WebhookEvent(
    event_id="evt_abcdefgh12345678",
    key_hash="f" * 64,
    kind=WebhookKind.STATUS,
    payload='{"messages":{"msg":{"to":"+31612345678"}}}',
    created_at_ms=1_700_000_000_123,
    ttl=1_700_100_000,
    attempt=3,
    replay=True,
)


def test_an_event_round_trips_through_its_message() -> None:
    assert from_message(to_message(EVENT)) == EVENT


def test_new_ids_are_ids_and_differ() -> None:
    ids = {new_event_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(is_event_id(i) for i in ids)


@pytest.mark.parametrize(
    "text", [None, 7, "", "evt_", "abc_defghijk", "evt_../../x", "evt_" + "a" * 61, "evt_ä1234567"]
)
def test_not_ids(text: object) -> None:
    assert not is_event_id(text)


def test_each_kind_names_its_url() -> None:
    assert WebhookKind.INBOUND.url_field == "inboundUrl"
    assert WebhookKind.TEST.url_field == "inboundUrl"
    assert WebhookKind.STATUS.url_field == "statusUrl"


def _body(**changes: object) -> str:
    data = json.loads(to_message(EVENT))
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"eventId": "evt_abcdefgh12345678"}),
        _body(kind="mo"),
        _body(eventId="../x"),
        _body(trial=""),
        _body(trial=5),
        _body(payload=None),
        _body(payload="x" * (MAX_PAYLOAD_CHARS + 1)),
        _body(createdAtMs="1"),
        _body(ttl=True),
        _body(attempt=1.5),
        _body(replay="yes"),
    ],
)
def test_a_body_the_producers_could_not_have_made_is_refused(body: str) -> None:
    with pytest.raises(ValueError, match="not a webhook event"):
        from_message(body)


def test_the_webhook_queues_age_alarm_allows_for_the_longest_delay_a_retry_takes() -> None:
    from trialgw import names
    from trialgw.adapters.sqs_webhook_events import MAX_DELAY_SECONDS

    assert names.WEBHOOK_EVENTS.longest_delay_seconds == MAX_DELAY_SECONDS
