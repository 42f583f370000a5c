"""The dashboard's Webhooks section and the local webhook receiver in real Chromium against the local stack (issue 18).

The journey: a refused URL's message shown next to its field, the receiver's URL saved, a signing secret made and
shown once, a test event queued, the log's rows (attempts written as the webhook worker writes them, through the
same adapter into the stack's moto), a replay queued again under the same event id, and older pages. Hostile URLs,
answers, errors and payloads in the log stay text. The receiver page lists what was posted to it and checks the
signature in the browser.

Where an event went is read on the webhook queue (peeked: left visible), or, once the webhook worker consumes that
queue in the stack, at the receiver it was posted to (`X-Trial-Event-Id`): either proves it was queued.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tests.browser.hostile_content import PWNED, XSS
from trialgw import names
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.ports import WebhookAttempt
from trialgw.webhook_events import WebhookEvent, WebhookKind, new_event_id
from trialgw.webhook_signing import signed_headers

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

WAIT_S = 15.0
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_-]+")

# Elements a payload would leave behind had it been parsed as markup (the log's own <details> are the page's).
_INJECTED_MARKUP = """
() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${tag}[${attr.name}]`);
      if (/^\\s*javascript:/i.test(attr.value)) found.push(`${tag}[${attr.name}=javascript:]`);
      if (attr.name === "srcdoc") found.push(`${tag}[srcdoc]`);
    }
    const ownQr = tag === "img" && el.classList.contains("contact-qr");
    if (["img", "svg", "circle", "iframe", "object", "embed", "template"].includes(tag) && !ownQr) found.push(tag);
    if (tag === "script" && !el.src) found.push("inline script");
    if (tag === "details" && !el.classList.contains("webhook-payload") && !el.classList.contains("headers")
        && el.id !== "whitelist-more") {
      found.push("details");
    }
  }
  return found;
}
"""


class StackAws:
    """The local stack's moto, as `/_local/aws` names it: the webhook log's table."""

    def __init__(self, stack: LocalStack) -> None:
        where = stack.get("/_local/aws").json()
        options = {
            "endpoint_url": where["endpoint"],
            "region_name": where["region"],
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.log = DynamoWebhookLog(boto3.client("dynamodb", **options), where["tables"][names.MESSAGES.logical])


def _arrived(stack: LocalStack, event_id: str) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = stack.get("/_local/receiver/requests.json").json()["requests"]
    return [r for r in requests if r["eventId"] == event_id]


def _wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _attempt(event: WebhookEvent, *, url: str, status: int | None, answer: str, error: str | None, n: int) -> Any:
    return WebhookAttempt(
        attempt_id=f"att_{uuid.uuid4().hex[:12]}",
        event_id=event.event_id,
        kind=event.kind,
        url=url,
        at_ms=int(time.time() * 1000) + n,
        status=status,
        latency_ms=40 + n,
        error=error,
        answer=answer,
        payload=event.payload,
        will_retry=status is None or status >= 500,
    )


def _event(key_hash: str, payload: str, kind: WebhookKind = WebhookKind.INBOUND) -> WebhookEvent:
    return WebhookEvent(
        event_id=new_event_id(),
        key_hash=key_hash,
        kind=kind,
        payload=payload,
        created_at_ms=int(time.time() * 1000),
        ttl=int(time.time()) + 2 * 86400,
    )


def _key_hash(key: str) -> str:
    from trialgw.keys import hash_key

    return hash_key(key)


def _record_dialogs(dialogs: list[str]) -> Callable[[Page], None]:
    """A page setup that records into `dialogs` every alert/confirm/prompt (dismissed, so nothing hangs)."""

    def _setup(page: Page) -> None:
        def _on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", _on_dialog)

    return _setup


def test_configure_secret_test_event_log_and_replay(open_page: OpenPage, local_stack: LocalStack) -> None:
    from playwright.sync_api import expect

    aws = StackAws(local_stack)
    key = local_stack.sign_up("Webhook Tester")
    auth = {"Authorization": f"Bearer {key}"}
    opened = open_page(path=f"/dashboard/#{key}")
    page = opened.page
    page.wait_for_selector("#webhooks", state="visible")
    # No secret yet: the page says events go unsigned.
    assert page.locator("#secret-warning").is_visible()
    assert "unsigned until you create a secret" in page.locator("#secret-warning").inner_text()
    assert page.locator("#secret-create").inner_text() == "Create signing secret"

    # A refused URL: the API's message, shown next to its field.
    refused = "https://169.254.169.254/latest/meta-data/"
    expected = local_stack.request(
        "PUT", "/dashboard-api/webhooks", json_body={"inboundUrl": refused, "statusUrl": None}, headers=auth
    ).json()["message"]
    page.fill("#webhook-inbound", refused)
    page.click("#webhooks-save")
    error = page.locator("#webhook-inbound-error")
    error.wait_for(state="visible")
    assert "inboundUrl: " + error.inner_text() == expected
    assert page.get_attribute("#webhook-inbound", "aria-invalid") == "true"
    assert local_stack.get("/dashboard-api/webhooks", headers=auth).json()["inboundUrl"] is None

    # The receiver's URL, saved.
    inbound = f"{local_stack.url.rstrip('/')}/_local/receiver/inbound"
    page.fill("#webhook-inbound", inbound)
    page.click("#webhooks-save")
    expect(page.locator("#webhooks-result")).to_have_text("Saved.")
    assert page.locator("#webhook-inbound-error").is_hidden()
    assert local_stack.get("/dashboard-api/webhooks", headers=auth).json() == {
        "inboundUrl": inbound,
        "statusUrl": None,
        "hasSecret": False,
    }

    # A signing secret, shown this once.
    page.click("#secret-create")
    page.locator("#secret-shown").wait_for(state="visible")
    secret = page.locator("#secret-value").inner_text()
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)
    assert page.locator("#secret-warning").is_hidden()
    assert page.locator("#secret-create").inner_text() == "Rotate signing secret"
    assert local_stack.get("/dashboard-api/webhooks", headers=auth).json()["hasSecret"] is True

    # A test event: the webhook worker posts it to the receiver, signed, and logs the attempt.
    page.click("#webhook-test")
    expect(page.locator("#webhook-test-result")).to_contain_text("queued")
    match = EVENT_ID.search(page.locator("#webhook-test-result").inner_text())
    assert match is not None
    event_id = match.group(0)
    [arrived] = _wait_for(lambda: _arrived(local_stack, event_id), "the test event at the receiver")
    assert "This is a test event from the" in json.loads(arrived["body"])["message"]["text"]
    assert arrived["kind"] == "test"
    assert arrived["signed"] is True

    def logged_row() -> Any:
        page.click("#webhook-log-refresh")
        page.wait_for_timeout(300)
        rows = page.locator("#webhook-log-rows tr", has_text="test")
        return rows if rows.count() else None

    real = _wait_for(logged_row, "the test event's attempt in the log")
    assert "HTTP 200" in real.first.inner_text()
    assert inbound in real.first.inner_text()

    # How the log shows attempts that failed (written here, as the worker writes them, for an event the worker never
    # had): newest first, with what will be retried.
    event = _event(_key_hash(key), json.dumps({"message": {"text": "hello"}}), WebhookKind.INBOUND)
    first = _attempt(event, url=inbound, status=500, answer="Internal Server Error", error=None, n=0)
    second = _attempt(event, url=inbound, status=None, answer="", error="timed out after 5 s", n=1)
    aws.log.record_attempt(first, event)
    aws.log.record_attempt(second, event)
    page.click("#webhook-log-refresh")
    row = page.locator(f'tr[data-attempt-id="{second.attempt_id}"]')
    row.wait_for(state="visible")
    ids = page.eval_on_selector_all("#webhook-log-rows tr", "rows => rows.map(r => r.dataset.attemptId)")
    assert ids.index(second.attempt_id) < ids.index(first.attempt_id)
    assert "timed out after 5 s (will retry)" in row.inner_text()
    older = page.locator(f'tr[data-attempt-id="{first.attempt_id}"]')
    assert "HTTP 500 (will retry)" in older.inner_text()
    assert "Internal Server Error" in older.inner_text()
    assert "40 ms" in older.inner_text()
    older.locator("summary").click()
    assert json.loads(older.locator("details pre").inner_text()) == {"message": {"text": "hello"}}

    # One Replay per event (the test event's and this one's), on its newest row; a replay posts the logged event again
    # under its id, and its attempt joins the log.
    assert older.locator("button.webhook-replay").count() == 0
    assert page.locator("button.webhook-replay", has_text="Replay").count() == 2
    row.locator("button.webhook-replay").click()
    expect(page.locator("#webhook-test-result")).to_contain_text("queued again")
    [again] = _wait_for(lambda: _arrived(local_stack, event.event_id), "the replayed event at the receiver")
    assert json.loads(again["body"]) == {"message": {"text": "hello"}}

    def replay_logged() -> Any:
        page.click("#webhook-log-refresh")
        page.wait_for_timeout(300)
        newest = page.locator("#webhook-log-rows tr").first
        return (
            newest
            if event.event_id in (newest.locator("button.webhook-replay").get_attribute("data-focus-id") or "")
            else None
        )

    newest = _wait_for(replay_logged, "the replay's attempt in the log")
    assert "HTTP 200" in newest.inner_text()
    assert page.locator("button.webhook-replay", has_text="Replay").count() == 2

    # Shown once: a fresh page has no secret to show.
    page.reload(wait_until="networkidle")
    page.wait_for_selector("#webhooks", state="visible")
    assert page.locator("#secret-shown").is_hidden()
    assert page.locator("#secret-warning").is_hidden()
    assert page.input_value("#webhook-inbound") == inbound
    opened.problems.assert_clean(allowed_statuses=(400,))


def test_older_attempts_load_a_page_at_a_time(open_page: OpenPage, local_stack: LocalStack) -> None:
    from playwright.sync_api import expect

    aws = StackAws(local_stack)
    key = local_stack.sign_up("Webhook Pager")
    event = _event(_key_hash(key), "{}")
    attempts = [
        _attempt(event, url="http://127.0.0.1:9/hook", status=200, answer=f"answer {n}", error=None, n=n)
        for n in range(52)
    ]
    for attempt in attempts:
        aws.log.record_attempt(attempt, event)
    opened = open_page(path=f"/dashboard/#{key}")
    page = opened.page
    page.wait_for_selector("#webhook-log-table", state="visible")
    assert page.locator("#webhook-log-rows tr").count() == 50
    page.click("#webhook-log-older")
    expect(page.locator("#webhook-log-rows tr")).to_have_count(52)
    assert page.locator("#webhook-log-older").is_hidden()
    shown = page.eval_on_selector_all("#webhook-log-rows tr", "rows => rows.map(r => r.dataset.attemptId)")
    assert shown == [a.attempt_id for a in reversed(attempts)]
    opened.problems.assert_clean()


def test_hostile_urls_answers_errors_and_payloads_stay_text(open_page: OpenPage, local_stack: LocalStack) -> None:
    aws = StackAws(local_stack)
    key = local_stack.sign_up("Webhook Hostile")
    written = []
    for n, hostile in enumerate(XSS):
        event = _event(_key_hash(key), json.dumps({"text": hostile.text}, ensure_ascii=False))
        attempt = _attempt(
            event,
            url="http://127.0.0.1:9/" + hostile.text,
            status=None if n % 2 else 502,
            answer=hostile.text,
            error=hostile.text if n % 2 else None,
            n=n,
        )
        aws.log.record_attempt(attempt, event)
        written.append((attempt, hostile.text))
    dialogs: list[str] = []
    opened = open_page(path=f"/dashboard/#{key}", setup=_record_dialogs(dialogs))
    page = opened.page
    page.wait_for_selector("#webhook-log-table", state="visible")
    for attempt, text in written:
        row = page.locator(f'tr[data-attempt-id="{attempt.attempt_id}"]')
        assert row.locator(".webhook-url").text_content() == "http://127.0.0.1:9/" + text
        assert row.locator(".webhook-answer").text_content() == text
        if attempt.error is not None:
            assert row.locator(".webhook-result").text_content() == text + " (will retry)"
        row.locator("summary").click()
        assert json.loads(row.locator("details pre").text_content() or "") == {"text": text}
    assert dialogs == []
    assert page.evaluate(f"typeof window.{PWNED}") == "undefined"
    assert page.evaluate(_INJECTED_MARKUP) == []
    opened.problems.assert_clean()


def test_the_receiver_page_lists_calls_and_checks_their_signature(open_page: OpenPage, local_stack: LocalStack) -> None:
    from playwright.sync_api import expect

    secret = "whsec_" + "k" * 43
    hostile = XSS[0].text
    body = json.dumps({"message": {"text": hostile}, "n": uuid.uuid4().hex}).encode()
    event_id = new_event_id()
    headers = {
        "Content-Type": "application/json",
        "X-Trial-Event-Id": event_id,
        "X-Trial-Event-Kind": "test",
        **signed_headers(secret, int(time.time()), body),
    }
    answer = local_stack.request("POST", "/_local/receiver/inbound", body=body, headers=headers)
    assert answer.status == 200
    failing = f"status-{uuid.uuid4().hex[:8]}"
    assert local_stack.request("POST", f"/_local/receiver/{failing}?status=500", body=b"{}").status == 500
    dialogs: list[str] = []
    opened = open_page(path="/_local/receiver", setup=_record_dialogs(dialogs))
    page = opened.page
    item = page.locator(".request", has_text=event_id)
    item.wait_for(state="visible")
    assert hostile in (item.locator(".request-body").text_content() or "")
    assert item.locator(".verdict").get_attribute("data-verdict") == "no secret"
    page.fill("#secret", secret)
    expect(page.locator(".request", has_text=event_id).locator(".verdict")).to_have_attribute("data-verdict", "valid")
    page.fill("#secret", "whsec_" + "x" * 43)
    expect(page.locator(".request", has_text=event_id).locator(".verdict")).to_have_attribute("data-verdict", "invalid")
    # The unsigned call that asked for a 500 is listed too, before (newer than) the signed one.
    names_shown = page.eval_on_selector_all(".request-name", "names => names.map(n => n.textContent)")
    assert names_shown.index(f"/_local/receiver/{failing}") < names_shown.index("/_local/receiver/inbound")
    unsigned = page.locator(".request", has_text=f"/_local/receiver/{failing}")
    assert "answered 500" in unsigned.inner_text()
    assert unsigned.locator(".verdict").get_attribute("data-verdict") == "unsigned"
    assert dialogs == []
    assert page.evaluate(f"typeof window.{PWNED}") == "undefined"
    assert page.evaluate(_INJECTED_MARKUP) == []
    opened.problems.assert_clean()
