"""The dashboard API through the real handler under moto: authentication, the three views, paging, CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import SITE_URL, invoke, load_handler, make_trial
from tests.integration.test_send_handler import PHONE, call, get_event, gw_event, send_body
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel
from trialgw.ports import LoggedMessage, MessageRef, MessageStatus


@pytest.fixture
def dashboard(aws_env: None) -> Any:
    return load_handler("dashboard")


@pytest.fixture
def gw(aws_env: None) -> Any:
    return load_handler("send")


def get(module: Any, path: str, *, key: str | None = None, query: dict[str, str] | None = None) -> Any:
    event = get_event(path)
    if key is not None:
        event["headers"]["Authorization"] = f"Bearer {key}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
    event["headers"]["Origin"] = SITE_URL
    event["multiValueHeaders"]["Origin"] = [SITE_URL]
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return invoke(module, event)


def test_the_three_views_of_a_trial_that_sent(dashboard, gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key)))[0] == 200

    status, headers, trial = get(dashboard, "/dashboard-api/trial", key=key)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert headers["Access-Control-Allow-Origin"] == SITE_URL
    assert trial["trial"]["status"] == "active"
    assert {q["channel"]: q["remaining"] for q in trial["quotas"]}["WhatsApp"] == 9

    status, _, whitelist = get(dashboard, "/dashboard-api/whitelist", key=key)
    assert status == 200
    [row] = whitelist["recipients"]
    assert (row["channel"], row["recipient"]) == ("WhatsApp", PHONE)
    assert key in row["curl"]
    assert len(whitelist["postmanCollection"]["item"]) == 1

    status, _, messages = get(dashboard, "/dashboard-api/messages", key=key)
    assert status == 200
    [message] = messages["messages"]
    assert message["direction"] == "outbound"
    assert message["status"] == "queued"
    assert key not in json.dumps(message)
    assert message["json"]["messages"]["msg"][0]["to"] == [{"number": PHONE}]


def test_paging_walks_every_message_once(dashboard, gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for _ in range(5):
        assert call(gw, gw_event(send_body(key)))[0] == 200
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, _, page = get(dashboard, "/dashboard-api/messages", key=key, query=query)
        assert status == 200
        assert len(page["messages"]) <= 2
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize("path", ["/dashboard-api/trial", "/dashboard-api/whitelist", "/dashboard-api/messages"])
def test_no_key_is_401_and_an_unknown_key_is_404(dashboard, path):
    status, headers, body = get(dashboard, path)
    assert (status, body["code"]) == (401, "unauthorized")
    assert headers["WWW-Authenticate"] == "Bearer"
    status, _, body = get(dashboard, path, key=new_key())
    assert (status, body["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "bm90IGEgbWVzc2FnZQ"},
        {"cursor": "%%%"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "x"},
        # Digits to str.isdigit(), not to int(): found by the fuzz suite as a 500.
        {"limit": "²"},
        {"limit": "١٢"},
    ],
)
def test_bad_paging_parameters_are_400(dashboard, query):
    key = make_trial()
    status, _, body = get(dashboard, "/dashboard-api/messages", key=key, query=query)
    assert status == 400
    assert body["code"] in {"invalid_cursor", "invalid_limit"}


def test_a_message_the_sandbox_took_names_its_provider(dashboard, gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for _ in range(2):
        assert call(gw, gw_event(send_body(key)))[0] == 200
    log = DynamoMessageLog(aws.dynamodb(), names.MESSAGES.local_name)
    stored = log.page(hash_key(key), limit=10, cursor=None).messages
    sandboxed = MessageRef(hash_key(key), stored[0].at, stored[0].message_id, at_ms=stored[0].at_ms)
    assert log.set_status(
        sandboxed, MessageStatus.SENT, at=stored[0].at + 1, provider="sandbox", provider_message_id="s1"
    )

    status, _, messages = get(dashboard, "/dashboard-api/messages", key=key)
    assert status == 200
    providers = {m["id"]: (m["status"], m["provider"]) for m in messages["messages"]}
    # The page says "simulated phone, not a real one" by this; a message not yet sent names no provider.
    assert providers == {stored[0].message_id: ("sent", "sandbox"), stored[1].message_id: ("queued", None)}


def _all_messages(dashboard: Any, key: str, *, limit: int) -> list[dict[str, Any]]:
    """Every message of the trial, newest first, through the API's cursors `limit` at a time."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        status, _, page = get(dashboard, "/dashboard-api/messages", key=key, query=query)
        assert status == 200, page
        seen += page["messages"]
        cursor = page["next"]
        if cursor is None:
            return seen


def test_a_burst_of_sends_lists_in_arrival_order_with_milliseconds(dashboard, gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for n in range(10):
        assert call(gw, gw_event(send_body(key, content=f"burst {n:02d}")))[0] == 200
    listed = _all_messages(dashboard, key, limit=3)
    assert [m["summary"] for m in listed] == [f"burst {n:02d}" for n in reversed(range(10))]
    # RFC 3339 with milliseconds, strictly decreasing down the list.
    assert all(len(m["at"]) == len("2026-12-02T09:06:00.000Z") and m["at"].endswith("Z") for m in listed)
    assert [m["at"] for m in listed] == sorted((m["at"] for m in listed), reverse=True)
    assert len({m["at"] for m in listed}) == 10


def test_records_from_before_milliseconds_list_by_time_with_new_ones(dashboard, gw):
    """A record keyed by whole seconds (written before this change, kept until its TTL) sorts by its time among new
    ones, and a cursor that points at it or past it still pages."""
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key, content="new")))[0] == 200
    log = DynamoMessageLog(aws.dynamodb(), names.MESSAGES.local_name)
    (new,) = log.page(hash_key(key), limit=10, cursor=None).messages
    assert new.at_ms is not None
    for offset, text in ((-5, "old, earlier"), (0, "old, same second"), (5, "old, later")):
        log.record(
            LoggedMessage(
                key_hash=hash_key(key),
                direction="outbound",
                channel=Channel.WHATSAPP,
                counterpart=PHONE,
                text=text,
                at=new.at + offset,
                message_id=f"old{offset}",
                payload="{}",
                ttl=new.at + 3600,
                status="sent",
            )
        )
    listed = _all_messages(dashboard, key, limit=1)
    assert [m["summary"] for m in listed] == ["old, later", "new", "old, same second", "old, earlier"]
    old = next(m for m in listed if m["summary"] == "old, later")
    assert len(old["at"]) == len("2026-12-02T09:06:00Z")


def test_a_refused_send_is_listed_with_its_answer_and_not_counted(dashboard, gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key, content="first")))[0] == 200
    status, refused_answer = call(gw, gw_event(send_body(key, to=("+31699999999",), content="to a stranger")))
    assert status == 403
    status, wrong_channel = call(gw, gw_event(send_body(key, channels=["Viber"], content="on Viber")))
    assert status == 400
    # Refusals before the key is known belong to no trial: not listed anywhere.
    assert call(gw, gw_event(send_body(new_key(), content="unknown key")))[0] == 401
    assert call(gw, gw_event(send_body(None, content="no key")))[0] == 401

    listed = _all_messages(dashboard, key, limit=50)
    assert [m["summary"] for m in listed] == ["on Viber", "to a stranger", "first"]
    viber, stranger, first = listed
    assert (first["status"], first["errorCode"]) == ("queued", None)
    assert stranger["direction"] == "outbound"
    assert stranger["status"] == "refused"
    assert stranger["reason"] == refused_answer["details"]
    assert stranger["errorCode"] == refused_answer["errorCode"] == 302
    assert stranger["counterpart"] == "+31699999999"
    assert stranger["channel"] == "WhatsApp"
    assert stranger["provider"] is None
    assert stranger["explain"] is None
    (request,) = stranger["json"]["messages"]["msg"]
    assert request["to"] == [{"number": "+31699999999"}]
    assert request["body"]["content"] == "to a stranger"
    assert (viber["channel"], viber["status"], viber["errorCode"]) == ("Viber", "refused", 305)
    assert viber["reason"] == wrong_channel["details"]
    assert key not in json.dumps(listed)

    # Counted apart from the quota: one WhatsApp message sent, nine left.
    _, _, trial = get(dashboard, "/dashboard-api/trial", key=key)
    assert {q["channel"]: q["remaining"] for q in trial["quotas"]}["WhatsApp"] == 9
