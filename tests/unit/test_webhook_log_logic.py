"""The dashboard's test event, webhook log and replay (trialgw.logic.webhook_log), over fakes: no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from tests.fakes import FakeClock, FakeTrialStore, FakeWebhookConfigStore, FakeWebhookEventQueue, FakeWebhookLog
from trialgw.channels import Channel
from trialgw.errors import DependencyUnavailable, RateLimited
from trialgw.keys import hash_key, new_key
from trialgw.logic.dashboard import Viewer
from trialgw.logic.webhook_log import (
    EXAMPLE_SENDER,
    NoWebhookUrl,
    UnknownEvent,
    WebhookLogDeps,
    replay_event,
    send_test_event,
    webhook_log_view,
)
from trialgw.logic.webhooks import TrialEnded
from trialgw.models import Trial, TrialState, member_token
from trialgw.ports import WebhookAttempt, WebhookSendLimit
from trialgw.settings import DashboardSettings
from trialgw.webhook_events import WebhookEvent, WebhookKind

NOW = 1_800_000_000
SETTINGS = DashboardSettings(webhook_manual_limit=2, webhook_manual_window_seconds=3600, brand="Acme")
URL = "https://hooks.example.com/in"


@dataclass
class FakeSendLimit:
    """Counts per (trial, window start) as the trial item's counters do; the previous window's goes."""

    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def take(self, key_hash: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        self.counts.pop((key_hash, window_start - window_seconds), None)
        taken = self.counts.get((key_hash, window_start), 0)
        if taken >= limit:
            return False
        self.counts[(key_hash, window_start)] = taken + 1
        return True


def _implements_the_port() -> None:
    """Never called: mypy checks here that the fake implements its port."""
    limit: WebhookSendLimit = FakeSendLimit()
    del limit


@dataclass
class World:
    trials: FakeTrialStore
    config: FakeWebhookConfigStore
    log: FakeWebhookLog
    queue: FakeWebhookEventQueue
    clock: FakeClock
    deps: WebhookLogDeps


@pytest.fixture
def world() -> World:
    trials = FakeTrialStore()
    config = FakeWebhookConfigStore(trials)
    log = FakeWebhookLog()
    queue = FakeWebhookEventQueue()
    clock = FakeClock(float(NOW))
    ids = iter(f"evt_test{n:04d}" for n in range(1000))
    deps = WebhookLogDeps(config, log, queue, FakeSendLimit(), clock, new_event_id=lambda: next(ids))
    return World(trials, config, log, queue, clock, deps)


def viewer(world: World, *members: tuple[Channel, str], expires_in: int = 3600, url: str | None = URL) -> Viewer:
    key = new_key()
    trial = Trial(hash_key(key), "Jane", "jane@example.com", None, NOW - 60, NOW + expires_in)
    world.trials.create(trial, ttl=NOW + 7200)
    if url is not None:
        world.config.save_urls(trial.key_hash, inbound_url=url, status_url=None)
    state = TrialState(trial, frozenset(member_token(c, a) for c, a in members), {})
    return Viewer(key=key, state=state)


def test_a_test_event_is_the_mo_json_of_the_first_whitelisted_recipient(world: World) -> None:
    me = viewer(world, (Channel.WHATSAPP, "+31611111111"), (Channel.SMS, "+31622222222"))
    assert send_test_event(me, SETTINGS, world.deps) == {"eventId": "evt_test0000"}
    (event,) = world.queue.events
    assert event == WebhookEvent(
        event_id="evt_test0000",
        key_hash=me.state.trial.key_hash,
        kind=WebhookKind.TEST,
        payload=event.payload,
        created_at_ms=NOW * 1000,
        ttl=me.state.trial.expires_at + SETTINGS.expired_retention_seconds,
    )
    payload = json.loads(event.payload)
    # The whitelist's stable order: SMS#… sorts before WhatsApp#….
    assert payload["from"] == {"number": "+31622222222", "name": ""}
    assert payload["channel"] == "SMS"
    assert payload["to"]["number"] in SETTINGS.sms_numbers.values()
    assert payload["message"]["text"] == "This is a test event from the Acme messaging trial"
    assert payload["timeUtc"] == "2027-01-15T08:00:00"


def test_without_a_whitelisted_recipient_it_comes_from_the_example_number(world: World) -> None:
    send_test_event(viewer(world), SETTINGS, world.deps)
    payload = json.loads(world.queue.events[0].payload)
    assert (payload["from"]["number"], payload["channel"]) == (EXAMPLE_SENDER, "SMS")


def test_no_inbound_url_refuses_before_counting(world: World) -> None:
    me = viewer(world, url=None)
    for _ in range(3):
        with pytest.raises(NoWebhookUrl):
            send_test_event(me, SETTINGS, world.deps)
    world.config.save_urls(me.state.trial.key_hash, inbound_url=URL, status_url=None)
    send_test_event(me, SETTINGS, world.deps)
    assert world.queue.events[0].kind is WebhookKind.TEST


def test_an_ended_trial_sends_and_replays_nothing(world: World) -> None:
    me = viewer(world, expires_in=10)
    world.clock.now = NOW + 10
    with pytest.raises(TrialEnded):
        send_test_event(me, SETTINGS, world.deps)
    with pytest.raises(TrialEnded):
        replay_event(me, "evt_anything1", SETTINGS, world.deps)
    assert world.queue.events == []


def _logged(world: World, me: Viewer, kind: WebhookKind = WebhookKind.STATUS) -> WebhookEvent:
    event = WebhookEvent("evt_logged01", me.state.trial.key_hash, kind, '{"a":1}', NOW * 1000 - 5, NOW + 9)
    world.log.record_attempt(
        WebhookAttempt("att1", event.event_id, kind, URL, NOW * 1000, 503, 7, None, "busy", event.payload, True),
        event,
    )
    return event


def test_a_replay_queues_the_logged_event_under_its_id_with_the_replay_flag(world: World) -> None:
    me = viewer(world)
    event = _logged(world, me)
    assert replay_event(me, event.event_id, SETTINGS, world.deps) == {"eventId": event.event_id}
    (again,) = world.queue.events
    assert again == WebhookEvent(
        event.event_id, event.key_hash, WebhookKind.STATUS, '{"a":1}', NOW * 1000 - 5, NOW + 9, attempt=0, replay=True
    )


@pytest.mark.parametrize("event_id", ["evt_unknown1", "not-an-event-id", "evt_" + "x" * 70, ""])
def test_a_replay_of_what_the_log_does_not_hold_is_unknown(world: World, event_id: str) -> None:
    with pytest.raises(UnknownEvent):
        replay_event(viewer(world), event_id, SETTINGS, world.deps)
    assert world.queue.events == []


def test_test_events_and_replays_share_the_limit_until_the_next_window(world: World) -> None:
    me = viewer(world, expires_in=3 * 3600)
    event = _logged(world, me)
    send_test_event(me, SETTINGS, world.deps)
    replay_event(me, event.event_id, SETTINGS, world.deps)
    world.clock.now = NOW + 100
    with pytest.raises(RateLimited) as limited:
        send_test_event(me, SETTINGS, world.deps)
    assert limited.value.limit == "webhook_sends"
    # The window is the fixed hour NOW falls in: Retry-After is what is left of it.
    assert limited.value.retry_after_seconds == NOW // 3600 * 3600 + 3600 - (NOW + 100)
    with pytest.raises(RateLimited):
        replay_event(me, event.event_id, SETTINGS, world.deps)
    assert len(world.queue.events) == 2
    # Another trial counts on its own.
    send_test_event(viewer(world), SETTINGS, world.deps)
    world.clock.now = NOW // 3600 * 3600 + 3600
    send_test_event(me, SETTINGS, world.deps)
    assert len(world.queue.events) == 4


def test_a_queue_failure_is_a_dependency_failure(world: World) -> None:
    world.queue.fail = True
    with pytest.raises(DependencyUnavailable):
        send_test_event(viewer(world), SETTINGS, world.deps)


def test_the_log_view_maps_each_attempt_and_pages(world: World) -> None:
    me = viewer(world)
    event = _logged(world, me)
    world.log.record_attempt(
        WebhookAttempt("att2", event.event_id, event.kind, URL, NOW * 1000 + 1500, None, 5000, "timed out", "", "{}"),
        event,
    )
    page = webhook_log_view(me, SETTINGS, world.deps, limit=1, cursor=None)
    assert page == {
        "attempts": [
            {
                "id": "att2",
                "eventId": "evt_logged01",
                "kind": "status",
                "url": URL,
                "at": "2027-01-15T08:00:01.500Z",
                "status": None,
                "latencyMs": 5000,
                "error": "timed out",
                "payload": "{}",
                "answer": "",
                "willRetry": False,
            }
        ],
        "next": "att2",
    }
    rest = webhook_log_view(me, SETTINGS, world.deps, limit=None, cursor=page["next"])
    assert [a["id"] for a in rest["attempts"]] == ["att1"]
    assert rest["attempts"][0]["status"] == 503
    assert rest["next"] is None
