"""End users send the trial key to the trial company, against the running local stack over HTTP.

`/_local/mo` plays the end user's phone: it builds each provider's real payload and sends it through
the real entry point. Forged webhooks are built here by hand, as an attacker would, and must change
nothing. The webhook secrets are the ones the stack made up at start and printed in its banner.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ROOT, LocalStack, messages_for, random_phone, start_local_stack

pytestmark = pytest.mark.e2e


def page_scoped_id() -> str:
    return str(random.randrange(10**15, 10**16))


def mo(stack: LocalStack, channel: str, sender: str, text: str, via: str | None = None) -> dict[str, Any]:
    payload = {"channel": channel, "from": sender, "text": text} | ({} if via is None else {"via": via})
    response = stack.post_json("/_local/mo", payload)
    assert response.status == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def outcomes(answer: dict[str, Any]) -> list[str]:
    assert answer["status"] == 200, answer
    found: list[str] = answer["answer"]["outcomes"]
    return found


def queued_for(stack: LocalStack, address: str) -> list[dict[str, Any]]:
    """What the trial company sent `address`: waiting on the queue or already delivered by the local pump."""
    return messages_for(stack, address)


def banner(stack: LocalStack, pattern: str) -> str:
    match = re.search(pattern, stack.output())
    assert match is not None, f"{pattern!r} not in the banner:\n{stack.output()[:3000]}"
    return match.group(1)


def cm_webhook_path(stack: LocalStack) -> str:
    url = banner(stack, r"CM webhook\s+POST (\S+)")
    assert url.startswith(stack.url + "/webhooks/cm/")
    return url.removeprefix(stack.url)


def whatsapp_webhook(sender: str, text: str) -> bytes:
    """A WhatsApp Cloud API webhook body, as Meta would post it for a text from `sender`."""
    wa_id = sender.removeprefix("+")
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "31850876714", "phone_number_id": "106000000000009"},
        "contacts": [{"profile": {"name": "Forger"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.FORGED{uuid.uuid4().hex}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def cm_mo(sender: str, text: str, channel: str = "WhatsApp") -> dict[str, Any]:
    return {
        "reference": str(uuid.uuid4()),
        "from": {"number": sender, "name": ""},
        "to": {"number": "+31850876714"},
        "message": {"text": text},
        "timeUtc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "channel": channel,
    }


def test_the_key_whitelists_through_meta_sns_and_cm(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    whatsapp, sms, messenger = random_phone(), random_phone(), page_scoped_id()

    first = mo(local_stack, "WhatsApp", whatsapp, f"Hi, my key is {key}")
    assert first["via"] == "meta"
    assert outcomes(first) == ["whitelisted"]
    assert first["from"] == whatsapp

    by_sms = mo(local_stack, "SMS", sms, key)
    assert by_sms["via"] == "sns"
    assert by_sms["status"] == 200
    assert by_sms["answer"] == {"processed": 1, "outcomes": ["whitelisted"]}
    [reply] = by_sms["replies"]
    assert reply["channel"] == "SMS"
    assert "whitelisted" in reply["text"]
    assert "already" not in reply["text"]

    by_cm = mo(local_stack, "Facebook Messenger", messenger, f"  {key.upper()}  ", via="cm")
    assert by_cm["via"] == "cm"
    assert outcomes(by_cm) == ["whitelisted"]

    # Again, with fresh provider message ids (not duplicates): no second slot. SMS again via CM's webhook
    # also proves the SNS message whitelisted that number.
    assert outcomes(mo(local_stack, "WhatsApp", whatsapp, key)) == ["already_whitelisted"]
    assert outcomes(mo(local_stack, "SMS", sms, key, via="cm")) == ["already_whitelisted"]
    assert outcomes(mo(local_stack, "Facebook Messenger", messenger, key, via="cm")) == ["already_whitelisted"]

    for channel, address in (("WhatsApp", whatsapp), ("SMS", sms), ("Facebook Messenger", messenger)):
        replies = queued_for(local_stack, address)
        assert len(replies) == 2, replies
        assert all(r["channel"] == channel and r["kind"] == "reply" and r["to"] == address for r in replies)
        assert sum("already" in r["text"] for r in replies) == 1


def test_a_reply_waits_on_the_queue_then_the_pump_delivers_it(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    sender = page_scoped_id()
    mo(local_stack, "Instagram", sender, key)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivered = local_stack.get("/_local/deliveries").json()
        if any(d["to"] == sender for d in delivered):
            break
        time.sleep(0.2)
    [reply] = [d for d in local_stack.get("/_local/deliveries").json() if d["to"] == sender]
    assert reply["channel"] == "Instagram"
    assert reply["kind"] == "reply"
    assert "whitelisted" in reply["text"]

    # Delivered means consumed: nothing for this sender is left on the queue, once the pump has deleted what the
    # function delivered (the sandbox records a delivery before the function returns, the delete follows).
    def waiting() -> list[dict[str, Any]]:
        return [e for e in local_stack.get("/_local/outbound").json() if e["message"]["to"] == sender]

    deadline = time.monotonic() + 10
    while waiting() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert waiting() == []


def test_a_forged_meta_webhook_changes_nothing(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    sender = random_phone()
    body = whatsapp_webhook(sender, key)
    forged = "sha256=" + hmac.new(b"not-the-app-secret", body, hashlib.sha256).hexdigest()
    for headers in ({"X-Hub-Signature-256": forged}, {}):
        response = local_stack.request(
            "POST", "/webhooks/meta", body=body, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status == 401, response.text

    assert queued_for(local_stack, sender) == []
    assert outcomes(mo(local_stack, "WhatsApp", sender, key)) == ["whitelisted"]


def test_a_forged_cm_webhook_changes_nothing(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    sender = random_phone()
    real_path = cm_webhook_path(local_stack)
    for path in ("/webhooks/cm/not-the-secret", real_path + "x", real_path[:-1]):
        response = local_stack.post_json(path, cm_mo(sender, key))
        assert response.status == 404, (path, response.text)

    assert queued_for(local_stack, sender) == []
    assert outcomes(mo(local_stack, "WhatsApp", sender, key, via="cm")) == ["whitelisted"]


def test_the_cm_webhook_from_the_banner_accepts_cm_mo_json(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    sender = random_phone()
    response = local_stack.post_json(cm_webhook_path(local_stack), cm_mo(sender, f"key {key}", channel="SMS"))
    assert response.status == 200, response.text
    assert response.json() == {"processed": 1, "outcomes": ["whitelisted"]}


def test_the_meta_handshake_echoes_the_challenge_only_with_the_token(local_stack: LocalStack) -> None:
    token = banner(local_stack, r"Meta verify token\s+(\S+)")
    good = local_stack.get(f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
    assert good.status == 200, good.text
    assert good.text == "1158201444"
    assert good.headers["Content-Type"].startswith("text/plain")

    bad = local_stack.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444")
    assert bad.status == 403
    assert "1158201444" not in bad.text


@pytest.mark.parametrize(
    "body",
    [b'{"reference": "x", "from": ', b"not json", b"[1, 2]", b'{"channel": "WhatsApp"}', b'{"a": "\xff\xfe"}', b""],
)
def test_a_bad_body_on_the_authenticated_cm_webhook_is_a_4xx_never_a_500(local_stack: LocalStack, body: bytes) -> None:
    response = local_stack.request(
        "POST", cm_webhook_path(local_stack), body=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status < 500, response.text
    assert response.json()["message"]


def test_stop_removes_the_sender(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    sender = random_phone()
    assert outcomes(mo(local_stack, "WhatsApp", sender, key)) == ["whitelisted"]

    stopped = mo(local_stack, "WhatsApp", sender, "STOP")
    assert outcomes(stopped) == ["stopped"]
    [confirmation] = stopped["replies"]
    assert confirmation["to"] == sender

    # Removed, so the key takes a slot again rather than finding the old one.
    assert outcomes(mo(local_stack, "WhatsApp", sender, key)) == ["whitelisted"]


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"channel": "Viber", "from": "+31612345678", "text": "x"}, "channel"),
        ({"from": "+31612345678", "text": "x"}, "channel"),
        ({"channel": "WhatsApp", "text": "x"}, "from"),
        ({"channel": "WhatsApp", "from": "+31612345678"}, "text"),
        ({"channel": "SMS", "from": "0612345678", "text": "x"}, "from"),
        ({"channel": "SMS", "from": "+31612345678", "text": "x", "via": "meta"}, "via"),
        ({"channel": "WhatsApp", "from": "+31612345678", "text": "x", "via": "pigeon"}, "via"),
        ("not an object", "JSON object"),
    ],
)
def test_local_mo_refuses_bad_input_with_a_clear_400(local_stack: LocalStack, payload: object, named: str) -> None:
    response = local_stack.post_json("/_local/mo", payload)
    assert response.status == 400, response.text
    assert named in response.json()["message"]


def test_local_mo_refuses_non_json_and_get(local_stack: LocalStack) -> None:
    response = local_stack.request("POST", "/_local/mo", body="channel=SMS")
    assert response.status == 400
    assert "JSON" in response.json()["message"]
    assert local_stack.get("/_local/mo").status == 405


def test_the_recipient_limit_holds_across_channels() -> None:
    with start_local_stack({"TRIALGW_MAX_RECIPIENTS": "2"}) as stack:
        key = stack.sign_up()
        assert outcomes(mo(stack, "WhatsApp", random_phone(), key)) == ["whitelisted"]
        assert outcomes(mo(stack, "Facebook Messenger", page_scoped_id(), key, via="cm")) == ["whitelisted"]
        third = random_phone()
        full = mo(stack, "SMS", third, key, via="cm")
        assert outcomes(full) == ["whitelist_full"]
        [reply] = full["replies"]
        assert reply["to"] == third
        assert "2" in reply["text"]


def documented_default(variable: str) -> int:
    """A setting's default as the configuration table (docs/configuration.md) states it."""
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        if line.startswith(f"| `{variable}` |"):
            return int(line.split("|")[2].strip().strip("`"))
    raise AssertionError(f"{variable} is not in the configuration table (docs/configuration.md)")


def drained_deliveries(stack: LocalStack, *addresses: str, timeout: float = 30) -> dict[str, list[dict[str, Any]]]:
    """What the sandbox delivered to each address once nothing for them waits on the delivery queue any more."""
    deadline = time.monotonic() + timeout
    while any(stack.get(f"/_local/outbound?to={quote(a, safe='')}").json() for a in addresses):
        assert time.monotonic() < deadline, "the delivery queue did not drain"
        time.sleep(0.2)
    return {a: stack.get(f"/_local/deliveries?to={quote(a, safe='')}").json() for a in addresses}


def test_twenty_dead_keys_from_one_phone_get_at_most_the_documented_replies(local_stack: LocalStack) -> None:
    limit = documented_default("TRIALGW_REPLY_LIMIT_PER_SENDER")
    attacker, bystander = random_phone(), random_phone()
    # Random GUIDs, no trial's key; through Meta's signed webhook and CM's alike: one sender, one limit.
    answers = [
        mo(local_stack, "WhatsApp", attacker, f"my key {uuid.uuid4()}", via="cm" if i % 2 else None) for i in range(20)
    ]
    # Every message is processed (and answered 200 to the provider); only the first `limit` are replied to.
    assert [outcome for answer in answers for outcome in outcomes(answer)] == ["invalid_key"] * 20
    assert [len(answer["replies"]) for answer in answers] == [1] * limit + [0] * (20 - limit)
    # Another phone is not affected by the first one's limit.
    [reply] = mo(local_stack, "WhatsApp", bystander, str(uuid.uuid4()))["replies"]
    assert "invalid or has expired" in reply["text"]

    delivered = drained_deliveries(local_stack, attacker, bystander)
    assert len(delivered[attacker]) == limit
    assert all(d["kind"] == "reply" and "invalid or has expired" in d["text"] for d in delivered[attacker])
    assert len(delivered[bystander]) == 1
