"""The trial dashboard (`/dashboard/#<key>`) in real Chromium against the local stack.

The main test walks the whole journey: sign up through the form, open the dashboard link from the e-mail,
whitelist a WhatsApp number and send through the gateway, and watch both appear without a reload; the
curl example from the page is run for real; hostile inbound text stays text. The others cover the pages
for missing and wrong keys, and (with the API faked by `page.route`, since the stack cannot be made to
answer these on demand) an expired trial's read-only view, the SMS "explain" view and paging.
"""

from __future__ import annotations

import json
import random
import re
import shlex
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page, Route

    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
HOSTILE = "<img src=x onerror=alert(1)>"
GATEWAY_PATH = "/messaging/messagingtrial/gw/"
# The page polls with back-off up to 30 s; a change must show within one slow round.
POLL_WAIT_MS = 40_000
# What a message the sandbox took says: deployed (no simulated phone), and on the local stack (its phone page).
SANDBOX_NOTE = "sandbox: a simulated delivery, not sent to a real phone"
SANDBOX_LOCAL_NOTE = "sandbox: sent to the simulated phone at /_local/phone, not to a real one"


def _phone_number() -> str:
    return f"+316{random.randrange(10**8):08d}"


def _mail_to(local_stack: LocalStack, address: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (mails := local_stack.mail(to=address)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return mails


def _has_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def _record_dialogs(page: Page) -> list[str]:
    """alert()/confirm() calls the page makes (there must be none); each is dismissed so nothing hangs."""
    dialogs: list[str] = []

    def _on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _on_dialog)
    return dialogs


def _select_tab(page: Page, name: str) -> None:
    page.click(f"#tab-{name}")
    assert page.get_attribute(f"#tab-{name}", "aria-selected") == "true"
    page.locator(f"#panel-{name}").wait_for(state="visible")


def _run_curl(command: str) -> tuple[int, str]:
    """Runs the page's curl example as a shell would read it, without a shell: (HTTP status, body)."""
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[0] == "curl", command
    result = subprocess.run(
        [*argv, "-sS", "--max-time", "20", "-w", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def _send(local_stack: LocalStack, key: str, to: str, text: str) -> tuple[int, dict[str, Any]]:
    """Sends `text` on WhatsApp through the gateway: (HTTP status, CM's answer)."""
    answer = local_stack.post_json(
        GATEWAY_PATH,
        {
            "messages": {
                "authentication": {"producttoken": key},
                "msg": [
                    {
                        "allowedChannels": ["WhatsApp"],
                        "from": "TrialTest",
                        "to": [{"number": to}],
                        "body": {"type": "auto", "content": text},
                    }
                ],
            }
        },
    )
    return answer.status, answer.json()


def test_signup_to_dashboard_whitelist_send_and_watch_it_update(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path, tmp_path: Path
) -> None:
    # Sign up through the form, as a developer would.
    opened = open_page("desktop")
    page = opened.page
    email = f"browser-dash-{uuid.uuid4().hex[:10]}@example.com"
    page.fill("#name", "Dana Dashboard")
    page.fill("#email", email)
    page.fill("#company", "Dash & Co")
    page.check("#consent")
    page.click("#submit")
    page.locator("#done").wait_for(state="visible")

    [mail] = _mail_to(local_stack, email)
    links = re.findall(r"https?://\S+/dashboard/#\S+", mail["text"])
    assert links, mail["text"]
    link = links[0]
    key = urlsplit(link).fragment
    assert KEY_PATTERN.fullmatch(key), link
    dialogs = _record_dialogs(page)
    api_requests: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda r: api_requests.append((r.url, r.headers.get("authorization"))) if "/dashboard-api/" in r.url else None,
    )

    page.goto(link)
    page.locator("#dashboard").wait_for(state="visible")
    assert page.locator("#trial-title").inner_text() == "Dana Dashboard"
    assert page.locator("#trial-state").inner_text() == "Active"
    assert re.fullmatch(r"in 2[34] h \d\d min \d\d s", page.locator("#countdown").inner_text()), page.locator(
        "#countdown"
    ).inner_text()
    assert "UTC" in page.locator("#expiry-utc").inner_text()
    quotas = page.locator("#quotas li").all_inner_texts()
    assert any("WhatsApp" in q and "10 of 10 left" in q for q in quotas), quotas

    # The key is hidden until asked for, and goes out only in the Authorization header.
    assert key not in page.locator("body").inner_text()
    assert key not in (page.locator("#key-value").text_content() or "")
    page.click("#key-toggle")
    assert page.locator("#key-value").inner_text() == key
    assert page.get_attribute("#key-toggle", "aria-pressed") == "true"
    page.click("#key-toggle")
    assert key not in page.locator("body").inner_text()
    assert api_requests
    for url, authorization in api_requests:
        assert key not in url
        assert authorization == f"Bearer {key}"

    # Empty whitelist: how to add recipients, with the contact points and deep links.
    empty = page.locator("#whitelist-empty")
    assert empty.is_visible()
    hrefs = [a.get_attribute("href") or "" for a in empty.locator("a").all()]
    assert any(h.startswith("https://wa.me/") and h.endswith(f"?text={key}") for h in hrefs), hrefs
    assert any(h.startswith("sms:") for h in hrefs), hrefs
    # The local stack says, once, that those never reach it, and links its simulated phone with channel and key.
    assert empty.locator(".local-phone-note").is_visible()
    assert page.locator(".local-phone-note:visible").count() == 1
    assert f"{local_stack.url}/_local/phone#channel=WhatsApp&text={key}" in hrefs, hrefs
    page.screenshot(path=artifacts / "dashboard-desktop-empty.png", full_page=True)

    # Whitelist a WhatsApp number from the "phone": the row appears without a reload.
    phone = _phone_number()
    answer = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": key})
    assert answer.status < 300, answer.text
    row = page.locator("#whitelist-rows tr", has_text=phone)
    row.wait_for(timeout=POLL_WAIT_MS)
    assert "WhatsApp" in row.inner_text()
    assert row.locator("time").get_attribute("datetime")
    assert empty.is_hidden()

    # Send through the gateway: the message appears in the Messages tab and moves on to `sent`.
    text = f"Hello from the dashboard test {uuid.uuid4().hex[:6]}"
    status, sent = _send(local_stack, key, phone, text)
    assert status == 200, sent
    _select_tab(page, "messages")
    message = page.locator("#message-rows tr", has_text=text)
    message.wait_for(timeout=POLL_WAIT_MS)
    assert "Out" in message.inner_text()
    message.locator(".badge", has_text=re.compile(r"^(sent|delivered|read)$")).wait_for(timeout=POLL_WAIT_MS)
    # The local stack's WhatsApp is the sandbox: the note says it went to the simulated phone, and links it.
    assert message.locator(".provider-note").inner_text().startswith(SANDBOX_LOCAL_NOTE)
    assert message.locator(".provider-note a").get_attribute("href") == f"{local_stack.url}/_local/phone"

    # The JSON popup holds the message (the request without the key).
    message.get_by_role("button", name=re.compile("JSON")).click()
    dialog = page.locator("#detail")
    dialog.wait_for(state="visible")
    shown = json.loads(dialog.locator("pre").inner_text())
    assert text in json.dumps(shown)
    assert key not in json.dumps(shown)
    page.screenshot(path=artifacts / "dashboard-desktop-message-json.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # Hostile inbound text is shown as text: no element, no dialog, no CSP violation.
    answer = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": HOSTILE})
    assert answer.status < 300, answer.text
    hostile = page.locator("#message-rows tr", has_text=HOSTILE)
    hostile.wait_for(timeout=POLL_WAIT_MS)
    assert "In" in hostile.inner_text()
    assert page.locator("#message-rows img").count() == 0
    # The whitelisting message was the key itself: it was recorded with the key blanked out.
    assert "[trial key]" in page.locator("#message-rows").inner_text()
    assert key not in page.locator("body").inner_text()
    page.screenshot(path=artifacts / "dashboard-desktop-messages.png", full_page=True)

    # Tabs follow the arrow keys.
    page.focus("#tab-messages")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.id") == "tab-whitelist"
    assert page.get_attribute("#tab-whitelist", "aria-selected") == "true"
    assert page.get_attribute("#tab-messages", "aria-selected") == "false"
    assert page.locator("#panel-messages").is_hidden()
    page.screenshot(path=artifacts / "dashboard-desktop-whitelist.png", full_page=True)

    # The row's curl example, read from the page, sends for real.
    row.get_by_role("button", name=re.compile("Example code")).click()
    dialog.wait_for(state="visible")
    curl = dialog.locator("pre").inner_text()
    assert key in curl
    assert "Postman" in dialog.inner_text()
    page.screenshot(path=artifacts / "dashboard-desktop-curl.png")
    dialog.get_by_role("button", name=re.compile("Copy")).click()
    page.locator("#refresh-status", has_text=re.compile("copied|selected")).wait_for()
    status, body = _run_curl(curl)
    assert status == 200, body
    assert json.loads(body)["messages"][0]["status"] == "Accepted"
    page.click("#detail-close")
    dialog.wait_for(state="hidden")

    # The Postman collection downloads under the trial's name.
    with page.expect_download() as download_info:
        page.click("#postman")
    download = download_info.value
    assert re.fullmatch(r"trialgw-[A-Za-z0-9_-]+\.postman_collection\.json", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    collection = json.loads(saved.read_text(encoding="utf-8"))
    assert "schema.getpostman.com" in json.dumps(collection.get("info", {}))

    # Phone width: both tabs readable without sideways scrolling.
    page.set_viewport_size({"width": 375, "height": 740})
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "dashboard-phone-whitelist.png", full_page=True)
    _select_tab(page, "messages")
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "dashboard-phone-messages.png", full_page=True)

    assert dialogs == []
    opened.problems.assert_clean()


@pytest.mark.parametrize(
    ("case", "fragment", "title"),
    [
        ("missing", "", "Open the link from your e-mail"),
        ("malformed", "#not a key", "not valid"),
        ("unknown", "#00000000-0000-4000-8000-000000000000", "not valid"),
    ],
)
def test_missing_or_wrong_key_shows_a_clear_page(
    open_page: OpenPage, artifacts: Path, case: str, fragment: str, title: str
) -> None:
    opened = open_page("phone", path="/dashboard/" + fragment)
    page = opened.page
    problem = page.locator("#problem")
    problem.wait_for(state="visible")
    assert title in page.locator("#problem-title").inner_text()
    assert page.evaluate("document.activeElement.id") == "problem-title"
    assert page.locator("#dashboard").is_hidden()
    assert page.get_attribute("#problem-link", "href") == "/"
    text = problem.inner_text()
    assert "Error" not in text
    assert "at " not in text.replace("that ", "")
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / f"dashboard-phone-error-{case}.png", full_page=True)
    if case == "unknown":
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=artifacts / "dashboard-desktop-error.png", full_page=True)
    opened.problems.assert_clean(allowed_statuses=(404,))


# --- The API faked in the browser: states the stack cannot be made to show on demand ---

NOW = datetime.now(UTC).replace(microsecond=0)
FAKE_KEY = "3f2b8c1e-9d4a-4b7e-8f00-123456789abc"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _message(n: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"m{n}",
        "at": _iso(NOW - timedelta(hours=30, minutes=n)),
        "direction": "outbound",
        "channel": "WhatsApp",
        "counterpart": "+31612345678",
        "summary": f"Message number {n}",
        "status": "delivered",
        "reason": None,
        "provider": "cm",
        "json": {"messages": {"msg": [{"body": {"content": f"Message number {n}"}}]}},
        "explain": None,
    }
    base.update(fields)
    return base


EXPIRED_TRIAL: dict[str, Any] = {
    "trial": {
        "id": "trial-7",
        "name": "<b>Eve</b> Expired",
        "company": "Old & Gone Ltd",
        "createdAt": _iso(NOW - timedelta(hours=25)),
        "expiresAt": _iso(NOW - timedelta(hours=1)),
        "secondsLeft": 0,
        "status": "expired",
        "expired": True,
    },
    # As the API answers for an expired trial: nothing left anywhere, what was sent still counted.
    "quotas": [
        {"channel": "SMS", "quota": 10, "sent": 3, "remaining": 0},
        {"channel": "WhatsApp", "quota": 10, "sent": 10, "remaining": 0},
        {"channel": "Facebook Messenger", "quota": 30, "sent": 0, "remaining": 0},
        {"channel": "Instagram", "quota": 30, "sent": 1, "remaining": 0},
    ],
    "whitelistMax": 10,
    "contactPoints": [],
    "gatewayUrl": "https://example.invalid/messaging/messagingtrial/gw/",
    "statusUrl": "https://example.invalid/messaging/messagingtrial/status",
}
EXPIRED_WHITELIST = {
    "max": 10,
    "recipients": [
        {
            "channel": "SMS",
            "recipient": "+15551234567",
            "whitelistedAt": _iso(NOW - timedelta(hours=24)),
            "curl": "curl -X POST 'https://example.invalid/' -d '{}'",
        }
    ],
    "postmanCollection": {"info": {"name": "x"}, "item": []},
}
SMS_ORIGINAL = "Your code is 1234 <script>"
SMS_GENERIC = "This is a test message from the messaging trial."
FIRST_PAGE = {
    "messages": [
        _message(
            1,
            channel="SMS",
            counterpart="+15551234567",
            summary=SMS_ORIGINAL,
            status="failed",
            reason="Handset <unreachable>",
            provider=None,
            json={"messages": {"msg": [{"body": {"content": SMS_ORIGINAL}}]}},
            explain={
                "delivered": {"text": SMS_GENERIC, "from": "TrialTest"},
                "sms": {"encoding": "GSM-7", "characters": 48, "parts": 1, "partSize": 144, "deliveredParts": 1},
                "countryRule": {"region": "North America", "country": "US", "action": "replaced"},
                "messageDetails": "Content replaced for US destinations.",
            },
        ),
        _message(
            2,
            direction="inbound",
            summary=HOSTILE,
            status=None,
            json={"entry": [{"text": HOSTILE}]},
        ),
    ],
    "next": "cursor-2",
}
OLDER_PAGE = {
    "messages": [
        _message(3, summary="The oldest one"),
        _message(
            4,
            summary="Taken by the sandbox",
            status="sent",
            provider="sandbox",
            explain={"delivered": {"text": "Taken by the sandbox", "from": "+31850876714"}},
        ),
    ],
    "next": None,
}


def _fake_expired_api(page: Page) -> None:
    def _answer(route: Route) -> None:
        url = urlsplit(route.request.url)
        if route.request.headers.get("authorization") != f"Bearer {FAKE_KEY}":
            route.fulfill(status=401, json={"message": "No key", "code": "unauthorized"})
        elif url.path.endswith("/trial"):
            route.fulfill(json=EXPIRED_TRIAL)
        elif url.path.endswith("/whitelist"):
            route.fulfill(json=EXPIRED_WHITELIST)
        elif parse_qs(url.query).get("cursor") == ["cursor-2"]:
            route.fulfill(json=OLDER_PAGE)
        else:
            route.fulfill(json=FIRST_PAGE)

    page.route("**/dashboard-api/**", _answer)


def test_expired_trial_stays_readable_and_explains_sms(open_page: OpenPage, artifacts: Path) -> None:
    opened = open_page("desktop", path=f"/dashboard/#{FAKE_KEY}", setup=_fake_expired_api)
    page = opened.page
    dialogs = _record_dialogs(page)
    page.locator("#dashboard").wait_for(state="visible")

    # Ended, said plainly; the data stays visible, without the actions that would send.
    assert page.locator("#trial-state").inner_text() == "Expired"
    assert page.locator("#ended").is_visible()
    assert page.locator("#trial-title").inner_text() == "<b>Eve</b> Expired"
    assert page.locator("#countdown").inner_text() == "The trial has ended."
    assert page.locator("#whitelist-rows tr", has_text="+15551234567").is_visible()
    assert page.locator("#whitelist-rows button").count() == 0
    assert page.locator("#postman").is_hidden()
    # No quota left: every bar empty, and the reason said once for the trial, not per channel.
    counts = page.locator("#quotas .quota-count").all_inner_texts()
    assert counts == ["0 of 10 left", "0 of 10 left", "0 of 30 left", "0 of 30 left"], counts
    assert page.eval_on_selector_all("#quotas meter", "ms => ms.map(m => m.value)") == [0, 0, 0, 0]
    ended = page.locator("#ended").inner_text()
    expires_utc = page.locator("#expiry-utc").inner_text()
    assert f"This trial expired at {expires_utc}." in ended, ended
    assert "Sign up again for a new one." in ended, ended
    assert page.locator("#ended a").get_attribute("href") == "/"
    assert page.locator("body").inner_text().count("expired at") == 1
    assert "expired" not in page.locator("#quotas").inner_text().lower()
    page.screenshot(path=artifacts / "dashboard-desktop-expired.png", full_page=True)

    # Messages: failed with its reason, hostile text as text, and paging to older ones.
    _select_tab(page, "messages")
    failed = page.locator("#message-rows tr", has_text="+15551234567")
    assert "failed" in failed.inner_text()
    assert "Handset <unreachable>" in failed.inner_text()
    assert page.locator("#message-rows tr", has_text=HOSTILE).is_visible()
    assert page.locator("#message-rows img, #message-rows script").count() == 0
    page.click("#load-older")
    page.locator("#message-rows tr", has_text="The oldest one").wait_for()
    assert page.locator("#load-older").is_hidden()
    times = [t.get_attribute("datetime") or "" for t in page.locator("#message-rows time").all()]
    assert times == sorted(times, reverse=True), "newest first"
    # A message the sandbox took says it reached no phone, in its row and its explanation; one a provider took,
    # or one that failed, says nothing of the kind.
    sandboxed = page.locator("#message-rows tr", has_text="Taken by the sandbox")
    assert sandboxed.locator(".provider-note").inner_text() == SANDBOX_NOTE
    assert page.locator("#message-rows .provider-note").count() == 1
    sandboxed.get_by_role("button", name=re.compile("Explain")).click()
    page.locator("#detail").wait_for(state="visible")
    assert f"Delivered by\n{SANDBOX_NOTE}" in page.locator("#detail dl").inner_text()
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")

    # The SMS explain view: encoding and parts, the country rule, original against delivered text.
    failed.get_by_role("button", name=re.compile("Explain")).click()
    dialog = page.locator("#detail")
    dialog.wait_for(state="visible")
    text = dialog.inner_text()
    for expected in ("GSM-7", "North America", "replaced", SMS_ORIGINAL, SMS_GENERIC):
        assert expected in text, f"{expected!r} not in {text!r}"
    # It failed: no provider took it, and none is named.
    assert "Delivered by" not in text
    page.screenshot(path=artifacts / "dashboard-desktop-explain.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    # The focus goes back to the button that opened the popup.
    assert page.evaluate("document.activeElement.textContent") == "Explain"

    page.set_viewport_size({"width": 375, "height": 740})
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "dashboard-phone-expired-messages.png", full_page=True)

    assert dialogs == []
    opened.problems.assert_clean()


def test_rejected_key_during_use_turns_into_the_clear_page(open_page: OpenPage) -> None:
    """A trial revoked while the page is open: the next refresh answers 404 and the page says so."""
    answers = {"count": 0}

    def _setup(page: Page) -> None:
        def _answer(route: Route) -> None:
            answers["count"] += 1
            if answers["count"] > 3:
                route.fulfill(status=404, json={"message": "Not found", "code": "not_found"})
            elif "/trial" in route.request.url:
                route.fulfill(
                    json={**EXPIRED_TRIAL, "trial": {**EXPIRED_TRIAL["trial"], "status": "active", "secondsLeft": 3600}}
                )
            elif "/whitelist" in route.request.url:
                route.fulfill(json={"max": 10, "recipients": [], "postmanCollection": None})
            else:
                route.fulfill(json={"messages": [], "next": None})

        page.route("**/dashboard-api/**", _answer)

    opened = open_page("desktop", path=f"/dashboard/#{FAKE_KEY}", setup=_setup)
    page = opened.page
    page.locator("#problem").wait_for(state="visible", timeout=15_000)
    assert "not valid" in page.locator("#problem-title").inner_text()
    assert page.locator("#dashboard").is_hidden()
    opened.problems.assert_clean(allowed_statuses=(404,))


def test_polling_backs_off_pauses_while_hidden_and_resumes(open_page: OpenPage) -> None:
    """With the page's clock faked: 3 s, then longer while nothing changes, 3 s again after a change;
    no requests while the page is hidden, one at once when it shows again."""
    rounds: dict[str, int] = {"trial": 0, "whitelist": 0, "messages": 0}
    failing = {"on": False}
    recipients: list[dict[str, Any]] = []
    active = {**EXPIRED_TRIAL, "trial": {**EXPIRED_TRIAL["trial"], "status": "active", "secondsLeft": 7200}}

    def _setup(page: Page) -> None:
        # Frozen from the start: the page's timers fire only when the test moves the clock on.
        start = datetime.now(UTC)
        page.clock.install(time=start)
        page.clock.pause_at(start + timedelta(seconds=1))

        def _answer(route: Route) -> None:
            endpoint = urlsplit(route.request.url).path.rsplit("/", 1)[-1]
            # The webhooks section (issue 18) reads its own two once, outside the polling counted here.
            if endpoint == "webhooks":
                route.fulfill(json={"inboundUrl": None, "statusUrl": None, "hasSecret": False})
                return
            if endpoint == "webhook-log":
                route.fulfill(json={"attempts": [], "next": None})
                return
            rounds[endpoint] += 1
            if failing["on"]:
                route.fulfill(status=503, json={"message": "Try later", "code": "unavailable"})
            elif endpoint == "trial":
                route.fulfill(json=active)
            elif endpoint == "whitelist":
                route.fulfill(json={"max": 10, "recipients": recipients, "postmanCollection": None})
            else:
                route.fulfill(json={"messages": [], "next": None})

        page.route("**/dashboard-api/**", _answer)

    opened = open_page("desktop", path=f"/dashboard/#{FAKE_KEY}", setup=_setup)
    page = opened.page
    page.locator("#dashboard").wait_for(state="visible")

    def _done(expected: int) -> int:
        """Waits (in real time) until `expected` rounds have been answered, then lets the page schedule."""
        for _ in range(100):
            if min(rounds.values()) >= expected:
                break
            page.wait_for_timeout(50)
        page.wait_for_timeout(200)
        assert len(set(rounds.values())) == 1, rounds
        return rounds["trial"]

    def _advance(ms: int) -> None:
        page.clock.run_for(ms)

    assert _done(1) == 1
    _advance(2_900)
    assert _done(1) == 1
    _advance(200)
    assert _done(2) == 2  # 3 s after the first answer
    _advance(5_800)
    assert _done(2) == 2  # nothing changed: now 6 s
    _advance(300)
    assert _done(3) == 3
    _advance(11_800)
    assert _done(3) == 3  # then 12 s

    # A change shows without a reload and brings the pace back to 3 s.
    recipients.append(
        {"channel": "WhatsApp", "recipient": "+31611112222", "whitelistedAt": _iso(NOW), "curl": "curl x"}
    )
    _advance(300)
    assert _done(4) == 4
    page.locator("#whitelist-rows tr", has_text="+31611112222").wait_for()
    _advance(3_100)
    assert _done(5) == 5

    # Hidden: no requests at all; visible again: one round at once.
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    _advance(120_000)
    assert _done(5) == 5
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    _advance(10)
    assert _done(6) == 6

    # A failing round keeps what is shown, says so, and retries later; the next success clears it.
    failing["on"] = True
    _advance(6_100)  # nothing changed on resuming: 6 s
    assert _done(7) == 7
    _advance(100)  # the announcement is set a moment later, so it is read out even when repeated
    page.locator("#refresh-status", has_text="Could not refresh").wait_for()
    assert page.locator("#whitelist-rows tr", has_text="+31611112222").is_visible()
    failing["on"] = False
    _advance(6_100)
    assert _done(8) == 8
    _advance(100)
    page.locator("#refresh-status", has_text="Up to date again").wait_for()
    opened.problems.assert_clean(allowed_statuses=(503,))


def test_a_burst_shows_in_order_and_refused_sends_show_their_answer(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path
) -> None:
    """Issue 17: ten sends in one burst list in the order they were sent; a refused send is listed with the
    gateway's answer (text and errorCode), set apart from the sent ones; a refusal of an unknown key is nowhere."""
    key = local_stack.sign_up("Burst Tester")
    phone = _phone_number()
    answer = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": key})
    assert answer.status < 300, answer.text
    burst = [f"Burst {n:02d} {uuid.uuid4().hex[:4]}" for n in range(10)]
    for text in burst:
        status, body = _send(local_stack, key, phone, text)
        assert status == 200, body
    stranger = _phone_number()
    status, not_whitelisted = _send(local_stack, key, stranger, "To a stranger <b>bold</b>")
    assert (status, not_whitelisted["errorCode"]) == (403, 302), not_whitelisted
    status, used_up = _send(local_stack, key, phone, "One too many")
    assert (status, used_up["errorCode"]) == (429, 102), used_up
    status, _ = _send(local_stack, "00000000-0000-4000-8000-000000000000", phone, "From nobody")
    assert status == 401

    opened = open_page("desktop", path=f"/dashboard/#{key}")
    page = opened.page
    dialogs = _record_dialogs(page)
    page.locator("#dashboard").wait_for(state="visible")
    _select_tab(page, "messages")
    page.locator("#message-rows tr", has_text="One too many").wait_for(timeout=POLL_WAIT_MS)

    # Newest first, in the order they were sent: the burst reads backwards, the refusals after it.
    rows = page.locator("#message-rows tr").all_inner_texts()
    order = [next((text for text in [*burst, "To a stranger", "One too many"] if text in row), None) for row in rows]
    shown = [text for text in order if text is not None]
    assert shown == ["One too many", "To a stranger", *reversed(burst)], shown
    # Every message has milliseconds, the whitelisting message (inbound) too, and they decrease down the list.
    times = [t.get_attribute("datetime") or "" for t in page.locator("#message-rows time").all()]
    assert len(times) == 13, times
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times), times
    assert times == sorted(times, reverse=True)
    assert "From nobody" not in page.locator("#message-rows").inner_text()

    # A refused attempt: its own badge and row style, the answer's errorCode and text, never a sandbox note.
    refused = page.locator("#message-rows tr", has_text="To a stranger")
    assert "is-refused" in (refused.get_attribute("class") or "")
    assert refused.locator(".badge").inner_text() == "refused"
    assert refused.locator(".error-code").inner_text() == "errorCode 302"
    assert refused.locator(".reason").inner_text() == not_whitelisted["details"]
    assert refused.locator(".provider-note").count() == 0
    assert page.locator("#message-rows b").count() == 0
    quota = page.locator("#message-rows tr", has_text="One too many")
    assert quota.locator(".error-code").inner_text() == "errorCode 102"
    assert quota.locator(".reason").inner_text() == used_up["details"]
    assert page.locator("#message-rows tr.is-refused").count() == 2
    # Counted apart: thirteen listed (the whitelisting message, ten sent, two refused).
    assert page.locator("#count-messages").inner_text() == "(13, 2 refused)"
    # The quota counts what was sent, not the refusals.
    quotas = page.locator("#quotas li").all_inner_texts()
    assert any("WhatsApp" in q and "0 of 10 left" in q for q in quotas), quotas
    page.screenshot(path=artifacts / "dashboard-desktop-refused.png", full_page=True)

    # Its popup: the answer, and the request as sent without the key.
    refused.get_by_role("button", name=re.compile("JSON")).click()
    dialog = page.locator("#detail")
    dialog.wait_for(state="visible")
    assert page.locator("#detail-title").inner_text() == "Refused send"
    assert not_whitelisted["details"] in dialog.inner_text()
    shown_json = json.loads(dialog.locator("pre").inner_text())
    assert shown_json["messages"]["msg"][0]["to"] == [{"number": stranger}]
    assert key not in json.dumps(shown_json)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # Phone width: the refusal's answer wraps, nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 740})
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "dashboard-phone-refused.png", full_page=True)
    assert key not in page.locator("body").inner_text()
    assert dialogs == []
    opened.problems.assert_clean()
