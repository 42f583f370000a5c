"""Hostile input over HTTP on the local stack: header and log injection, and oversized bodies.

Line breaks (CR, LF, CRLF, NEL, U+2028, U+2029 and their percent-encoding) go into every field a developer or an
end user controls: the sign-up name, company and e-mail address, a send's `reference`, `from`, text, `to` and
key header, an end user's text and sender through `/_local/mo`, CM's MO webhook (reference, sender name, `to`) and
Meta's signed webhook (profile name, message id, our number), and paths and queries. Each value tries to start an
`X-Injected` header and a forged JSON log record of its own. Asserted: no response carries an injected header; the
e-mail keeps its one recipient, its sender and its fixed subject; the stack's output has no forged line; the values
come back intact where they are data. Control characters in a name, company or address are refused (422).

Oversized bodies: on every POST route a body one byte over its documented limit gets the documented refusal even
when it is not JSON at all (the size answer, not the JSON one), while an invalid body of exactly the limit gets
the JSON answer: the size is checked before anything is parsed.
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.parse
import uuid
from typing import Any

import pytest

from tests.browser.hostile_content import (
    INJECTED_HEADER,
    LINE_BREAKS,
    SHORT_FIELD_CHARS,
    cm_status_path,
    cm_webhook_path,
    injected_headers,
    injection,
    meta_app_secret,
    meta_verify_token,
)
from tests.conftest import TRIAL_KEY, HttpResult, LocalStack, random_phone
from trialgw.gateway.answers import INVALID_POST_DATA, NOT_JSON
from trialgw.providers.meta.inbound import sign
from trialgw.settings import MoWebhookSettings, SendSettings, SignupSettings

pytestmark = pytest.mark.e2e

GATEWAY = "/messaging/messagingtrial/gw/"
# A send's `from`, `reference`, `to` and channel names are at most this long (longer ones are row 2).
SHORT = SHORT_FIELD_CHARS
SUBJECT = "Your CM.COM messaging trial key"
SENDER = SignupSettings().sender_email
MAIL_FIELDS = {"to", "subject", "text", "html", "from", "at", "messageId"}
# Breaks that are control characters (refused in names) and those that are not (accepted as text).
CONTROL_BREAKS = ("crlf", "lf", "cr", "nel")
TEXT_BREAKS = ("line-separator", "paragraph-separator", "percent-encoded")


def new_marker() -> str:
    return "INJ" + uuid.uuid4().hex[:12]


def assert_no_injected_header(result: HttpResult, marker: str) -> None:
    found = injected_headers(result.headers, marker)
    assert found == [], f"injected response headers: {found}"
    for name, value in result.headers.items():
        assert not re.search(r"[\r\n\x85\u2028\u2029]", name + value), (name, value)


def sign_up(stack: LocalStack, name: str = "Hostile Input", company: str | None = None) -> tuple[str, str]:
    email = f"hostile-{uuid.uuid4().hex[:12]}@example.com"
    body = {"name": name, "email": email} | ({} if company is None else {"company": company})
    response = stack.post_json("/signup", body)
    assert response.status == 202, response.text
    keys = set(TRIAL_KEY.findall(stack.mail(to=email)[0]["text"]))
    assert len(keys) == 1
    return keys.pop(), email


def whitelist(stack: LocalStack, key: str, channel: str = "WhatsApp", sender: str | None = None) -> str:
    sender = sender or random_phone()
    answer = stack.post_json("/_local/mo", {"channel": channel, "from": sender, "text": key})
    assert answer.status == 200, answer.text
    assert answer.json()["answer"]["outcomes"] == ["whitelisted"]
    return sender


def send(stack: LocalStack, key: str, to: str, **msg: Any) -> HttpResult:
    item = {"allowedChannels": ["WhatsApp"], "from": "TrialTest", "to": [{"number": to}], "body": {"content": "Hi"}}
    return stack.post_json(GATEWAY, {"messages": {"authentication": {"producttoken": key}, "msg": [item | msg]}})


def dashboard_messages(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    response = stack.get("/dashboard-api/messages?limit=200", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def signed_meta(stack: LocalStack, body: bytes) -> HttpResult:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, meta_app_secret(stack))}
    return stack.request("POST", "/webhooks/meta", body=body, headers=headers)


def whatsapp_webhook(sender: str, text: str, *, name: str, message_id: str, our_number: str) -> bytes:
    wa_id = sender.removeprefix("+")
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": our_number, "phone_number_id": "106000000000001"},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": message_id,
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


# --- Sign-up: the e-mail and its headers ---


@pytest.mark.parametrize("field", ["name", "company", "email"])
@pytest.mark.parametrize("line_break", CONTROL_BREAKS)
def test_control_line_breaks_in_sign_up_fields_are_refused_and_mail_nothing(
    local_stack: LocalStack, field: str, line_break: str
) -> None:
    marker = new_marker()
    email = f"hostile-{marker.lower()}@example.com"
    evil = f"evil-{marker.lower()}@example.com"
    body = {"name": "Jane", "email": email, "company": "ACME"}
    if field == "email":
        body["email"] = f"{email}{LINE_BREAKS[line_break]}Bcc: {evil}"
    else:
        body[field] = injection(marker, LINE_BREAKS[line_break]).replace(f"{INJECTED_HEADER}:", "Bcc:") + evil
    response = local_stack.post_json("/signup", body)
    assert response.status == 422, response.text
    answer = response.json()
    assert answer["code"] == "invalid_fields"
    assert set(answer["fields"]) == {field}
    assert marker not in response.text
    assert_no_injected_header(response, marker)
    assert local_stack.mail(to=email) == []
    assert local_stack.mail(to=evil) == []


@pytest.mark.parametrize("line_break", TEXT_BREAKS)
def test_unicode_and_encoded_line_breaks_in_a_name_give_one_clean_mail(
    local_stack: LocalStack, line_break: str
) -> None:
    marker = new_marker()
    name = injection(marker, LINE_BREAKS[line_break])
    company = "ACME " + injection(marker, LINE_BREAKS[line_break])
    email = f"hostile-{marker.lower()}@example.com"
    response = local_stack.post_json("/signup", {"name": name, "email": email, "company": company})
    assert response.status == 202, response.text
    assert_no_injected_header(response, marker)

    [mail] = local_stack.mail(to=email)
    # One recipient, our sender, the fixed subject: the name reaches none of the headers.
    assert set(mail) == MAIL_FIELDS
    assert (mail["to"], mail["from"], mail["subject"]) == (email, SENDER, SUBJECT)
    # The text part is what it is; the HTML part escapes the name (the browser suite renders it).
    assert f"Hi {name}," in mail["text"]
    assert f"<p>Hi {html.escape(name)},</p>" in mail["html"]
    assert name not in mail["html"]

    # The name and company are kept as typed: data, not markup.
    key = set(TRIAL_KEY.findall(mail["text"])).pop()
    trial = local_stack.get("/dashboard-api/trial", headers={"Authorization": f"Bearer {key}"})
    assert_no_injected_header(trial, marker)
    assert (trial.json()["trial"]["name"], trial.json()["trial"]["company"]) == (name, company)


# --- The send gateway ---


@pytest.mark.parametrize("line_break", list(LINE_BREAKS))
def test_line_breaks_in_every_send_field_inject_no_header(local_stack: LocalStack, line_break: str) -> None:
    marker = new_marker()
    value = injection(marker, LINE_BREAKS[line_break])
    key, _ = sign_up(local_stack)
    phone = whitelist(local_stack, key)

    accepted = send(
        local_stack, key, phone, reference=value[:SHORT], **{"from": value[:SHORT]}, body={"content": value}
    )
    assert accepted.status == 200, accepted.text
    assert_no_injected_header(accepted, marker)
    assert accepted.json()["messages"][0]["reference"] == value[:SHORT]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", accepted.headers["X-Trial-Expires-At"])
    assert accepted.headers["X-Trial-Remaining-WhatsApp"] == "9"

    # A `to` with the break inside the number: a phone number once the separators are gone, or no address at all.
    to = phone[:6] + LINE_BREAKS[line_break] + phone[6:]
    answer = send(local_stack, key, to, body={"content": "Hi"})
    assert_no_injected_header(answer, marker)
    assert answer.json()["messages"][0]["to"] == to, "the `to` is echoed as sent (CM's contract)"
    if answer.status != 200:
        assert (answer.status, answer.json()["errorCode"]) == (400, 302), answer.text
        assert not re.search(r"[\r\n\x85\u2028\u2029]", answer.json()["details"]), answer.json()["details"]

    # No address at all, with the whole injection in it: row 12's text echoes only a clean, short prefix.
    refused = send(local_stack, key, value[:SHORT])
    assert (refused.status, refused.json()["errorCode"]) == (400, 302), refused.text
    assert_no_injected_header(refused, marker)
    assert not re.search(r"[\r\n\x85\u2028\u2029]", refused.json()["details"]), refused.json()["details"]

    # A channel name and a key header that try the same.
    for result in (
        send(local_stack, key, phone, allowedChannels=[value[:SHORT]]),
        local_stack.post_json(
            GATEWAY,
            {"messages": {"msg": [{"to": [{"number": phone}], "body": {"content": "Hi"}}]}},
            headers={"X-CM-PRODUCTTOKEN": urllib.parse.quote(value)},
        ),
    ):
        assert result.status in (400, 401), result.text
        assert_no_injected_header(result, marker)
        assert not re.search(r"[\r\n\x85\u2028\u2029]", result.json()["details"])

    # The accepted message is recorded as sent, every field intact.
    [request] = [
        m["json"]["messages"]["msg"][0]
        for m in dashboard_messages(local_stack, key)
        if m["direction"] == "outbound" and m["json"]["messages"]["msg"][0].get("reference") == value[:SHORT]
    ]
    assert (request["from"], request["body"]["content"]) == (value[:SHORT], value)


# --- Inbound: the end user's phone and the providers' webhooks ---


@pytest.mark.parametrize("line_break", list(LINE_BREAKS))
def test_line_breaks_in_inbound_fields_inject_no_header(local_stack: LocalStack, line_break: str) -> None:
    marker = new_marker()
    value = injection(marker, LINE_BREAKS[line_break])
    key, _ = sign_up(local_stack)
    phone = whitelist(local_stack, key)

    # The end user's text, through the phone helper (Meta's signed webhook underneath).
    typed = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": value})
    assert typed.status == 200, typed.text
    assert typed.json()["answer"]["outcomes"] == ["recorded"]
    assert_no_injected_header(typed, marker)
    # A sender that is no address: refused, its value repr()-escaped in the answer.
    stranger = local_stack.post_json("/_local/mo", {"channel": "Instagram", "from": value, "text": "hello"})
    assert stranger.status == 400
    assert_no_injected_header(stranger, marker)
    assert not re.search(r"[\r\n\x85\u2028\u2029]", stranger.json()["message"])

    # CM's MO webhook: reference, sender name, our number and text all hostile.
    cm = local_stack.post_json(
        cm_webhook_path(local_stack),
        {
            "reference": value,
            "channel": "WhatsApp",
            "from": {"number": phone, "name": value},
            "to": {"number": value},
            "message": {"text": value},
        },
    )
    assert (cm.status, cm.json()) == (200, {"processed": 1, "outcomes": ["recorded"]}), cm.text
    assert_no_injected_header(cm, marker)

    # Meta's signed webhook: profile name, message id and our display number hostile.
    meta = signed_meta(
        local_stack, whatsapp_webhook(phone, value, name=value, message_id="wamid." + value, our_number=value)
    )
    assert (meta.status, meta.json()) == (200, {"processed": 1, "outcomes": ["recorded"]}), meta.text
    assert_no_injected_header(meta, marker)

    # Recorded intact: the dashboard gets exactly what was sent, as JSON data.
    inbound = [
        m for m in dashboard_messages(local_stack, key) if m["direction"] == "inbound" and marker in json.dumps(m)
    ]
    assert len(inbound) == 3
    cm_json = next(m["json"] for m in inbound if m["json"]["reference"] == value)
    assert (cm_json["from"]["name"], cm_json["to"]["number"], cm_json["message"]["text"]) == (value, value, value)
    meta_json = next(m["json"] for m in inbound if m["json"]["reference"] == "wamid." + value)
    assert (meta_json["from"]["name"], meta_json["message"]["text"]) == (value, value)


def test_encoded_line_breaks_in_paths_and_queries_inject_no_header(local_stack: LocalStack) -> None:
    marker = new_marker()
    crlf = f"%0d%0a{INJECTED_HEADER}:%20{marker}"
    token = meta_verify_token(local_stack)
    challenge = f"<script>window.__pwned=1</script>{crlf}"
    answers = {
        "static page": local_stack.get(f"/dashboard{crlf}"),
        "static file": local_stack.get(f"/signup/{crlf}"),
        "api route": local_stack.post_json(f"/webhooks/cm/{crlf}", {}),
        "api query": local_stack.get(f"/dashboard-api/messages?limit=1&cursor={crlf}"),
        "local helper": local_stack.get(f"/_local/mail?to={crlf}"),
        "meta handshake": local_stack.get(
            "/webhooks/meta?"
            + urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": token})
            + f"&hub.challenge={urllib.parse.quote(challenge, safe='%')}"
        ),
    }
    for what, result in answers.items():
        assert result.status < 500, (what, result.status, result.text)
        assert_no_injected_header(result, marker)
        location = result.headers.get("Location")
        assert location is None or not re.search(r"[\r\n]", location), (what, location)
    # The handshake echoes the challenge as its body, as plain text: never as a header, never as a page.
    handshake = answers["meta handshake"]
    assert handshake.status == 200
    assert handshake.headers["Content-Type"].startswith("text/plain")
    assert handshake.text == urllib.parse.unquote(challenge)


# --- Logs ---

ACCESS_LINE = re.compile(r"[A-Z]+ /\S* → \d{3} \(\d+ ms\)")
MAIL_LINE = re.compile(r"(  │( .*)?|✉  e-mail to \S+ \(captured, not delivered\))")


def test_the_stack_output_has_no_forged_line(local_stack: LocalStack) -> None:
    """Every field that reaches the output carries a line break and a forged record: none starts a line of its own."""
    marker = new_marker()
    for line_break in LINE_BREAKS.values():
        value = injection(marker, line_break)
        key, _ = sign_up(local_stack)
        phone = whitelist(local_stack, key)
        # Only the text-like breaks get through sign-up; the others are refused (and tried anyway).
        local_stack.post_json(
            "/signup", {"name": value, "company": value, "email": f"log-{uuid.uuid4().hex}@example.com"}
        )
        send(local_stack, key, phone, reference=value[:SHORT], **{"from": value[:SHORT]}, body={"content": value})
        send(local_stack, key, value[:SHORT])
        send(local_stack, key, phone, allowedChannels=[value[:SHORT]])
        local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": value})
        local_stack.post_json("/_local/mo", {"channel": "Instagram", "from": value, "text": value})
        local_stack.post_json(
            cm_webhook_path(local_stack),
            {"reference": value, "channel": "WhatsApp", "from": {"number": phone, "name": value},
             "to": {"number": value}, "message": {"text": value}},
        )  # fmt: skip
        signed_meta(local_stack, whatsapp_webhook(phone, value, name=value, message_id=value, our_number=value))
        local_stack.get("/_local/mail?" + urllib.parse.urlencode({"to": value}))
    # The replies and deliveries those caused are logged by the pump a moment later.
    time.sleep(1.5)

    lines = local_stack.output().split("\n")
    marked = [line for line in lines if marker in line]
    # The name reaches the output (in the printed e-mail), so the check below has something to look at.
    assert any(MAIL_LINE.fullmatch(line) for line in marked), "the injected values never reached the output"
    forged = [line for line in lines if line.startswith(('{"level":"CRITICAL"', INJECTED_HEADER))]
    assert forged == [], f"forged lines: {forged}"
    for line in marked:
        # One line, whatever splits it: no CR (a terminal would overwrite the line), no Unicode line breaks.
        assert not re.search(r"[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", line), repr(line)
        if line.startswith("{"):
            record = json.loads(line)
            assert isinstance(record, dict), line
            assert record.get("level") != "CRITICAL", line
        else:
            assert ACCESS_LINE.fullmatch(line) or MAIL_LINE.fullmatch(line), f"unexpected output line: {line!r}"


# --- Oversized bodies ---


def _signed(stack: LocalStack, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, meta_app_secret(stack))}


ROUTES = {
    "signup": SignupSettings().max_body_bytes,
    "send": SendSettings().send_max_body_bytes,
    "cm-mo": MoWebhookSettings().webhook_max_body_bytes,
    "cm-status": MoWebhookSettings().webhook_max_body_bytes,
    "meta": MoWebhookSettings().webhook_max_body_bytes,
}


def _post(stack: LocalStack, route: str, body: bytes) -> HttpResult:
    paths = {
        "signup": "/signup",
        "send": GATEWAY,
        "cm-mo": cm_webhook_path(stack),
        "cm-status": cm_status_path(stack),
        "meta": "/webhooks/meta",
    }
    headers = _signed(stack, body) if route == "meta" else {"Content-Type": "application/json"}
    return stack.request("POST", paths[route], body=body, headers=headers)


def _invalid_json(size: int, filler: str = "x") -> bytes:
    """`{` and then `filler` up to exactly `size` bytes of UTF-8: never JSON, whatever its length."""
    width = len(filler.encode("utf-8"))
    body = "{" + filler * ((size - 1) // width) + "x" * ((size - 1) % width)
    encoded = body.encode("utf-8")
    assert len(encoded) == size
    return encoded


def _is_size_answer(route: str, result: HttpResult) -> bool:
    """The documented answer to a body over the limit: row 2 for the gateway, `body_too_large` elsewhere."""
    answer: dict[str, Any] = result.json()
    if route == "send":
        return answer == {"details": INVALID_POST_DATA, "errorCode": 202, "messages": []}
    return answer.get("code") == "body_too_large"


def _is_json_answer(route: str, result: HttpResult) -> bool:
    """The documented answer to a body that is not JSON: row 1 for the gateway, `invalid_json` elsewhere."""
    answer: dict[str, Any] = result.json()
    if route == "send":
        return answer == {"details": NOT_JSON, "errorCode": 202, "messages": []}
    return answer.get("code") == "invalid_json"


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_body_one_byte_over_the_limit_is_refused_before_parsing(local_stack: LocalStack, route: str) -> None:
    limit = ROUTES[route]
    # The documented defaults (docs/configuration.md).
    assert limit == (8192 if route == "signup" else 65536)

    at_limit = _post(local_stack, route, _invalid_json(limit))
    assert at_limit.status == 400, at_limit.text
    assert _is_json_answer(route, at_limit), (
        f"at the limit an invalid body is parsed and refused as such: {at_limit.text}"
    )

    for filler in ("x", "é", "€"):
        over = _post(local_stack, route, _invalid_json(limit + 1, filler))
        assert over.status == 400, over.text
        # Not JSON at all, yet the answer is about the size: the body was never handed to a parser.
        assert _is_size_answer(route, over), f"{filler!r}: {over.text}"
        assert over.headers.get("Content-Type", "").startswith("application/json")
