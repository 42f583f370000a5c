"""Hostile content in real Chromium: script and markup in every field a developer or an end user controls.

One trial is made hostile through the stack's real entry points: its name and company (sign-up); end users' texts
on all four channels (`/_local/mo`: Meta's and SNS's payloads); CM's MO webhook with a hostile reference, sender
name, our number and text; Meta's signed webhook with a hostile profile name, message id and display number; sends
through the gateway with hostile text, `from` and `reference` (Messenger, SMS and a very long WhatsApp text); and a
CM status report whose failure reason is hostile. Then the dashboard, the end user's phone page and the key e-mail
(its HTML loaded with no CSP at all, so escaping is the only defence) are opened, and every payload of
`tests/browser/hostile_content.py` is tried as a name and a company.

Asserted each time: no dialog opened, `window.__pwned` never set, no element made of a payload (no `img`, `svg`,
`iframe`, inline `script`, `on*` attribute or `javascript:` link), no console error, uncaught error or CSP violation,
and each hostile value shown character for character as text.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.hostile_content import (
    PWNED,
    XSS,
    Payload,
    cm_status_path,
    cm_webhook_path,
    for_name,
    for_short_field,
    linkable_names,
    long_text,
    meta_app_secret,
)
from tests.conftest import start_local_stack
from trialgw.providers.meta.inbound import sign

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page, Route

    from tests.browser.conftest import OpenedPage, OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GATEWAY = "/messaging/messagingtrial/gw/"
SUMMARY_CHARS = 80
MESSENGER = "Facebook Messenger"
PAYLOADS = {payload.id: payload.text for payload in XSS}

# What a payload would leave behind had it been parsed as markup: an element or attribute no page here has.
_INJECTED_MARKUP = """
() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${tag}[${attr.name}]`);
      if (/^\\s*javascript:/i.test(attr.value) && /^(href|src|action|formaction|xlink:href)$/i.test(attr.name)) {
        found.push(`${tag}[${attr.name}=javascript:]`);
      }
      if (attr.name === "srcdoc") found.push(`${tag}[srcdoc]`);
    }
    // The page's own QR codes (issue 18): images it builds itself, whose source is the API's SVG data URL.
    const ownQr = tag === "img" && el.classList.contains("contact-qr")
      && /^data:image\\/svg\\+xml;base64,/.test(el.getAttribute("src") || "");
    if (["img", "svg", "circle", "iframe", "object", "embed", "template"].includes(tag) && !ownQr) {
      found.push(tag);
    }
    if (tag === "script" && !el.src) found.push("inline script");
    // The webhook log's payloads (issue 18) are the page's own <details>.
    if (tag === "details" && el.id !== "whitelist-more" && !el.classList.contains("webhook-payload")) {
      found.push("details");
    }
  }
  return found;
}
"""


def _record_dialogs(dialogs: list[str]) -> Callable[[Page], None]:
    """A page setup that records into `dialogs` every alert/confirm/prompt (dismissed, so nothing hangs)."""

    def _setup(page: Page) -> None:
        def _on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", _on_dialog)

    return _setup


def assert_inert(page: Page, dialogs: list[str]) -> None:
    """Nothing a payload carries ran or became markup."""
    assert dialogs == [], f"dialogs opened: {dialogs}"
    assert page.evaluate(f"typeof window.{PWNED}") == "undefined", "a payload ran"
    assert page.evaluate(_INJECTED_MARKUP) == [], "markup made of a payload"


def _has_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


# --- Making a trial hostile through the stack's real entry points ---


@dataclass
class HostileTrial:
    key: str
    name: str
    company: str
    phone: str
    sms_phone: str
    psid: str
    igsid: str
    # Texts end users sent (each shown as a message's content) and contents developers sent.
    inbound: list[str] = field(default_factory=list)
    outbound: list[str] = field(default_factory=list)
    cm_mo: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    sends: list[dict[str, str]] = field(default_factory=list)
    sms_text: str = ""
    long: str = ""
    long_sent: str = ""
    failure: tuple[str, str] = ("", "")


def _ok(result: Any) -> Any:
    assert result.status in (200, 202), result.text
    return result.json()


def _sign_up(stack: LocalStack, name: str, company: str) -> tuple[str, dict[str, Any]]:
    email = f"hostile-{uuid.uuid4().hex[:12]}@example.com"
    _ok(stack.post_json("/signup", {"name": name, "company": company, "email": email}))
    [mail] = stack.mail(to=email)
    keys = set(KEY_PATTERN.findall(mail["text"]))
    assert len(keys) == 1
    return keys.pop(), mail


def _mo(stack: LocalStack, channel: str, sender: str, text: str) -> list[str]:
    answer = _ok(stack.post_json("/_local/mo", {"channel": channel, "from": sender, "text": text}))
    outcomes: list[str] = answer["answer"]["outcomes"]
    return outcomes


def _send(stack: LocalStack, key: str, channel: str, to: str, content: str, **fields: str) -> None:
    msg = {"allowedChannels": [channel], "from": "TrialTest", "to": [{"number": to}], "body": {"content": content}}
    body = {"messages": {"authentication": {"producttoken": key}, "msg": [msg | fields]}}
    answer = _ok(stack.post_json(GATEWAY, body))
    assert answer["messages"][0]["status"] == "Accepted", answer


def _messages(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    result = stack.get("/dashboard-api/messages?limit=200", headers={"Authorization": f"Bearer {key}"})
    messages: list[dict[str, Any]] = _ok(result)["messages"]
    return messages


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _sent(stack: LocalStack, key: str, summary: str) -> dict[str, Any]:
    """The outbound message shown as `summary`, once delivery took it (status reports find only those)."""
    deadline = time.monotonic() + 10
    while True:
        message = next(m for m in _messages(stack, key) if m["summary"] == summary)
        if message["status"] != "queued" or time.monotonic() > deadline:
            return message
        time.sleep(0.1)


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """This module's own stack, whose sandbox leaves a send `sent` as a real provider does until its reports come by
    webhook: the hostile failure reason below needs a message a provider may still fail (the session's sandbox
    reports `delivered` at once, and nothing moves a delivered message to failed)."""
    with start_local_stack({"TRIALGW_SANDBOX_REPORTS": "false"}) as stack:
        yield stack


@pytest.fixture(scope="module")
def hostile_trial(local_stack: LocalStack) -> HostileTrial:
    names = PAYLOADS
    short = for_short_field()
    key, _ = _sign_up(local_stack, names["title-close"], names["attr-breakout-double"])
    trial = HostileTrial(
        key=key,
        name=names["title-close"],
        company=names["attr-breakout-double"],
        phone=f"+316{random.randrange(10**8):08d}",
        sms_phone=f"+316{random.randrange(10**8):08d}",
        psid=str(random.randrange(10**15, 10**16)),
        igsid=str(random.randrange(10**16, 10**17)),
    )
    senders = {"WhatsApp": trial.phone, "SMS": trial.sms_phone, MESSENGER: trial.psid, "Instagram": trial.igsid}
    for channel, sender in senders.items():
        assert _mo(local_stack, channel, sender, key) == ["whitelisted"]

    # End users' texts, every payload, round the four channels; and one very long one.
    for index, payload in enumerate(XSS):
        channel = list(senders)[index % len(senders)]
        text = f"{channel}: {payload.text}"
        assert _mo(local_stack, channel, senders[channel], text) == ["recorded"]
        trial.inbound.append(text)
    trial.long = long_text().text
    assert _mo(local_stack, "WhatsApp", trial.phone, trial.long) == ["recorded"]

    # CM's MO webhook: every field we keep is hostile.
    trial.cm_mo = {
        "reference": names["iframe-srcdoc"],
        "channel": "WhatsApp",
        "from": {"number": trial.phone, "name": names["svg-onload"]},
        "to": {"number": names["attr-breakout-single"]},
        "message": {"text": "CM: " + names["details-ontoggle"]},
    }
    assert _ok(local_stack.post_json(cm_webhook_path(local_stack), trial.cm_mo))["outcomes"] == ["recorded"]
    trial.inbound.append(trial.cm_mo["message"]["text"])

    # Meta's signed webhook: profile name, message id and our display number hostile.
    trial.meta = {
        "name": names["img-onerror"],
        "id": "wamid." + names["script"],
        "display": names["textarea-close"],
        "text": "Meta: " + names["template-literal"],
    }
    wa_id = trial.phone.removeprefix("+")
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": trial.meta["display"], "phone_number_id": "106000000000001"},
        "contacts": [{"profile": {"name": trial.meta["name"]}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": trial.meta["id"],
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": trial.meta["text"]},
            }
        ],
    }
    change = {"field": "messages", "value": value}
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}).encode()
    signature = sign(raw, meta_app_secret(local_stack))
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    meta_answer = local_stack.request("POST", "/webhooks/meta", body=raw, headers=headers)
    assert _ok(meta_answer)["outcomes"] == ["recorded"]
    trial.inbound.append(trial.meta["text"])

    # Sends: every payload as Messenger text, with hostile `from` and `reference`; an SMS; a very long WhatsApp text.
    for index, payload in enumerate(XSS):
        fields = {"from": short[index % len(short)].text, "reference": short[(index + 3) % len(short)].text}
        content = f"Sent: {payload.text}"
        _send(local_stack, key, MESSENGER, trial.psid, content, **fields)
        trial.outbound.append(content)
        trial.sends.append({"content": content, **fields})
    trial.sms_text = "SMS: " + PAYLOADS["entities"]
    _send(local_stack, key, "SMS", trial.sms_phone, trial.sms_text)
    trial.outbound.append(trial.sms_text)
    trial.long_sent = "Sent: " + long_text(4090).text
    _send(local_stack, key, "WhatsApp", trial.phone, trial.long_sent)

    # A provider's failure reason, hostile (CM's status webhook, by our message id, once the message is sent).
    target = _sent(local_stack, key, trial.outbound[0])
    reason = names["img-onerror"]
    report = {"messages": {"msg": {"reference": target["id"], "status": {"code": "3", "errorDescription": reason}}}}
    assert _ok(local_stack.post_json(cm_status_path(local_stack), report))["updated"] == 1
    trial.failure = (trial.outbound[0], reason)
    return trial


# --- The dashboard ---


def _content_cells(page: Page) -> list[str]:
    return page.locator("#message-rows td[data-label='Content']").all_text_contents()


def _row(page: Page, summary: str) -> Any:
    return page.locator("#message-rows tr").filter(
        has=page.locator("td[data-label='Content']", has_text=re.compile("^" + re.escape(summary) + "$"))
    )


def _open_json(page: Page, summary: str) -> Any:
    _row(page, summary).get_by_role("button", name=re.compile("JSON")).click()
    page.locator("#detail").wait_for(state="visible")
    return json.loads(page.locator("#detail pre").text_content() or "")


def test_dashboard_shows_every_hostile_field_as_text(
    open_page: OpenPage, local_stack: LocalStack, hostile_trial: HostileTrial, artifacts: Path
) -> None:
    trial = hostile_trial
    dialogs: list[str] = []
    opened = open_page("desktop", path=f"/dashboard/#{trial.key}", setup=_record_dialogs(dialogs))
    page = opened.page
    page.locator("#dashboard").wait_for(state="visible")

    # Name and company: in the heading, and in the tab's title, as typed.
    assert page.locator("#trial-title").text_content() == trial.name
    assert page.locator("#trial-company").text_content() == trial.company
    assert page.title() == f"{trial.name} – Trial dashboard"

    # Every message's content, inbound and outbound, as text (long ones shortened in the list).
    page.click("#tab-messages")
    page.locator("#message-rows tr").first.wait_for()
    contents = _content_cells(page)
    for text in [*trial.inbound, *trial.outbound, trial.long, trial.long_sent]:
        assert _summary(text) in contents, f"{text[:60]!r} not shown as text"
    failed = _row(page, trial.failure[0])
    assert failed.locator(".badge").text_content() == "failed"
    assert failed.locator(".reason").text_content() == trial.failure[1]
    page.screenshot(path=artifacts / "hostile-dashboard-desktop-messages.png", full_page=True)
    assert_inert(page, dialogs)

    # The JSON views: every hostile field of CM's and Meta's webhooks and of the sends, intact.
    cm = _open_json(page, trial.cm_mo["message"]["text"])
    assert cm["reference"] == trial.cm_mo["reference"]
    assert cm["from"]["name"] == trial.cm_mo["from"]["name"]
    assert cm["to"]["number"] == trial.cm_mo["to"]["number"]
    assert cm["message"]["text"] == trial.cm_mo["message"]["text"]
    page.screenshot(path=artifacts / "hostile-dashboard-desktop-json.png")
    assert_inert(page, dialogs)
    page.keyboard.press("Escape")
    meta = _open_json(page, trial.meta["text"])
    assert (meta["reference"], meta["from"]["name"], meta["to"]["number"]) == (
        trial.meta["id"],
        trial.meta["name"],
        trial.meta["display"],
    )
    page.keyboard.press("Escape")
    for sent in trial.sends[:4]:
        request = _open_json(page, _summary(sent["content"]))["messages"]["msg"][0]
        assert (request["body"]["content"], request["from"], request["reference"]) == (
            sent["content"],
            sent["from"],
            sent["reference"],
        )
        assert_inert(page, dialogs)
        page.keyboard.press("Escape")
    assert _open_json(page, _summary(trial.long))["message"]["text"] == trial.long
    page.keyboard.press("Escape")
    assert _open_json(page, _summary(trial.long_sent))["messages"]["msg"][0]["body"]["content"] == trial.long_sent
    page.keyboard.press("Escape")

    # The SMS explain view shows the delivered text as text.
    _row(page, trial.sms_text).get_by_role("button", name=re.compile("Explain")).click()
    page.locator("#detail").wait_for(state="visible")
    assert trial.sms_text in page.locator("#detail .quote").all_text_contents()
    assert_inert(page, dialogs)
    page.keyboard.press("Escape")

    # A phone: long hostile strings wrap, nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 740})
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "hostile-dashboard-phone-messages.png", full_page=True)
    page.click("#tab-whitelist")
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "hostile-dashboard-phone-summary.png", full_page=True)

    # A few polls later (new renders of the same data), still nothing ran.
    page.wait_for_timeout(3500)
    assert_inert(page, dialogs)
    opened.problems.assert_clean()


# --- Every payload as a name and a company: the dashboard and the key e-mail ---


@pytest.fixture
def email_page(browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A blank page with no CSP to load e-mails into: escaping is the only defence. (page, dialogs, errors)"""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Nothing an e-mail shows needs the network; a request would mean a payload made an element.
    def _no_network(route: Route) -> None:
        errors.append("request: " + route.request.url)
        route.abort()

    page.route("**/*", _no_network)
    dialogs: list[str] = []
    _record_dialogs(dialogs)(page)
    yield page, dialogs, errors
    context.close()


@pytest.mark.parametrize("payload", linkable_names(), ids=lambda payload: payload.id)
@pytest.mark.parametrize("which", ["name", "company"])
def test_a_payload_a_mail_program_would_link_is_refused_as_a_name_and_mails_nothing(
    local_stack: LocalStack, payload: Payload, which: str
) -> None:
    email = f"hostile-{uuid.uuid4().hex[:12]}@example.com"
    body = {"name": "Jane", "company": "ACME", "email": email, which: payload.text}
    response = local_stack.post_json("/signup", body)
    assert response.status == 422, response.text
    assert set(response.json()["fields"]) == {which}
    assert local_stack.mail(to=email) == []


def test_every_payload_as_name_and_company_stays_text_in_dashboard_and_email(
    open_page: OpenPage,
    local_stack: LocalStack,
    email_page: tuple[Page, list[str], list[str]],
    artifacts: Path,
) -> None:
    mail_page, mail_dialogs, mail_errors = email_page
    dialogs: list[str] = []
    opened: OpenedPage | None = None
    names = for_name()
    for index, payload in enumerate(names):
        company = names[(index + 1) % len(names)].text
        key, mail = _sign_up(local_stack, payload.text, company)

        # The e-mail: headers untouched, the text part as typed, the HTML part escaped and inert.
        assert mail["subject"] == "Your CM.COM messaging trial key"
        assert f"Hi {payload.text}," in mail["text"]
        assert f"<p>Hi {escape(payload.text)},</p>" in mail["html"]
        mail_page.set_content(mail["html"])
        greeting = mail_page.locator("p").first.text_content()
        assert greeting == f"Hi {payload.text},", payload.id
        assert mail_page.title() == mail["subject"]
        assert_inert(mail_page, mail_dialogs)
        assert mail_errors == [], f"{payload.id}: {mail_errors}"
        if payload.id == "img-onerror":
            mail_page.screenshot(path=artifacts / "hostile-email.png", full_page=True)

        # The dashboard: the name and company as text, in the page and the tab's title. One page, loaded afresh.
        path = f"/dashboard/#{key}"
        if opened is None:
            opened = open_page("phone", path=path, setup=_record_dialogs(dialogs))
        else:
            opened.page.goto("about:blank")
            opened.page.goto(local_stack.url + path)
        page = opened.page
        page.locator("#dashboard").wait_for(state="visible")
        assert page.locator("#trial-title").text_content() == payload.text, payload.id
        assert page.locator("#trial-company").text_content() == company, payload.id
        assert page.title() == f"{payload.text} – Trial dashboard"
        assert not _has_horizontal_scroll(page), payload.id
        if payload.id == "long":
            page.screenshot(path=artifacts / "hostile-dashboard-phone-long-name.png", full_page=True)
        assert_inert(page, dialogs)
        opened.problems.assert_clean()


# --- The end user's phone page ---


def test_phone_page_shows_hostile_deliveries_and_input_as_text(
    open_page: OpenPage, hostile_trial: HostileTrial, artifacts: Path
) -> None:
    trial = hostile_trial
    dialogs: list[str] = []
    opened = open_page("phone", path="/_local/phone", setup=_record_dialogs(dialogs))
    page = opened.page

    # What the developer sent to this Messenger account, delivered by the sandbox: every payload as text.
    page.select_option("#channel", MESSENGER)
    page.fill("#sender", trial.psid)
    page.press("#sender", "Enter")
    bubbles = page.locator("#conversation .msg-received .bubble")
    bubbles.filter(has_text=trial.outbound[len(XSS) - 1]).wait_for()
    shown = bubbles.all_text_contents()
    for content in trial.outbound[: len(XSS)]:
        assert content in shown, f"{content!r} not delivered as text"

    # What the end user types, hostile too, is shown as typed.
    typed = PAYLOADS["textarea-close"]
    page.fill("#text", typed)
    page.press("#text", "Enter")
    sent = page.locator("#conversation .msg-sent .bubble").filter(has_text=typed)
    sent.wait_for()
    assert sent.text_content() == typed
    page.locator("#conversation .msg-sent .outcome").last.wait_for()
    assert_inert(page, dialogs)
    page.screenshot(path=artifacts / "hostile-phone-page.png", full_page=True)

    # A hostile sender id is refused, and the refusal shows it as text.
    sender = PAYLOADS["svg-onload"]
    page.fill("#sender", sender)
    page.fill("#text", "hello")
    page.press("#text", "Enter")
    status = page.locator("#status.is-error")
    status.wait_for()
    assert "is not a numeric id" in (status.text_content() or "")
    assert sender[:20] in (status.text_content() or "")
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "hostile-phone-page-refused.png", full_page=True)
    page.wait_for_timeout(2500)
    assert_inert(page, dialogs)
    opened.problems.assert_clean(allowed_statuses=(400,))
