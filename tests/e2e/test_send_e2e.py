"""A developer sends through the trial gateway, against the running local stack over HTTP, as with curl.

The key comes from the sign-up e-mail, recipients are whitelisted by `/_local/mo` (the end user's phone),
and what the gateway accepted is read back from the delivery queue with `/_local/outbound`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import HttpResult, LocalStack, messages_for, random_phone
from trialgw.settings import SendSettings

pytestmark = pytest.mark.e2e

GATEWAY = "/messaging/messagingtrial/gw/"
STATUS = "/messaging/messagingtrial/status"
TOKEN_HEADER = "X-CM-PRODUCTTOKEN"
INVALID_TOKEN = "Invalid or expired trial token"
US_NUMBER = "+1 212 555 0100"
US_E164 = "+12125550100"


def whitelist(stack: LocalStack, channel: str, sender: str, key: str) -> None:
    response = stack.post_json("/_local/mo", {"channel": channel, "from": sender, "text": key})
    assert response.status == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == 200, answer
    assert answer["answer"]["outcomes"] == ["whitelisted"], answer


def cm_send(key: str, to: str, channel: str, text: str, sender: str = "TrialGW") -> dict[str, Any]:
    """A CM Business Messaging request as the CM SDKs build it, with the key in the body."""
    return {
        "messages": {
            "authentication": {"producttoken": key},
            "msg": [
                {
                    "allowedChannels": [channel],
                    "from": sender,
                    "to": [{"number": to}],
                    "body": {"type": "auto", "content": text},
                    "reference": "e2e-send",
                }
            ],
        }
    }


def send(stack: LocalStack, payload: dict[str, Any], path: str = GATEWAY) -> HttpResult:
    return stack.post_json(path, payload)


def queued_sends(stack: LocalStack, address: str) -> list[dict[str, Any]]:
    """Accepted sends to `address`: waiting on the queue or already delivered by the local pump."""
    return [message for message in messages_for(stack, address) if message.get("kind") == "send"]


def status(stack: LocalStack, key: str) -> dict[str, Any]:
    response = stack.get(STATUS, headers={TOKEN_HEADER: key})
    assert response.status == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sent_on(body: dict[str, Any], channel: str) -> int:
    [entry] = [c for c in body["channels"] if c["channel"] == channel]
    return int(entry["sent"])


def test_a_whitelisted_whatsapp_send_is_accepted_queued_and_counted(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    whitelist(local_stack, "WhatsApp", recipient, key)

    response = send(local_stack, cm_send(key, recipient, "WhatsApp", "Hello from the trial"))

    assert response.status == 200, response.text
    assert response.headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert response.headers["X-Trial-Expires-At"]
    body = response.json()
    [message] = body["messages"]
    assert message["status"] == "Accepted"
    assert message["to"] == recipient
    assert message["reference"] == "e2e-send"

    [queued] = queued_sends(local_stack, recipient)
    assert queued["kind"] == "send"
    assert queued["channel"] == "WhatsApp"
    assert queued["to"] == recipient
    assert queued["text"] == "Hello from the trial"
    assert key not in str(queued)

    state = status(local_stack, key)
    assert state["status"] == "active"
    assert sent_on(state, "WhatsApp") == 1
    assert {"channel": "WhatsApp", "recipient": recipient} in state["whitelist"]["recipients"]


def test_a_send_to_a_recipient_not_whitelisted_says_how_to_whitelist_it(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    whitelist(local_stack, "WhatsApp", random_phone(), key)
    stranger = random_phone()

    response = send(local_stack, cm_send(key, stranger, "WhatsApp", "Hello"))

    assert response.status == 403, response.text
    [message] = response.json()["messages"]
    assert message["status"] == "Rejected"
    details = message["messageDetails"]
    assert stranger in details
    number = SendSettings().whatsapp_number
    assert f"this trial's key on WhatsApp from {stranger} to {number}" in details
    assert "https://wa.me/" + number.lstrip("+") in details
    # The answer names the key, never repeats it.
    assert key not in response.text
    assert queued_sends(local_stack, stranger) == []
    assert sent_on(status(local_stack, key), "WhatsApp") == 0


def test_an_sms_to_the_us_is_accepted_with_the_content_replaced(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    whitelist(local_stack, "SMS", US_E164, key)

    response = send(local_stack, cm_send(key, US_NUMBER, "SMS", "Your code is 123456"))

    assert response.status == 200, response.text
    assert response.headers["X-Trial-Remaining-SMS"] == "9"
    [message] = response.json()["messages"]
    assert message["to"] == US_NUMBER
    assert "replaced" in message["messageDetails"]
    [queued] = queued_sends(local_stack, US_E164)
    assert queued["channel"] == "SMS"
    assert queued["to"] == US_E164
    assert queued["sender"] == "TrialGW"
    assert "123456" not in queued["text"]


def test_the_gateway_path_works_without_the_trailing_slash(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    whitelist(local_stack, "WhatsApp", recipient, key)

    response = send(local_stack, cm_send(key, recipient, "WhatsApp", "No slash"), path=GATEWAY.rstrip("/"))

    assert response.status == 200, response.text
    assert [m["text"] for m in queued_sends(local_stack, recipient)] == ["No slash"]


def test_a_key_no_trial_has_is_refused_with_401(local_stack: LocalStack) -> None:
    unknown = str(uuid.uuid4())
    response = send(local_stack, cm_send(unknown, random_phone(), "WhatsApp", "Hello"))

    assert response.status == 401, response.text
    assert response.json()["details"] == INVALID_TOKEN
    assert local_stack.get(STATUS, headers={TOKEN_HEADER: unknown}).status == 401


def test_the_openapi_document_describes_the_send_path(local_stack: LocalStack) -> None:
    response = local_stack.get("/openapi.json")

    assert response.status == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert any(path.rstrip("/") == GATEWAY.rstrip("/") and "post" in paths[path] for path in paths), list(paths)
    assert STATUS in paths


def test_an_idempotency_key_makes_a_retry_the_same_message(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    phone = random_phone()
    whitelist(local_stack, "WhatsApp", phone, key)
    payload = cm_send(key, phone, "WhatsApp", "Exactly once")
    idempotency = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}

    first = local_stack.post_json(GATEWAY, payload, headers=idempotency)
    again = local_stack.post_json(GATEWAY, payload, headers=idempotency)

    assert (first.status, again.status) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["X-Trial-Remaining-WhatsApp"] == first.headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert len(queued_sends(local_stack, phone)) == 1
    # The key with another body is refused; a new key is a new message.
    other = local_stack.post_json(GATEWAY, cm_send(key, phone, "WhatsApp", "Something else"), headers=idempotency)
    assert (other.status, other.json()["errorCode"]) == (409, 202)
    status = local_stack.get(STATUS, headers={TOKEN_HEADER: key}).json()
    assert next(c["sent"] for c in status["channels"] if c["channel"] == "WhatsApp") == 1
    bad = local_stack.post_json(GATEWAY, payload, headers={"Idempotency-Key": "x" * 256})
    assert (bad.status, bad.json()["errorCode"]) == (400, 202)
