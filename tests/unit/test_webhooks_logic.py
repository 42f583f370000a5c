"""A trial's own webhooks as the dashboard configures them (trialgw.logic.webhooks), over fakes: no DNS, no AWS."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.fakes import FakeClock, FakeTrialStore, FakeWebhookConfigStore
from trialgw.errors import StoreError
from trialgw.keys import hash_key, new_key
from trialgw.logic.dashboard import UnknownTrial, Viewer
from trialgw.logic.webhooks import (
    InvalidWebhooks,
    TrialEnded,
    WebhookDeps,
    requested_urls,
    rotate_secret,
    save_webhooks,
    webhooks_view,
)
from trialgw.models import Trial, TrialStatus
from trialgw.settings import WebhookTargetSettings

NOW = 1_800_000_000
AWS = WebhookTargetSettings()
LOCAL = WebhookTargetSettings(webhook_allow_loopback=True)
URL = "https://hooks.example.com/in"


def public(host: str, port: int) -> Sequence[str]:
    return ("93.184.215.14",)


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError("no DNS expected")


@pytest.fixture
def trials() -> FakeTrialStore:
    return FakeTrialStore()


@pytest.fixture
def deps(trials: FakeTrialStore) -> WebhookDeps:
    secrets = iter(f"whsec_{n:043d}" for n in range(100))
    return WebhookDeps(FakeWebhookConfigStore(trials), public, lambda: next(secrets), FakeClock(NOW))


def viewer(trials: FakeTrialStore, *, expires_in: int = 3600, status: TrialStatus = TrialStatus.ACTIVE) -> Viewer:
    key = new_key()
    trial = Trial(hash_key(key), "Jane", "jane@example.com", None, NOW - 60, NOW + expires_in, status)
    trials.create(trial, ttl=NOW + 7200)
    state = trials.state(trial.key_hash)
    assert state is not None
    return Viewer(key=key, state=state)


def test_the_view_is_the_contracts_shape(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    assert webhooks_view(viewer(trials), deps) == {"inboundUrl": None, "statusUrl": None, "hasSecret": False}


def test_saving_replaces_both_urls_and_keeps_the_secret(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    me = viewer(trials)
    rotate_secret(me, deps)
    saved = save_webhooks(me, {"inboundUrl": URL, "statusUrl": URL + "/s"}, AWS, deps)
    assert saved == {"inboundUrl": URL, "statusUrl": URL + "/s", "hasSecret": True}
    assert save_webhooks(me, {"statusUrl": ""}, AWS, deps) == {"inboundUrl": None, "statusUrl": None, "hasSecret": True}


def test_requested_urls_name_the_field_and_why() -> None:
    with pytest.raises(InvalidWebhooks) as refused:
        requested_urls({"inboundUrl": URL, "statusUrl": "http://127.0.0.1:9000/"}, AWS, public)
    assert refused.value.code == "invalid_webhook_url"
    assert refused.value.message.startswith("statusUrl: Use an https:// URL")
    assert requested_urls({"statusUrl": "http://127.0.0.1:9000/"}, LOCAL, no_dns) == {
        "inboundUrl": None,
        "statusUrl": "http://127.0.0.1:9000/",
    }


@pytest.mark.parametrize("value", [5, True, ["https://x.example.com"], {"url": URL}])
def test_a_url_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(InvalidWebhooks) as refused:
        requested_urls({"inboundUrl": value}, AWS, public)
    assert refused.value.code == "invalid_webhook_url"


def test_unknown_fields_are_refused_and_cut_short() -> None:
    with pytest.raises(InvalidWebhooks) as refused:
        requested_urls({"inboundURL": URL, "x" * 500: 1}, AWS, public)
    assert refused.value.code == "unknown_field"
    assert len(refused.value.message) < 200


def test_a_new_secret_each_time_and_the_store_keeps_the_last(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    me = viewer(trials)
    first = rotate_secret(me, deps)["secret"]
    second = rotate_secret(me, deps)["secret"]
    assert first != second
    assert deps.store.signing_secret(me.state.trial.key_hash) == second
    assert webhooks_view(me, deps)["hasSecret"] is True


def test_an_ended_trial_reads_but_does_not_change(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    ended = viewer(trials, expires_in=0)
    assert webhooks_view(ended, deps)["inboundUrl"] is None
    with pytest.raises(TrialEnded):
        save_webhooks(ended, {"inboundUrl": URL}, AWS, deps)
    with pytest.raises(TrialEnded):
        rotate_secret(ended, deps)


def test_a_trial_revoked_or_gone_meanwhile_is_unknown(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    me = viewer(trials)
    trials.revoke(me.state.trial.key_hash)
    with pytest.raises(UnknownTrial):
        save_webhooks(me, {"inboundUrl": URL}, AWS, deps)
    with pytest.raises(UnknownTrial):
        rotate_secret(me, deps)
    trials.delete(me.state.trial.key_hash)
    with pytest.raises(UnknownTrial):
        webhooks_view(me, deps)


def test_store_failures_surface_as_store_errors(trials: FakeTrialStore, deps: WebhookDeps) -> None:
    me = viewer(trials)
    assert isinstance(deps.store, FakeWebhookConfigStore)
    deps.store.fail = True
    for call in (lambda: webhooks_view(me, deps), lambda: rotate_secret(me, deps)):
        with pytest.raises(StoreError):
            call()
