"""The webhook worker on the local stack (issue 18): an event on the webhook queue reaches the trial's receiver, signed,
and a receiver that fails is retried with back-off until it answers, every attempt in the trial's webhook log.

The first tests put the events on the queue themselves (`SqsWebhookEventQueue`, as the producers do), so the worker
is tested on its own; the last ones run the whole loop as a developer meets it through the dashboard API: the phone
writes to the trial company and the receiver gets CM's MO JSON, signed; a send's `sent` and `delivered` reports reach
the status URL as CM's status-report JSON; a receiver answering 500 twice then 200 gets the phone's message on the
third try, the webhook log shows all three attempts and a replay sends it once more under the same event id.
The receiver is an http.server on 127.0.0.1 (`TRIALGW_WEBHOOK_ALLOW_LOOPBACK` is on under `make dev`). The stack
runs with a 1 s retry base (`TRIALGW_WEBHOOK_RETRY_BASE_SECONDS`), so retries come after 1 s and 2 s.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import LocalStack, random_phone, start_local_stack
from tests.e2e.test_delivery_e2e import dynamodb, eventually, send, sqs, whitelist
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
    path: str = ""


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
                receiver.received.append(Received(body, dict(self.headers.items()), time.monotonic(), self.path))
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


# The whole loop, through the dashboard API.

LOG = "/dashboard-api/webhook-log"


def configure_both(stack: LocalStack, receiver: Receiver) -> tuple[str, str]:
    """A new trial with both URLs on the receiver (`/inbound`, `/status`) and a signing secret: its key and secret."""
    key = stack.sign_up()
    urls = {"inboundUrl": receiver.url, "statusUrl": receiver.url.replace("/inbound", "/status")}
    saved = stack.request("PUT", WEBHOOKS, json_body=urls, headers=bearer(key))
    assert saved.status == 200, saved.text
    assert saved.json() == {**urls, "hasSecret": False}
    made = stack.request("POST", f"{WEBHOOKS}/secret", headers=bearer(key))
    assert made.status == 200, made.text
    return key, str(made.json()["secret"])


def calls_to(receiver: Receiver, path: str) -> list[Received]:
    return [call for call in receiver.received if call.path == path]


def verified(secret: str, call: Received) -> dict[str, Any]:
    assert webhook_signing.verify(
        secret, call.body, call.headers["X-Trial-Timestamp"], call.headers["X-Trial-Signature"], now=time.time()
    )
    body: dict[str, Any] = json.loads(call.body)
    return body


def test_the_phone_and_a_send_reach_the_developers_webhooks_signed_as_cm_posts_them(
    stack: LocalStack, receiver_factory: Callable[[list[int]], Receiver]
) -> None:
    receiver = receiver_factory([])
    key, secret = configure_both(stack, receiver)
    phone = random_phone()
    whitelist(stack, "WhatsApp", phone, key)
    written = stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": "Hello from my phone ☎"})
    assert written.status == 200, written.text

    [inbound] = eventually(lambda: calls_to(receiver, "/inbound") or None, "the phone's message reached the webhook")
    assert inbound.headers["X-Trial-Event-Kind"] == "inbound"
    mo = verified(secret, inbound)
    assert mo["message"]["text"] == "Hello from my phone ☎"
    assert mo["from"]["number"] == phone
    assert mo["channel"] == "WhatsApp"
    # The key message that whitelisted the phone is not forwarded (it would hand the key to the webhook).
    assert key not in b"".join(call.body for call in receiver.received).decode()

    send(stack, key, phone, "Your code is 123456")

    def both_statuses() -> list[Any] | None:
        found = calls_to(receiver, "/status")
        return found if len(found) >= 2 else None

    reports = [verified(secret, call)["messages"]["msg"] for call in eventually(both_statuses, "sent and delivered")]
    # Events are not ordered: `sent` (code 0) and `delivered` (code 2), each once.
    assert sorted(report["status"]["code"] for report in reports) == ["0", "2"]
    assert {report["reference"] for report in reports} == {"e2e-delivery"}
    assert {report["to"] for report in reports} == {phone}


def test_a_failing_receiver_gets_the_phones_message_on_the_third_try_and_a_replay_sends_it_again(
    stack: LocalStack, receiver_factory: Callable[[list[int]], Receiver]
) -> None:
    receiver = receiver_factory([500, 500, 200])
    key, secret = configure_both(stack, receiver)
    phone = random_phone()
    whitelist(stack, "WhatsApp", phone, key)
    stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": "third time lucky"})

    calls = eventually(lambda: receiver.received if len(receiver.received) >= 3 else None, "three attempts")
    [event_id] = {call.headers["X-Trial-Event-Id"] for call in calls}
    assert all(verified(secret, call)["message"]["text"] == "third time lucky" for call in calls)

    def logged(count: int) -> Callable[[], list[dict[str, Any]] | None]:
        def probe() -> list[dict[str, Any]] | None:
            answer = stack.get(LOG, headers=bearer(key))
            assert answer.status == 200, answer.text
            attempts: list[dict[str, Any]] = answer.json()["attempts"]
            return attempts if len(attempts) >= count else None

        return probe

    attempts = eventually(logged(3), "three attempts in the log")
    # Newest first, each with the Contract's fields.
    assert [(a["status"], a["eventId"], a["kind"]) for a in attempts] == [
        (200, event_id, "inbound"),
        (500, event_id, "inbound"),
        (500, event_id, "inbound"),
    ]
    assert {a["url"] for a in attempts} == {receiver.url}
    assert all(json.loads(a["payload"])["message"]["text"] == "third time lucky" for a in attempts)
    assert all(isinstance(a["latencyMs"], int) and a["error"] is None for a in attempts)

    replayed = stack.request("POST", f"{LOG}/{event_id}/replay", headers=bearer(key))
    assert replayed.status == 202, replayed.text
    fourth = eventually(lambda: receiver.received[3:] or None, "the replay reached the receiver")
    assert fourth[0].headers["X-Trial-Event-Id"] == event_id
    assert fourth[0].body == calls[2].body
    assert eventually(logged(4), "the replay's attempt in the log")[0]["status"] == 200
