"""The webhook worker on the local stack (issue 18): an event on the webhook queue reaches the trial's receiver, signed,
and a receiver that fails is retried with back-off until it answers, every attempt in the trial's webhook log.

The events are put on the queue here (`SqsWebhookEventQueue`, as the producers do), so the worker is tested on its
own; the receiver is an http.server on 127.0.0.1 (`TRIALGW_WEBHOOK_ALLOW_LOOPBACK` is on under `make dev`). The stack
runs with a 1 s retry base (`TRIALGW_WEBHOOK_RETRY_BASE_SECONDS`), so retries come after 1 s and 2 s.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import LocalStack, start_local_stack
from tests.e2e.test_delivery_e2e import dynamodb, eventually, sqs
from trialgw import names, webhook_signing
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.keys import hash_key
from trialgw.ports import WebhookAttempt
from trialgw.webhook_events import WebhookEvent, WebhookKind, new_event_id

pytestmark = pytest.mark.e2e

WEBHOOKS = "/dashboard-api/webhooks"
# CM's MO JSON, as `trialgw.mo_json.to_cm_mo_json` makes it for an end user's WhatsApp message (keys redacted).
MO_JSON = json.dumps(
    {
        "reference": "a8f3e1b2-0000-4000-8000-000000000001",
        "messageContext": "",
        "from": {"number": "+31612345678", "name": "Ada"},
        "to": {"number": "+31850876714"},
        "message": {"text": "Hello from the phone ☎", "media": {"mediaUri": "", "contentType": "", "title": ""}},
        "groupings": ["", "", ""],
        "time": "2026-12-03 02:30:00",
        "timeUtc": "2026-12-03T02:30:00",
        "channel": "WhatsApp",
    },
    ensure_ascii=False,
    separators=(",", ":"),
)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """A trial's webhook receiver: answers each POST with the next status of `statuses` (200 once they run out)."""

    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbound"


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[list[int]], Receiver]]:
    servers: list[tuple[http.server.HTTPServer, threading.Thread]] = []

    def start(statuses: list[int]) -> Receiver:
        receiver = Receiver(list(statuses))

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # http.server's name
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(body, dict(self.headers.items()), time.monotonic()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = f"answered {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.port = server.server_address[1]
        # A daemon thread: it ends with the test's process even should the shutdown below never run.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return receiver

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with start_local_stack({"TRIALGW_WEBHOOK_RETRY_BASE_SECONDS": "1"}) as started:
        yield started


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def configure(stack: LocalStack, receiver: Receiver) -> tuple[str, str]:
    """A new trial whose inbound URL is the receiver's, with a signing secret: its key and secret."""
    key = stack.sign_up()
    saved = stack.request("PUT", WEBHOOKS, json_body={"inboundUrl": receiver.url}, headers=bearer(key))
    assert saved.status == 200, saved.text
    made = stack.request("POST", f"{WEBHOOKS}/secret", headers=bearer(key))
    assert made.status == 200, made.text
    return key, str(made.json()["secret"])


def enqueue(stack: LocalStack, key: str) -> WebhookEvent:
    client = sqs(stack)
    queue = SqsWebhookEventQueue(client, client.get_queue_url(QueueName=names.WEBHOOK_EVENTS.local_name)["QueueUrl"])
    now = time.time()
    event = WebhookEvent(
        event_id=new_event_id(),
        key_hash=hash_key(key),
        kind=WebhookKind.INBOUND,
        payload=MO_JSON,
        created_at_ms=int(now * 1000),
        ttl=int(now) + 2 * 24 * 3600,
    )
    queue.enqueue(event)
    return event


def attempts(stack: LocalStack, key: str) -> list[WebhookAttempt]:
    log = DynamoWebhookLog(dynamodb(stack), names.MESSAGES.local_name)
    return log.attempts(hash_key(key), limit=20, cursor=None).attempts


def test_an_event_reaches_the_receiver_signed_with_the_trials_secret(
    stack: LocalStack, receiver_factory: Callable[[list[int]], Receiver]
) -> None:
    receiver = receiver_factory([])
    key, secret = configure(stack, receiver)
    event = enqueue(stack, key)

    [call] = eventually(lambda: receiver.received, "the receiver got the event")
    assert call.body == MO_JSON.encode()
    assert webhook_signing.verify(
        secret, call.body, call.headers["X-Trial-Timestamp"], call.headers["X-Trial-Signature"], now=time.time()
    )
    assert call.headers["X-Trial-Event-Id"] == event.event_id
    assert call.headers["X-Trial-Event-Kind"] == "inbound"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"] == "trialgw-webhooks/1"

    [attempt] = eventually(lambda: attempts(stack, key), "the attempt was logged")
    assert (attempt.event_id, attempt.url, attempt.status, attempt.answer) == (
        event.event_id,
        receiver.url,
        200,
        "answered 200",
    )
    assert (attempt.payload, attempt.will_retry, attempt.error) == (MO_JSON, False, None)
    assert secret not in stack.output()
    assert call.headers["X-Trial-Signature"] not in stack.output()


def test_a_failing_receiver_gets_the_event_again_with_back_off_until_it_answers(
    stack: LocalStack, receiver_factory: Callable[[list[int]], Receiver]
) -> None:
    receiver = receiver_factory([500, 500, 200])
    key, _ = configure(stack, receiver)
    event = enqueue(stack, key)

    calls = eventually(lambda: receiver.received if len(receiver.received) >= 3 else None, "three attempts")
    assert {call.headers["X-Trial-Event-Id"] for call in calls} == {event.event_id}
    assert {call.body for call in calls} == {MO_JSON.encode()}
    # 1 s and then 2 s of back-off (DelaySeconds, whole seconds) between the attempts.
    assert calls[1].at - calls[0].at >= 1
    assert calls[2].at - calls[1].at >= 2

    def three_logged() -> list[WebhookAttempt] | None:
        found = attempts(stack, key)
        return found if len(found) == 3 else None

    logged = eventually(three_logged, "three logged attempts")
    # Newest first.
    assert [(a.status, a.will_retry) for a in logged] == [(200, False), (500, True), (500, True)]
    assert {a.event_id for a in logged} == {event.event_id}
    time.sleep(2)
    assert len(receiver.received) == 3
