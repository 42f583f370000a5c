"""The end user's phone (`/_local/phone`) in real Chromium against the local stack.

A person signs up, opens the phone page, sends the key from WhatsApp and then SMS, and sees the trial
company's replies appear on their own once the delivery function delivered them (`/_local/deliveries`);
hostile text stays text; bad input is explained.
"""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
HOSTILE = "<img src=x onerror=alert(1)>"
PHONE_PATH = "/_local/phone"


def _sign_up(local_stack: LocalStack) -> str:
    email = f"browser-phone-{uuid.uuid4().hex[:10]}@example.com"
    response = local_stack.post_json("/signup", {"name": "Phone Tester", "email": email})
    assert response.status == 202, response.text
    [mail] = local_stack.mail(to=email)
    keys = set(KEY_PATTERN.findall(mail["text"]))
    assert len(keys) == 1, mail["text"]
    return str(keys.pop())


def _phone_number() -> str:
    return f"+316{random.randrange(10**8):08d}"


def _send(page: Page, text: str, *, enter: bool = False) -> None:
    page.fill("#text", text)
    if enter:
        page.press("#text", "Enter")
    else:
        page.click("#send")


def _bubbles(page: Page) -> list[tuple[str, str]]:
    """The conversation as shown: (sent|received, text), oldest first."""
    found: list[tuple[str, str]] = []
    for item in page.locator("#conversation > li").all():
        side = "sent" if "msg-sent" in (item.get_attribute("class") or "") else "received"
        found.append((side, item.locator(".bubble").inner_text()))
    return found


def _received(page: Page, containing: str) -> None:
    page.locator("#conversation .msg-received .bubble", has_text=containing).first.wait_for(state="visible")


def _has_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def test_the_key_whitelists_from_the_phone_and_replies_appear_by_themselves(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path
) -> None:
    key = _sign_up(local_stack)
    sender = _phone_number()
    opened = open_page("phone", path=PHONE_PATH)
    page = opened.page
    dialogs: list[str] = []

    def _on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _on_dialog)
    assert page.title().startswith("End user's phone")
    assert "reported read" in page.locator("#source-note").inner_text()

    page.select_option("#channel", "WhatsApp")
    page.fill("#sender", sender)
    # Survives only if the page is never reloaded.
    page.evaluate("window.__sameDocument = true")

    _send(page, key)
    _received(page, "You are whitelisted")
    sent = page.locator("#conversation .msg-sent").first
    assert sent.locator(".bubble").inner_text() == key
    assert "Whitelisted" in sent.locator(".outcome").inner_text()
    reply = page.locator("#conversation .msg-received").first
    # A reply has no record, so no status to show (and none assumed).
    assert "Automatic reply" in reply.locator(".meta").inner_text()
    assert "status" not in reply.locator(".meta").inner_text()
    assert page.locator("#text").input_value() == ""
    assert sender in page.locator("#chat-subtitle").inner_text()

    # Hostile text is shown as text: no element made of it, no script run, even after a few polls.
    _send(page, HOSTILE, enter=True)
    page.locator("#conversation .msg-sent .bubble", has_text=HOSTILE).wait_for(state="visible")
    page.wait_for_timeout(2500)
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert dialogs == []
    hostile = page.locator("#conversation .msg-sent").nth(1)
    assert hostile.locator(".bubble").inner_text() == HOSTILE
    assert "Received by the trial" in hostile.locator(".outcome").inner_text()

    # Something the trial company sends without the page asking (here: the answer to a STOP sent
    # behind the page's back) appears through polling alone.
    stop = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": sender, "text": "STOP"})
    assert stop.json()["answer"]["outcomes"] == ["stopped"]
    _received(page, "You have been removed")
    assert [side for side, _ in _bubbles(page)] == ["sent", "received", "sent", "received"]
    assert page.evaluate("window.__sameDocument === true")
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "phone-whatsapp.png", full_page=True)

    # SMS: the same phone number, a conversation of its own.
    page.select_option("#channel", "SMS")
    assert page.locator("#sender").input_value() == sender
    assert page.locator("#conversation > li").count() == 0
    assert page.locator("#empty").is_visible()
    _send(page, f"my key: {key}")
    _received(page, "You are whitelisted")
    assert _bubbles(page)[0] == ("sent", f"my key: {key}")
    assert [side for side, _ in _bubbles(page)] == ["sent", "received"]
    assert "this number" in _bubbles(page)[1][1]
    page.screenshot(path=artifacts / "phone-sms.png", full_page=True)

    # What the person sent is remembered across a reload, per channel and sender.
    page.reload(wait_until="networkidle")
    assert page.locator("#channel").input_value() == "SMS"
    assert page.locator("#sender").input_value() == sender
    page.locator("#conversation .msg-sent").first.wait_for(state="visible")
    page.select_option("#channel", "WhatsApp")
    page.locator("#conversation .msg-sent .bubble", has_text=HOSTILE).wait_for(state="visible")

    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    opened.problems.assert_clean()


def test_bad_input_is_explained_and_nothing_is_added(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path
) -> None:
    opened = open_page("desktop", path=PHONE_PATH)
    page = opened.page
    page.select_option("#channel", "Instagram")
    assert page.locator("#sender").input_value() == "1234567890123456"
    assert "id" in page.locator("#sender-label").inner_text()

    page.fill("#sender", "not-an-id")
    _send(page, "hello")
    status = page.locator("#status")
    status.wait_for(state="visible")
    text = status.inner_text()
    assert "not sent" in text
    assert "'not-an-id' is not a numeric id" in text
    assert '"channel": "WhatsApp"' in text, "the example from the answer is shown"
    assert page.locator("#conversation > li").count() == 0
    assert page.locator("#text").input_value() == "hello", "the message is kept to try again"
    page.screenshot(path=artifacts / "phone-bad-input.png", full_page=True)

    page.fill("#sender", "1234567890123456")
    page.fill("#text", "")
    page.click("#send")
    assert "Type a message first" in status.inner_text()
    opened.problems.assert_clean(allowed_statuses=(400,))


def test_the_channels_are_the_registrys_from_trial_json(open_page: OpenPage, local_stack: LocalStack) -> None:
    rules = local_stack.get("/trial.json").json()
    rules["channels"].append({"name": "Telegram", "short": "Telegram", "addressing": "account", "quota": 30})

    def setup(page: Page) -> None:
        page.route("**/trial.json", lambda route: route.fulfill(json=rules))

    opened = open_page("desktop", path=PHONE_PATH, setup=setup)
    page = opened.page
    page.select_option("#channel", "Telegram")
    options = page.locator("#channel option").evaluate_all("options => options.map(o => o.value)")
    assert options == ["WhatsApp", "SMS", "Facebook Messenger", "Instagram", "Telegram"]
    assert "id" in page.locator("#sender-label").inner_text()
    page.select_option("#channel", "SMS")
    assert page.locator("#sender-label").inner_text() == "Your phone number"
    opened.problems.assert_clean()


def test_a_send_the_phone_shows_is_reported_read_and_shows_its_real_status(
    open_page: OpenPage, local_stack: LocalStack
) -> None:
    from tests.e2e.test_delivery_e2e import eventually, outbound_records, send, whitelist

    key = _sign_up(local_stack)
    sender = _phone_number()
    whitelist(local_stack, "WhatsApp", sender, key)
    text = f"Status check {uuid.uuid4().hex[:8]}"
    send(local_stack, key, sender, text)
    # Delivered by the sandbox before any phone shows it.
    eventually(
        lambda: [r for r in outbound_records(local_stack, key, sender) if r["status"]["S"] == "delivered"] or None,
        "the send delivered",
    )

    page = open_page("phone", path=PHONE_PATH).page
    page.select_option("#channel", "WhatsApp")
    page.fill("#sender", sender)
    _received(page, text)
    shown = page.locator("#conversation .msg-received", has_text=text).first
    # The page reported it read, and shows the status the record has (never one it assumed).
    shown.locator(".meta", has_text="status: read").wait_for(state="visible")
    assert "Sent through the gateway" in shown.locator(".meta").inner_text()
    [record] = outbound_records(local_stack, key, sender)
    assert record["status"]["S"] == "read"


def test_a_template_and_media_show_as_text_with_https_links(open_page: OpenPage, local_stack: LocalStack) -> None:
    from tests.e2e.test_delivery_e2e import whitelist

    key = _sign_up(local_stack)
    sender = _phone_number()
    whitelist(local_stack, "WhatsApp", sender, key)
    image = "https://example.com/trial/logo.png"
    rich = {
        "conversation": [
            {
                "template": {
                    "whatsapp": {
                        "element_name": "order_update",
                        "language": {"code": "en"},
                        "components": [
                            {"type": "header", "parameters": [{"type": "image", "media": {"mediaUri": image}}]},
                            {"type": "body", "parameters": [{"type": "text", "text": HOSTILE}]},
                        ],
                    }
                }
            }
        ]
    }
    msg = {"allowedChannels": ["WhatsApp"], "to": [{"number": sender}], "body": {"type": "AUTO", "content": ""}}
    payload = {"messages": {"authentication": {"producttoken": key}, "msg": [{**msg, "richContent": rich}]}}
    response = local_stack.post_json("/messaging/messagingtrial/gw/", payload)
    assert response.status == 200, response.text

    page = open_page("phone", path=PHONE_PATH).page
    page.select_option("#channel", "WhatsApp")
    page.fill("#sender", sender)
    _received(page, "WhatsApp template order_update")
    shown = page.locator("#conversation .msg-received", has_text="WhatsApp template order_update").first
    assert shown.locator(".bubble").inner_text() == f"WhatsApp template order_update: [image] {image}, {HOSTILE}"
    link = shown.locator(".media a")
    assert (link.get_attribute("href"), link.inner_text()) == (image, image)
    assert link.get_attribute("rel") == "noopener noreferrer"
    # The template's text stays text: no element made of it.
    assert page.evaluate("document.querySelectorAll('img').length") == 0
