"""Join codes on moto: sign-up stores the code's lookup item with the trial (one transaction, the trial's TTL), the
code whitelists through the real inbound handler on CM's and Meta's webhooks, and the dashboard shows the code and a
QR code per contact point."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.integration.conftest import EVENTS, META_APP_SECRET, invoke, load_handler, rest_event
from tests.integration.test_dashboard_handler import get
from tests.integration.test_mo_webhook_handler import FIXTURE_KEY, cm_event, meta_event
from trialgw import names
from trialgw.join_codes import hash_join_code, join_code, join_text
from trialgw.keys import KEY_PATTERN, hash_key
from trialgw.providers.meta.inbound import sign


@pytest.fixture
def key(aws_env: None) -> str:
    """A trial made by the sign-up handler; the key from its e-mail."""
    status, _, _ = invoke(load_handler("signup"), rest_event("apigw_rest_signup.json"))
    assert status == 202
    (mail,) = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    found = KEY_PATTERN.search(mail.body)
    assert found is not None
    assert f"join {join_code(found.group(0))}" in mail.body
    return found.group(0)


def _items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=names.TRIALS.local_name)["Items"]


def _with_text(fixture: str, text: str) -> str:
    """The fixture with the message's text (the one holding the fixture's key) replaced by `text`."""
    raw = (EVENTS / fixture).read_text()
    return re.sub(rf'"[^"]*{FIXTURE_KEY}[^"]*"', json.dumps(text), raw, flags=re.IGNORECASE)


def test_sign_up_stores_the_join_codes_lookup_item_with_the_trials_ttl(key):
    (trial,) = [i for i in _items() if i["pk"]["S"].startswith(names.TRIAL_PK_PREFIX)]
    (join,) = [i for i in _items() if i["pk"]["S"].startswith(names.JOIN_PK_PREFIX)]
    assert join["pk"]["S"] == f"{names.JOIN_PK_PREFIX}{hash_join_code(join_code(key))}"
    assert join["key_hash"]["S"] == hash_key(key)
    assert join[names.TTL_ATTRIBUTE] == trial[names.TTL_ATTRIBUTE]
    # Neither the key nor the code is stored.
    assert key not in json.dumps(join)
    assert join_code(key) not in json.dumps(_items())


def test_the_join_code_whitelists_on_cm_whatsapp(key):
    mo = load_handler("mo_webhook")
    status, _, body = invoke(mo, cm_event(_with_text("mo_cm_whatsapp.json", "Join " + join_code(key).upper())))
    assert (status, body) == (200, {"processed": 1, "outcomes": ["whitelisted"]})
    entries = boto3.client("dynamodb").scan(TableName=names.WHITELIST.local_name)["Items"]
    assert ("WhatsApp", "+31687654321") in {(e["channel"]["S"], e["address"]["S"]) for e in entries if "channel" in e}


@pytest.mark.parametrize("fixture", ["meta_messenger_text.json", "meta_instagram_text.json"])
def test_the_join_code_whitelists_on_messenger_and_instagram(key, fixture):
    raw = _with_text(fixture, join_text(key))
    status, _, body = invoke(load_handler("mo_webhook"), meta_event(raw, sign(raw.encode(), META_APP_SECRET)))
    assert (status, body["outcomes"]) == (200, ["whitelisted"])


def test_a_wrong_code_is_an_invalid_key(key):
    code = join_code(key)
    number = int(code[-3:])
    wrong = f"{code[:-3]}{100 + (number - 99) % 900}"
    status, _, body = invoke(load_handler("mo_webhook"), cm_event(_with_text("mo_cm_whatsapp.json", f"join {wrong}")))
    assert (status, body["outcomes"]) == (200, ["invalid_key"])


def test_the_dashboard_shows_the_code_and_a_qr_code_per_contact_point(key):
    status, _, trial = get(load_handler("dashboard"), "/dashboard-api/trial", key=key)
    assert status == 200
    assert trial["joinCode"] == join_text(key)
    assert trial["contactPoints"]
    for point in trial["contactPoints"]:
        assert key not in point["joinLink"]
        assert point["qr"].startswith("data:image/svg+xml;base64,")
        assert base64.b64decode(point["qr"].split(",", 1)[1]).startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    whatsapp = next(p for p in trial["contactPoints"] if p["channel"] == "WhatsApp")
    assert whatsapp["joinLink"].endswith(f"?text=join%20{join_code(key)}")
