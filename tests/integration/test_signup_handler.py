import json
import re

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.integration.conftest import SITE_URL, invoke, load_handler, rest_event
from trialgw import names
from trialgw.keys import KEY_PATTERN, hash_key

TEMPLATE = "apigw_rest_signup.json"


@pytest.fixture
def signup(aws_env):
    return load_handler("signup")


def _body(**fields) -> str:
    return json.dumps({"name": "Jane Doe", "email": "jane@example.com", **fields})


def _sent_messages():
    return ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages


def _trial_items():
    items = boto3.client("dynamodb").scan(TableName=names.TRIALS.local_name)["Items"]
    return [item for item in items if item["pk"]["S"].startswith(names.TRIAL_PK_PREFIX)]


def test_signup_creates_a_trial_and_mails_the_key(signup):
    status, headers, body = invoke(signup, rest_event(TEMPLATE))
    assert status == 202
    assert body["email"] == "j***@e***.com"
    assert "Check your inbox" in body["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expiresAt"])
    assert headers["Access-Control-Allow-Origin"] == SITE_URL

    (message,) = _sent_messages()
    assert message.destinations["ToAddresses"] == ["jane@example.com"]
    found = KEY_PATTERN.search(message.body)
    assert found is not None
    key = found.group(0)
    assert f"{SITE_URL}/dashboard/#{key}" in message.body

    (item,) = _trial_items()
    assert item["key_hash"]["S"] == hash_key(key)
    assert key not in json.dumps(item)
    assert int(item[names.TTL_ATTRIBUTE]["N"]) > int(item["expires_at"]["N"])
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) == 86400


def test_fourth_signup_within_the_window_is_429_with_retry_after(signup):
    for _ in range(3):
        assert invoke(signup, rest_event(TEMPLATE))[0] == 202
    status, headers, body = invoke(signup, rest_event(TEMPLATE, body=_body(email="JANE+again@example.com")))
    assert status == 429
    assert body["code"] == "rate_limited"
    assert body["limit"] == "mailbox"
    assert "Too many sign-ups for this e-mail address" in body["message"]
    assert 0 < int(headers["Retry-After"]) <= 86400
    assert len(_trial_items()) == 3
    assert invoke(signup, rest_event(TEMPLATE, body=_body(email="other@example.com")))[0] == 202


def test_ses_failure_answers_503_and_leaves_no_trial(signup, monkeypatch):
    # moto, like SES in its sandbox, refuses to send from an unverified identity.
    monkeypatch.setenv("TRIALGW_SENDER_EMAIL", "unverified@trialgw.example")
    module = load_handler("signup")
    from trialgw import settings

    settings.reload()
    status, headers, body = invoke(module, rest_event(TEMPLATE))
    assert status == 503
    assert body["code"] == "unavailable"
    assert "no trial was created" in body["message"]
    assert int(headers["Retry-After"]) > 0
    assert _trial_items() == []
    assert _sent_messages() == []
    # The failed attempt did not use up one of the three signups of the hour.
    counters = boto3.client("dynamodb").scan(TableName=names.TRIALS.local_name)["Items"]
    assert all(item["count"]["N"] == "0" for item in counters)


def test_dynamodb_failure_answers_503_without_a_trace(signup):
    boto3.client("dynamodb").delete_table(TableName=names.TRIALS.local_name)
    status, _, body = invoke(signup, rest_event(TEMPLATE))
    assert status == 503
    assert body == {"message": "Sign-up is temporarily unavailable. Please try again shortly.", "code": "unavailable"}
    assert _sent_messages() == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "empty_body"),
        ("", "empty_body"),
        ("name=Jane&email=jane@example.com", "invalid_json"),
        ('{"name": "Jane",', "invalid_json"),
        ('["jane@example.com"]', "invalid_json"),
        ("null", "invalid_json"),
        ("[" * 3000 + "]" * 3000, "invalid_json"),
        (json.dumps({"name": "x" * 9000, "email": "jane@example.com"}), "body_too_large"),
        (b"\xff\xfe{not utf-8}", "invalid_encoding"),
    ],
)
def test_malformed_bodies_are_400(signup, raw, code):
    status, _, body = invoke(signup, rest_event(TEMPLATE, body=raw))
    assert status == 400
    assert body["code"] == code
    assert body["message"]
    assert _trial_items() == []


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (json.dumps({}), {"name", "email"}),
        (_body(email="not-an-address"), {"email"}),
        (_body(name=None), {"name"}),
        (_body(name={"first": "Jane"}), {"name"}),
        (_body(name="Jane\r\nX-Injected: 1"), {"name"}),
        (_body(consent=False), {"consent"}),
        (_body(company=["ACME"]), {"company"}),
    ],
)
def test_invalid_fields_are_422_with_a_message_per_field(signup, raw, fields):
    status, _, body = invoke(signup, rest_event(TEMPLATE, body=raw))
    assert status == 422
    assert body["code"] == "invalid_fields"
    assert set(body["fields"]) == fields
    assert all(isinstance(message, str) and message for message in body["fields"].values())
    assert _sent_messages() == []


def test_unknown_route_is_404_not_500(signup):
    event = rest_event(TEMPLATE)
    event["path"] = event["resource"] = "/nope"
    assert invoke(signup, event)[0] == 404


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_body_not_sent_as_json_is_415_and_counts_nothing(signup, content_type):
    event = rest_event(TEMPLATE)
    if content_type is None:
        del event["headers"]["Content-Type"]
        del event["multiValueHeaders"]["Content-Type"]
    else:
        event = rest_event(TEMPLATE, headers={"Content-Type": content_type})
    status, _, body = invoke(signup, event)
    assert status == 415
    assert body == {
        "message": "Send the request as JSON, with the header Content-Type: application/json.",
        "code": "unsupported_media_type",
    }
    assert _trial_items() == []
    assert _counter_items() == []


@pytest.mark.parametrize("content_type", ["application/json", "APPLICATION/JSON; charset=utf-8", "text/json"])
def test_json_content_types_are_taken(signup, content_type):
    assert invoke(signup, rest_event(TEMPLATE, headers={"Content-Type": content_type}))[0] == 202


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": f"{SITE_URL}.evil.example"},
        {"Origin": "http://" + SITE_URL.removeprefix("https://")},
    ],
)
def test_a_browser_request_from_another_site_is_403_and_counts_nothing(signup, headers):
    status, _, body = invoke(signup, rest_event(TEMPLATE, headers=headers))
    assert status == 403
    assert body["code"] == "forbidden_origin"
    assert f"{SITE_URL}/" in body["message"]
    assert _trial_items() == []
    assert _counter_items() == []


def test_a_cross_site_fetch_without_an_origin_is_refused_too(signup):
    event = rest_event(TEMPLATE, headers={"Sec-Fetch-Site": "cross-site"})
    del event["headers"]["Origin"]
    del event["multiValueHeaders"]["Origin"]
    assert invoke(signup, event)[0] == 403


def test_requests_without_an_origin_are_api_calls_and_pass(signup):
    event = rest_event(TEMPLATE)
    del event["headers"]["Origin"]
    del event["multiValueHeaders"]["Origin"]
    assert invoke(signup, event)[0] == 202
    assert invoke(signup, rest_event(TEMPLATE, headers={"Origin": SITE_URL.upper() + "/"}))[0] == 202


def test_a_name_with_a_link_is_422_with_the_reason_and_counts_nothing(signup):
    raw = _body(name="Hi URGENT: your account is locked, log in at https://bank.example/verify")
    status, _, body = invoke(signup, rest_event(TEMPLATE, body=raw))
    assert status == 422
    assert "must not contain a web address" in body["fields"]["name"]
    assert _sent_messages() == []
    assert _counter_items() == []


def test_one_network_is_limited_whatever_the_addresses(signup, monkeypatch):
    monkeypatch.setenv("TRIALGW_SIGNUP_LIMIT_PER_IP", "2")
    from trialgw import settings

    settings.reload()
    module = load_handler("signup")
    for address in ("a@gmail.com", "b@outlook.com"):
        assert invoke(module, rest_event(TEMPLATE, body=_body(email=address)))[0] == 202
    status, headers, body = invoke(module, rest_event(TEMPLATE, body=_body(email="c@icloud.com")))
    assert (status, body["limit"]) == (429, "ip")
    assert body["message"].startswith("Too many sign-ups from your network.")
    assert int(headers["Retry-After"]) > 0
    other = rest_event(TEMPLATE, body=_body(email="c@icloud.com"))
    other["requestContext"]["identity"]["sourceIp"] = "192.0.2.44"
    assert invoke(module, other)[0] == 202
    networks = sorted(item["signup_network"]["S"] for item in _trial_items())
    assert networks == ["192.0.2.0/24", "198.51.100.0/24", "198.51.100.0/24"]


def _counter_items():
    items = boto3.client("dynamodb").scan(TableName=names.TRIALS.local_name)["Items"]
    return [item for item in items if item["pk"]["S"].startswith(names.SIGNUP_COUNTER_PK_PREFIX)]
