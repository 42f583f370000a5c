"""The dashboard's data: who may see it, the trial and quotas, the whitelist with examples, message pages."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.fakes import FakeClock, FakeMessageLog, FakeTrialStore, FakeWhitelistStore
from trialgw.examples import POSTMAN_SCHEMA, curl_example, send_body
from trialgw.keys import hash_key, new_key
from trialgw.logic.dashboard import (
    DashboardDeps,
    Unauthorized,
    UnknownTrial,
    authenticate,
    messages_view,
    trial_view,
    whitelist_view,
)
from trialgw.models import Channel, Trial, TrialStatus
from trialgw.ports import InvalidCursor, LoggedMessage
from trialgw.settings import DashboardSettings

NOW = 1_800_000_000
SETTINGS = DashboardSettings(api_url="https://api.example.com/v1", dashboard_page_size=2)


@pytest.fixture
def deps() -> DashboardDeps:
    return DashboardDeps(FakeTrialStore(), FakeWhitelistStore(), FakeMessageLog(), FakeClock(NOW))


def _trial(deps: DashboardDeps, *, expires_in: int = 3600, status: TrialStatus = TrialStatus.ACTIVE) -> str:
    key = new_key()
    trial = Trial(hash_key(key), "Jane <b>", "jane@example.com", None, NOW - 60, NOW + expires_in, status)
    deps.trials.create(trial, ttl=NOW + 7200)
    return key


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer not-a-key", "Bearer " + "a" * 300])
def test_a_missing_or_malformed_key_is_unauthorized(deps, header):
    with pytest.raises(Unauthorized):
        authenticate(header, deps)


def test_unknown_and_revoked_keys_get_the_same_answer(deps):
    revoked = _trial(deps, status=TrialStatus.REVOKED)
    with pytest.raises(UnknownTrial) as unknown:
        authenticate(f"Bearer {new_key()}", deps)
    with pytest.raises(UnknownTrial) as gone:
        authenticate(f"Bearer {revoked}", deps)
    assert str(unknown.value) == str(gone.value)


def test_the_key_in_any_letter_case_and_scheme_case(deps):
    key = _trial(deps)
    assert authenticate(f"bearer {key.upper()}", deps).key == key


def test_the_trial_view_has_state_quotas_and_contact_points_with_the_key(deps):
    key = _trial(deps)
    deps.trials.whitelist(hash_key(key), Channel.WHATSAPP, "+31612345678")
    view = trial_view(authenticate(f"Bearer {key}", deps), SETTINGS, NOW)
    assert view["trial"]["status"] == "active"
    assert view["trial"]["secondsLeft"] == 3600
    assert view["trial"]["name"] == "Jane <b>"
    assert [q["channel"] for q in view["quotas"]] == ["SMS", "WhatsApp", "Facebook Messenger", "Instagram"]
    assert view["quotas"][1] == {"channel": "WhatsApp", "quota": 10, "sent": 0, "remaining": 10}
    assert any(key in point["link"] for point in view["contactPoints"])
    assert view["gatewayUrl"] == "https://api.example.com/v1/messaging/messagingtrial/gw/"


def test_an_expired_trial_is_readable_and_says_so(deps):
    key = _trial(deps, expires_in=-10)
    view = trial_view(authenticate(f"Bearer {key}", deps), SETTINGS, NOW)
    assert view["trial"]["status"] == "expired"
    assert view["trial"]["secondsLeft"] == 0


def test_the_whitelist_has_a_runnable_curl_and_a_postman_collection_per_recipient(deps):
    key = _trial(deps)
    viewer = authenticate(f"Bearer {key}", deps)
    trial = viewer.state.trial
    for offset, (channel, address) in enumerate(
        ((Channel.WHATSAPP, "+31612345678"), (Channel.MESSENGER, "1234567890123456"))
    ):
        deps.whitelist.add(trial, channel, address, now=NOW + offset, limit=10, ttl=NOW)
        deps.trials.whitelist(trial.key_hash, channel, address)
    view = whitelist_view(authenticate(f"Bearer {key}", deps), SETTINGS, deps)
    assert [(r["channel"], r["recipient"]) for r in view["recipients"]] == [
        ("WhatsApp", "+31612345678"),
        ("Facebook Messenger", "1234567890123456"),
    ]
    words = shlex.split(view["recipients"][0]["curl"].replace("\\\n", " "))
    assert words[:4] == ["curl", "-X", "POST", "https://api.example.com/v1/messaging/messagingtrial/gw/"]
    assert json.loads(words[-1]) == send_body(key, Channel.WHATSAPP, "+31612345678")
    collection = view["postmanCollection"]
    assert collection["info"]["schema"] == POSTMAN_SCHEMA
    assert [item["name"] for item in collection["item"]] == [
        "Send on WhatsApp to +31612345678",
        "Send on Facebook Messenger to 1234567890123456",
    ]
    assert json.loads(collection["item"][1]["request"]["body"]["raw"]) == send_body(
        key, Channel.MESSENGER, "1234567890123456"
    )


def test_a_stopped_recipient_leaves_the_whitelist_view(deps):
    key = _trial(deps)
    trial = authenticate(f"Bearer {key}", deps).state.trial
    deps.whitelist.add(trial, Channel.SMS, "+31612345678", now=NOW, limit=10, ttl=NOW)
    # The entry is still there, but the trial's members (the truth a send checks) no longer hold it.
    assert whitelist_view(authenticate(f"Bearer {key}", deps), SETTINGS, deps)["recipients"] == []


def test_messages_page_newest_first_with_explain_for_outbound(deps):
    key = _trial(deps)
    key_hash = hash_key(key)
    outbound = {"request": {"messages": {"msg": []}}, "sms": {"parts": 1}, "messageDetails": None}
    for at, direction, payload in ((NOW, "inbound", {"from": {"number": "+1"}}), (NOW + 1, "outbound", outbound)):
        deps.messages.record(
            LoggedMessage(key_hash, direction, Channel.SMS, "+1", "x" * 100, at, f"m{at}", json.dumps(payload), 0)
        )
    deps.messages.record(LoggedMessage(key_hash, "inbound", Channel.SMS, "+1", "hi", NOW + 2, "m3", "{}", 0))
    viewer = authenticate(f"Bearer {key}", deps)
    first = messages_view(viewer, SETTINGS, deps, limit=None, cursor=None)
    assert [m["id"] for m in first["messages"]] == ["m3", f"m{NOW + 1}"]
    outbound_view = first["messages"][1]
    assert outbound_view["json"] == {"messages": {"msg": []}}
    assert outbound_view["explain"] == {"sms": {"parts": 1}, "messageDetails": None}
    assert len(outbound_view["summary"]) == 80
    second = messages_view(viewer, SETTINGS, deps, limit=50, cursor=first["next"])
    assert [m["id"] for m in second["messages"]] == [f"m{NOW}"]
    assert second["messages"][0]["explain"] is None
    assert second["next"] is None
    with pytest.raises(InvalidCursor):
        messages_view(viewer, SETTINGS, deps, limit=None, cursor="not-a-cursor")


def test_curl_example_defaults_to_the_email_example():
    assert "+31600000000" in curl_example("https://api.example.com", new_key())


def test_an_expired_trial_has_no_quota_left_and_keeps_what_it_sent(deps):
    key = _trial(deps, expires_in=-10)
    # One WhatsApp message sent while the trial ran.
    deps.trials.sent[hash_key(key)] = {Channel.WHATSAPP: 1}
    view = trial_view(authenticate(f"Bearer {key}", deps), SETTINGS, NOW)
    assert view["trial"]["expired"] is True
    assert [q["remaining"] for q in view["quotas"]] == [0, 0, 0, 0]
    assert view["quotas"][1] == {"channel": "WhatsApp", "quota": 10, "sent": 1, "remaining": 0}


def test_an_active_trial_says_it_is_not_expired(deps):
    view = trial_view(authenticate(f"Bearer {_trial(deps)}", deps), SETTINGS, NOW)
    assert view["trial"]["expired"] is False
    assert [q["remaining"] for q in view["quotas"]] == [10, 10, 30, 30]


def test_contact_points_name_the_simulated_phone_only_on_the_local_stack(deps):
    key = _trial(deps)
    viewer = authenticate(f"Bearer {key}", deps)
    assert {point["localPhoneLink"] for point in trial_view(viewer, SETTINGS, NOW)["contactPoints"]} == {None}
    local = SETTINGS.model_copy(update={"local_phone_url": "http://127.0.0.1:8080/_local/phone"})
    points = trial_view(viewer, local, NOW)["contactPoints"]
    whatsapp = next(point for point in points if point["channel"] == "WhatsApp")
    assert whatsapp["localPhoneLink"] == f"http://127.0.0.1:8080/_local/phone#channel=WhatsApp&text={key}"
    # The real contact point keeps its meaning beside it.
    assert whatsapp["link"].startswith("https://wa.me/")
