"""The webhook worker's use case (trialgw.logic.webhook_delivery, issue 18) over fakes: no HTTP, no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from tests.fakes import FakeClock, FakeTrialStore, FakeWebhookConfigStore, FakeWebhookEventQueue, FakeWebhookLog
from trialgw import webhook_signing
from trialgw.logic.webhook_delivery import (
    ATTEMPTS_PER_TRIAL,
    DEFER_SECONDS,
    MAX_RETRY_DELAY_SECONDS,
    RetryLater,
    WebhookBatch,
    WebhookDeliveryDeps,
    WebhookOutcome,
    retry_delay_seconds,
)
from trialgw.models import Trial, TrialStatus
from trialgw.ports import WebhookCallFailure, WebhookCallResult, WebhookTargets
from trialgw.webhook_events import WebhookEvent, WebhookKind, new_event_id, to_message

NOW = 1_800_000_000
HASH = "a" * 64
OTHER = "b" * 64
INBOUND = "https://hooks.example.com/in"
STATUS = "https://hooks.example.com/status"
SECRET = "whsec_" + "s" * 43
PAYLOAD = '{"messages":{"msg":{"status":{"code":2}}}}'


@dataclass
class FakePoster:
    """Answers each POST with the next result (the last one again once they run out), remembering the calls."""

    results: list[WebhookCallResult] = field(default_factory=lambda: [WebhookCallResult(200, 12, answer="ok")])
    calls: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookCallResult:
        self.calls.append((url, body, headers))
        return self.results[min(len(self.calls), len(self.results)) - 1]


@dataclass
class World:
    trials: FakeTrialStore
    configs: FakeWebhookConfigStore
    poster: FakePoster
    log: FakeWebhookLog
    queue: FakeWebhookEventQueue
    clock: FakeClock

    @property
    def deps(self) -> WebhookDeliveryDeps:
        ids = iter(f"att{n}" for n in range(1000))
        return WebhookDeliveryDeps(
            targets=self.configs,
            poster=self.poster,
            log=self.log,
            queue=self.queue,
            clock=self.clock,
            retry_base_seconds=10,
            new_attempt_id=lambda: next(ids),
        )

    def batch(self) -> WebhookBatch:
        return WebhookBatch(self.deps)

    def trial(self, key_hash: str = HASH, *, expires_in: int = 24 * 3600, status: TrialStatus = TrialStatus.ACTIVE):
        self.trials.trials[key_hash] = Trial(
            key_hash, "Ada", "ada@example.com", None, NOW - 60, NOW + expires_in, status=status
        )
        self.configs.urls[key_hash] = (INBOUND, STATUS)


@pytest.fixture
def world() -> World:
    trials = FakeTrialStore()
    built = World(
        trials, FakeWebhookConfigStore(trials), FakePoster(), FakeWebhookLog(), FakeWebhookEventQueue(), FakeClock(NOW)
    )
    built.trial()
    return built


def event(kind: WebhookKind = WebhookKind.STATUS, *, key_hash: str = HASH, attempt: int = 0) -> WebhookEvent:
    return WebhookEvent(
        event_id=new_event_id(),
        key_hash=key_hash,
        kind=kind,
        payload=PAYLOAD,
        created_at_ms=NOW * 1000,
        ttl=NOW + 2 * 24 * 3600,
        attempt=attempt,
    )


def test_an_event_is_posted_to_its_kinds_url_unsigned_without_a_secret_and_logged(world: World) -> None:
    sent = event(WebhookKind.STATUS)
    assert world.batch().handle(to_message(sent)) is WebhookOutcome.DELIVERED
    [(url, body, headers)] = world.poster.calls
    assert (url, body) == (STATUS, PAYLOAD.encode())
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "trialgw-webhooks/1",
        "X-Trial-Event-Id": sent.event_id,
        "X-Trial-Event-Kind": "status",
    }
    [attempt] = world.log.logged[HASH]
    assert (attempt.event_id, attempt.url, attempt.status, attempt.latency_ms, attempt.answer) == (
        sent.event_id,
        STATUS,
        200,
        12,
        "ok",
    )
    assert (attempt.at_ms, attempt.payload, attempt.will_retry, attempt.error) == (NOW * 1000, PAYLOAD, False, None)
    assert world.queue.queued == []


@pytest.mark.parametrize("kind", [WebhookKind.INBOUND, WebhookKind.TEST])
def test_inbound_and_test_events_go_to_the_inbound_url_signed_with_the_trials_secret(
    world: World, kind: WebhookKind
) -> None:
    world.configs.secrets[HASH] = SECRET
    world.batch().handle(to_message(event(kind)))
    [(url, body, headers)] = world.poster.calls
    assert url == INBOUND
    assert headers["X-Trial-Event-Kind"] == kind.value
    assert webhook_signing.verify(
        SECRET, body, headers["X-Trial-Timestamp"], headers["X-Trial-Signature"], now=float(NOW)
    )


@pytest.mark.parametrize("body", ["", "not json", "[]", json.dumps({"eventId": "nope"})])
def test_an_unreadable_body_is_dropped_not_retried(world: World, body: str) -> None:
    assert world.batch().handle(body) is WebhookOutcome.UNREADABLE
    assert (world.poster.calls, world.queue.queued, world.log.logged) == ([], [], {})


def test_events_of_a_trial_gone_ended_revoked_or_without_a_url_are_dropped_without_an_attempt(world: World) -> None:
    world.trial(OTHER, expires_in=-1)
    world.trial("c" * 64, status=TrialStatus.REVOKED)
    world.trial("d" * 64)
    world.configs.urls["d" * 64] = (INBOUND, None)
    batch = world.batch()
    for key_hash in (OTHER, "c" * 64, "e" * 64):
        assert batch.handle(to_message(event(key_hash=key_hash))) is WebhookOutcome.DROPPED
    assert batch.handle(to_message(event(WebhookKind.STATUS, key_hash="d" * 64))) is WebhookOutcome.DROPPED
    assert (world.poster.calls, world.queue.queued, world.log.logged) == ([], [], {})


def test_a_trials_webhooks_are_read_once_per_batch(world: World) -> None:
    reads: list[str] = []
    original = world.configs.targets

    def counted(key_hash: str) -> WebhookTargets | None:
        reads.append(key_hash)
        return original(key_hash)

    world.configs.targets = counted  # type: ignore[method-assign]
    batch = world.batch()
    batch.handle(to_message(event()))
    batch.handle(to_message(event()))
    assert reads == [HASH]


@pytest.mark.parametrize(
    "result",
    [
        WebhookCallResult(500, 5, answer="oops"),
        WebhookCallResult(503, 5),
        WebhookCallResult(429, 5),
        WebhookCallResult(None, 5000, error="No answer within 5 s.", failure=WebhookCallFailure.UNREACHABLE),
    ],
)
def test_a_timeout_a_connection_error_a_5xx_and_a_429_are_retried_with_back_off(
    world: World, result: WebhookCallResult
) -> None:
    world.poster.results = [result]
    sent = event(attempt=2)
    assert world.batch().handle(to_message(sent)) is WebhookOutcome.RETRYING
    [(retry, delay)] = world.queue.queued
    assert retry == sent._replace(attempt=3)
    assert delay == 40
    [attempt] = world.log.logged[HASH]
    assert (attempt.status, attempt.error, attempt.will_retry) == (result.status, result.error, True)


@pytest.mark.parametrize(
    "result",
    [
        WebhookCallResult(400, 5),
        WebhookCallResult(404, 5),
        WebhookCallResult(302, 5, error="not followed", failure=WebhookCallFailure.REFUSED),
        WebhookCallResult(307, 5, error="redirected to a URL that is not allowed", failure=WebhookCallFailure.REFUSED),
        WebhookCallResult(None, 1, error="The URL is not allowed: private", failure=WebhookCallFailure.REFUSED),
    ],
)
def test_other_4xx_redirects_not_followed_and_refused_urls_are_not_retried(
    world: World, result: WebhookCallResult
) -> None:
    world.poster.results = [result]
    assert world.batch().handle(to_message(event())) is WebhookOutcome.FAILED
    assert world.queue.queued == []
    [attempt] = world.log.logged[HASH]
    assert (attempt.status, attempt.error, attempt.will_retry) == (result.status, result.error, False)


def test_the_back_off_doubles_from_the_base_up_to_sqs_longest_delay() -> None:
    assert [retry_delay_seconds(n, 10) for n in range(8)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert retry_delay_seconds(10_000, 10) == MAX_RETRY_DELAY_SECONDS
    assert [retry_delay_seconds(n, 1) for n in range(3)] == [1, 2, 4]


def test_no_retry_is_scheduled_past_the_trials_end(world: World) -> None:
    world.trial(expires_in=30)
    world.poster.results = [WebhookCallResult(500, 5)]
    batch = world.batch()
    assert batch.handle(to_message(event(attempt=1))) is WebhookOutcome.RETRYING  # 20 s: before the end
    assert batch.handle(to_message(event(attempt=2))) is WebhookOutcome.FAILED  # 40 s: after it
    assert [e.attempt for e in world.queue.events] == [2]
    assert [a.will_retry for a in world.log.logged[HASH]] == [True, False]


def test_a_trial_gets_two_attempts_a_batch_and_its_other_events_are_deferred_untried(world: World) -> None:
    world.trial(OTHER)
    batch = world.batch()
    mine = [event() for _ in range(4)]
    outcomes = [batch.handle(to_message(e)) for e in [*mine[:3], event(key_hash=OTHER), mine[3]]]
    assert outcomes == [
        WebhookOutcome.DELIVERED,
        WebhookOutcome.DELIVERED,
        WebhookOutcome.DEFERRED,
        WebhookOutcome.DELIVERED,
        WebhookOutcome.DEFERRED,
    ]
    assert ATTEMPTS_PER_TRIAL == 2
    assert world.queue.queued == [(mine[2], DEFER_SECONDS), (mine[3], DEFER_SECONDS)]
    assert len(world.poster.calls) == 3
    # A new batch: a new share.
    assert world.batch().handle(to_message(mine[2])) is WebhookOutcome.DELIVERED


def test_a_failed_log_write_is_retried_by_sqs_and_queues_no_retry(world: World) -> None:
    world.log.fail = True
    world.poster.results = [WebhookCallResult(500, 5)]
    with pytest.raises(RetryLater) as raised:
        world.batch().handle(to_message(event()))
    assert raised.value.seconds == 10
    assert world.queue.queued == []


def test_a_failed_re_queue_is_retried_by_sqs_after_the_same_delay(world: World) -> None:
    world.queue.fail = True
    world.poster.results = [WebhookCallResult(None, 5, error="refused", failure=WebhookCallFailure.UNREACHABLE)]
    with pytest.raises(RetryLater) as raised:
        world.batch().handle(to_message(event(attempt=1)))
    assert raised.value.seconds == 20
    # The attempt was logged, marked to be retried: the record's redelivery is that retry.
    assert [a.will_retry for a in world.log.logged[HASH]] == [True]


def test_a_failed_deferral_and_a_failed_trial_read_are_retried_by_sqs(world: World) -> None:
    batch = world.batch()
    for _ in range(ATTEMPTS_PER_TRIAL):
        batch.handle(to_message(event()))
    world.queue.fail = True
    with pytest.raises(RetryLater) as deferred:
        batch.handle(to_message(event()))
    assert deferred.value.seconds == DEFER_SECONDS
    world.configs.fail = True
    with pytest.raises(RetryLater):
        world.batch().handle(to_message(event()))


def test_the_secret_and_signature_are_never_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.configs.secrets[HASH] = SECRET
    world.poster.results = [WebhookCallResult(500, 5)]
    caplog.set_level("DEBUG")
    world.batch().handle(to_message(event()))
    [(_, _, headers)] = world.poster.calls
    assert caplog.records
    logged = str([vars(record) for record in caplog.records])
    assert "webhook attempt failed; retried" in logged
    for secret in (SECRET, headers["X-Trial-Signature"], PAYLOAD):
        assert secret not in logged
    assert SECRET not in repr(world.configs.targets(HASH))
