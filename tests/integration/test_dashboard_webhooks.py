"""A trial's own webhooks through the real dashboard handler under moto (issue 18's Contract): the URLs, the refusals,
the signing secret shown once. DNS is a function here: no test reaches the network."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest

from tests.integration.conftest import SITE_URL, forget_cached_state, invoke, load_handler, make_trial
from tests.integration.test_send_handler import get_event
from trialgw import names
from trialgw.adapters import aws, dns
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.keys import hash_key, new_key
from trialgw.webhook_signing import is_secret

PUBLIC_HOST = "hooks.example.com"
ANSWERS = {PUBLIC_HOST: ("93.184.215.14",), "inside.example.com": ("10.0.0.7",)}


def fake_resolve(host: str, port: int) -> Sequence[str]:
    if host not in ANSWERS:
        raise OSError("Name or service not known")
    return ANSWERS[host]


@pytest.fixture
def dashboard(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(dns, "resolve", fake_resolve)
    return load_handler("dashboard")


def request(
    module: Any, method: str, path: str, *, key: str | None, body: Any = None, content_type: str | None = None
) -> tuple[int, dict[str, str], Any]:
    event = get_event(path)
    event.update(httpMethod=method)
    event["requestContext"].update(httpMethod=method)
    headers = {"Origin": SITE_URL}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        headers["Content-Type"] = content_type or "application/json"
    for name, value in headers.items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return invoke(module, event)


def stored_item(key: str) -> dict[str, Any]:
    return aws.dynamodb().get_item(
        TableName=names.TRIALS.local_name,
        Key={
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"},
            names.SORT_KEY: {"S": names.TRIAL_SK},
        },
    )["Item"]


def test_a_new_trial_has_no_webhooks(dashboard: Any) -> None:
    status, headers, body = request(dashboard, "GET", "/dashboard-api/webhooks", key=make_trial())
    assert status == 200
    assert body == {"inboundUrl": None, "statusUrl": None, "hasSecret": False}
    assert headers["Cache-Control"] == "no-store"


def test_put_saves_both_urls_and_get_shows_them(dashboard: Any) -> None:
    key = make_trial()
    urls = {"inboundUrl": f"https://{PUBLIC_HOST}/in", "statusUrl": f"https://{PUBLIC_HOST}:8443/status?t=1"}
    status, _, body = request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body=urls)
    assert (status, body) == (200, {**urls, "hasSecret": False})
    assert request(dashboard, "GET", "/dashboard-api/webhooks", key=key)[2] == {**urls, "hasSecret": False}
    # PUT replaces both: a null (or missing, or empty) URL removes that webhook.
    status, _, body = request(
        dashboard, "PUT", "/dashboard-api/webhooks", key=key, body={"inboundUrl": urls["inboundUrl"], "statusUrl": None}
    )
    assert body == {"inboundUrl": urls["inboundUrl"], "statusUrl": None, "hasSecret": False}
    assert "webhook_status_url" not in stored_item(key)
    status, _, body = request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body={"inboundUrl": ""})
    assert body == {"inboundUrl": None, "statusUrl": None, "hasSecret": False}


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/in", "https://"),
        ("https://10.0.0.1/in", "private"),
        ("https://127.0.0.1:9000/in", "loopback"),
        ("http://127.0.0.1:9000/in", "https://"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("https://100.64.0.1/", "carrier-grade NAT"),
        ("https://inside.example.com/in", "inside.example.com resolves to 10.0.0.7"),
        ("https://nowhere.example.com/in", "does not resolve"),
        ("https://user:pw@hooks.example.com/in", "passwords"),
        ("https://hooks.example.com:22/in", "Port 22"),
    ],
)
def test_a_refused_url_is_a_400_naming_the_field_and_why(dashboard: Any, url: str, words: str) -> None:
    key = make_trial()
    status, _, body = request(
        dashboard, "PUT", "/dashboard-api/webhooks", key=key, body={"inboundUrl": None, "statusUrl": url}
    )
    assert status == 400
    assert body["code"] == "invalid_webhook_url"
    assert body["message"].startswith("statusUrl: ")
    assert words in body["message"]
    # Nothing saved.
    assert request(dashboard, "GET", "/dashboard-api/webhooks", key=key)[2]["statusUrl"] is None


def test_a_url_that_is_not_text_is_refused(dashboard: Any) -> None:
    status, _, body = request(dashboard, "PUT", "/dashboard-api/webhooks", key=make_trial(), body={"inboundUrl": 5})
    assert (status, body["code"]) == (400, "invalid_webhook_url")
    assert body["message"].startswith("inboundUrl: ")


def test_unknown_fields_and_bodies_that_are_not_json_objects_are_refused(dashboard: Any) -> None:
    key = make_trial()
    status, _, body = request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body={"inboundURL": "x"})
    assert (status, body["code"]) == (400, "unknown_field")
    assert request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body="[1]")[2]["code"] == "invalid_json"
    status, _, body = request(
        dashboard, "PUT", "/dashboard-api/webhooks", key=key, body="inboundUrl=x", content_type="text/plain"
    )
    assert (status, body["code"]) == (415, "unsupported_media_type")
    big = {"inboundUrl": "https://hooks.example.com/" + "a" * 9000}
    assert request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body=big)[2]["code"] == "body_too_large"


def test_loopback_is_admitted_when_the_setting_allows_it(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALGW_WEBHOOK_ALLOW_LOOPBACK", "true")
    forget_cached_state()
    monkeypatch.setattr(dns, "resolve", fake_resolve)
    dashboard = load_handler("dashboard")
    urls = {"inboundUrl": "http://127.0.0.1:9123/in", "statusUrl": "http://127.0.0.1:9123/status"}
    status, _, body = request(dashboard, "PUT", "/dashboard-api/webhooks", key=make_trial(), body=urls)
    assert (status, body) == (200, {**urls, "hasSecret": False})
    status, _, body = request(
        dashboard, "PUT", "/dashboard-api/webhooks", key=make_trial(), body={"inboundUrl": "http://10.0.0.1:9123/"}
    )
    assert (status, body["code"]) == (400, "invalid_webhook_url")


def test_the_secret_is_shown_once_and_rotates(dashboard: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = make_trial()
    # What the functions log (botocore's DEBUG wire dumps are never on in Lambda).
    caplog.set_level(logging.INFO)
    status, headers, body = request(dashboard, "POST", "/dashboard-api/webhooks/secret", key=key)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    first = body["secret"]
    assert is_secret(first)
    assert request(dashboard, "GET", "/dashboard-api/webhooks", key=key)[2]["hasSecret"] is True
    # Saving URLs keeps the secret, and no answer but the first shows it.
    _, _, saved = request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body={"inboundUrl": None})
    assert saved["hasSecret"] is True
    assert first not in json.dumps(saved)
    second = request(dashboard, "POST", "/dashboard-api/webhooks/secret", key=key)[2]["secret"]
    assert second != first
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    assert store.signing_secret(hash_key(key)) == second
    assert first not in caplog.text
    assert second not in caplog.text


def test_the_routes_need_the_key(dashboard: Any) -> None:
    for method, path in (
        ("GET", "/dashboard-api/webhooks"),
        ("PUT", "/dashboard-api/webhooks"),
        ("POST", "/dashboard-api/webhooks/secret"),
    ):
        status, headers, body = request(dashboard, method, path, key=None, body={} if method == "PUT" else None)
        assert (status, body["code"], headers["WWW-Authenticate"]) == (401, "unauthorized", "Bearer")
        status, _, body = request(dashboard, method, path, key=new_key(), body={} if method == "PUT" else None)
        assert (status, body["code"]) == (404, "not_found")


def test_a_revoked_trial_is_unknown_and_an_ended_one_read_only(dashboard: Any) -> None:
    revoked = make_trial()
    DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).revoke(hash_key(revoked))
    assert request(dashboard, "POST", "/dashboard-api/webhooks/secret", key=revoked)[0] == 404
    ended = make_trial()
    aws.dynamodb().update_item(
        TableName=names.TRIALS.local_name,
        Key={
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(ended)}"},
            names.SORT_KEY: {"S": names.TRIAL_SK},
        },
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert request(dashboard, "GET", "/dashboard-api/webhooks", key=ended)[0] == 200
    for method, path, body in (
        ("PUT", "/dashboard-api/webhooks", {"inboundUrl": None}),
        ("POST", "/dashboard-api/webhooks/secret", None),
    ):
        status, _, answer = request(dashboard, method, path, key=ended, body=body)
        assert (status, answer["code"]) == (409, "trial_ended")


def test_the_store_writes_nothing_for_a_trial_that_does_not_exist(aws_env: None) -> None:
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    assert store.config("nope") is None
    assert store.save_urls("nope", inbound_url="https://hooks.example.com/", status_url=None) is None
    assert store.save_secret("nope", "whsec_" + "x" * 43, now=1) is False
    assert store.signing_secret("nope") is None
    assert "Item" not in aws.dynamodb().get_item(
        TableName=names.TRIALS.local_name,
        Key={names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}nope"}, names.SORT_KEY: {"S": names.TRIAL_SK}},
    )
