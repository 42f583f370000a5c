"""The signup page in real Chromium against the local stack: the form, its outcomes, phone layout, CSP."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

KEY_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _unique_email(label: str) -> str:
    return f"browser-{label}-{uuid.uuid4().hex[:10]}@example.com"


def _fill(page: Page, *, name: str, email: str, company: str = "", consent: bool = True) -> None:
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#company", company)
    page.set_checked("#consent", consent)


def _mail_to(local_stack: LocalStack, address: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The e-mails the local stack sent to `address`, waiting a little for the first one."""
    deadline = time.monotonic() + timeout
    while not (mails := local_stack.mail(to=address)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return mails


def _field_error(page: Page, field: str) -> str:
    """The visible message of `field`, after checking it is wired to the input for assistive tech."""
    error = page.locator(f"#{field}-error")
    assert error.is_visible(), f"no visible error for {field}"
    control = page.locator(f"#{field}")
    assert control.get_attribute("aria-invalid") == "true"
    assert f"{field}-error" in (control.get_attribute("aria-describedby") or "").split()
    return error.inner_text().strip()


def _no_field_error(page: Page, field: str) -> None:
    assert page.locator(f"#{field}-error").is_hidden()
    control = page.locator(f"#{field}")
    assert control.get_attribute("aria-invalid") is None
    assert f"{field}-error" not in (control.get_attribute("aria-describedby") or "")


def _focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def _has_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            " || document.body.scrollWidth > window.innerWidth"
        )
    )


def test_signup_shows_confirmation_and_sends_the_key(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path
) -> None:
    opened = open_page("desktop")
    page = opened.page
    page.screenshot(path=artifacts / "signup-desktop.png", full_page=True)
    email = _unique_email("ok")

    _fill(page, name="Ada Lovelace", email=email, company="Analytical Engines Ltd")
    page.click("#submit")

    done = page.locator("#done")
    done.wait_for(state="visible")
    assert page.locator("#signup-form").is_hidden()
    assert "Check your inbox" in page.locator("#done-title").inner_text()
    assert _focused_id(page) == "done-title"
    masked = page.locator("#done-email").inner_text().strip()
    assert masked
    assert "@" in masked
    assert masked != email, "the page shows the address the API masked"
    # The expiry is shown in the reader's time and carries the machine-readable instant.
    instant = page.locator("#done-expiry").get_attribute("datetime")
    assert instant, "the expiry carries its ISO instant"
    expiry = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert now < expiry <= now + timedelta(hours=24, minutes=5)
    text = done.inner_text()
    assert "24 hours" in text
    assert "spam" in text
    assert "Whitelist" in text
    assert "Check your inbox" in page.locator("#status").inner_text()
    page.screenshot(path=artifacts / "signup-desktop-confirmation.png", full_page=True)

    assert opened.problems.signup_posts == [
        {"name": "Ada Lovelace", "email": email, "company": "Analytical Engines Ltd", "consent": True}
    ]
    mails = _mail_to(local_stack, email)
    assert len(mails) == 1, f"expected one e-mail to {email}, got {mails}"
    assert mails[0]["subject"]
    assert KEY_PATTERN.search(mails[0]["text"]), "the e-mail carries a trial key"
    opened.problems.assert_clean()


def test_empty_submit_shows_errors_next_to_the_fields(open_page: OpenPage, artifacts: Path) -> None:
    opened = open_page("phone")
    page = opened.page

    page.click("#submit")

    assert _field_error(page, "name")
    assert "e-mail" in _field_error(page, "email").lower()
    assert _field_error(page, "consent")
    _no_field_error(page, "company")
    assert _focused_id(page) == "name"
    assert page.locator("#status").inner_text().strip()
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "signup-phone-errors.png", full_page=True)

    # Typing a valid value clears that field's message; the others stay.
    page.fill("#name", "Grace Hopper")
    _no_field_error(page, "name")
    assert _field_error(page, "email")

    assert opened.problems.signup_posts == []
    opened.problems.assert_clean()


def test_invalid_email_is_flagged_on_blur_and_never_sent(open_page: OpenPage) -> None:
    opened = open_page("desktop")
    page = opened.page

    page.fill("#name", "Grace Hopper")
    page.fill("#email", "grace.example.com")
    page.locator("#email").blur()
    assert "valid e-mail" in _field_error(page, "email")

    page.check("#consent")
    page.click("#submit")
    assert _focused_id(page) == "email"
    assert opened.problems.signup_posts == []

    page.fill("#email", "grace@example.com")
    _no_field_error(page, "email")
    opened.problems.assert_clean()


def test_server_field_errors_show_next_to_the_field(open_page: OpenPage) -> None:
    """An address the page lets through but the server rejects: the server's 422 message lands on the field."""
    opened = open_page("desktop")
    page = opened.page

    _fill(page, name="Grace Hopper", email=f"grace..{uuid.uuid4().hex[:8]}@example.com")
    page.click("#submit")

    page.locator("#email-error").wait_for(state="visible")
    assert _field_error(page, "email")
    assert _focused_id(page) == "email"
    assert len(opened.problems.signup_posts) == 1
    # The form can be sent again after an error.
    assert page.locator("#submit").is_enabled()
    assert page.locator("#signup-form").is_visible()
    opened.problems.assert_clean(allowed_statuses=(422,))


def test_fourth_signup_within_the_window_is_rate_limited(
    open_page: OpenPage, local_stack: LocalStack, artifacts: Path
) -> None:
    opened = open_page("phone")
    page = opened.page
    email = _unique_email("limit")
    _fill(page, name="Rita Limit", email=email)

    for _ in range(3):
        page.click("#submit")
        page.locator("#done").wait_for(state="visible")
        # Back to the form; the values are kept.
        page.click("#again")
        page.locator("#signup-form").wait_for(state="visible")
        assert page.input_value("#email") == email

    page.click("#submit")
    status = page.locator("#status")
    status.get_by_text("Too many sign-ups").wait_for()
    text = status.inner_text()
    # The API's own words: which limit, and how long (the mailbox limit counts per day).
    assert "Too many sign-ups for this e-mail address." in text
    match = re.search(r"try again in (\d+) (minutes?|hours)", text)
    assert match, f"no wait time in {text!r}"
    assert 1 <= int(match.group(1)) <= (24 if match.group(2) == "hours" else 120)
    assert page.locator("#done").is_hidden()
    assert page.locator("#submit").is_enabled()
    assert not _has_horizontal_scroll(page)
    page.screenshot(path=artifacts / "signup-phone-rate-limited.png", full_page=True)

    assert len(opened.problems.signup_posts) == 4
    assert len(_mail_to(local_stack, email)) == 3
    opened.problems.assert_clean(allowed_statuses=(429,))


def test_phone_layout_has_no_horizontal_scroll_and_large_targets(open_page: OpenPage, artifacts: Path) -> None:
    opened = open_page("phone")
    page = opened.page
    page.screenshot(path=artifacts / "signup-phone.png", full_page=True)

    assert not _has_horizontal_scroll(page)
    width = page.evaluate("window.innerWidth")
    tops = []
    for selector in ("#name", "#email", "#company", "#consent", "#submit"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
        if selector != "#consent":
            assert box["height"] >= 44, f"{selector} is {box['height']}px tall"
        tops.append(box["y"])
    # One column: each control sits below the previous one.
    assert tops == sorted(tops)
    # The consent box is small, but its label is part of the tap target.
    label = page.locator("label[for=consent]").bounding_box()
    assert label is not None
    assert label["height"] >= 44
    opened.problems.assert_clean()


def test_keyboard_only_signup(open_page: OpenPage, artifacts: Path) -> None:
    opened = open_page("desktop")
    page = opened.page
    email = _unique_email("keys")

    page.locator("#name").focus()
    page.keyboard.type("Katherine Johnson")
    page.keyboard.press("Tab")
    assert _focused_id(page) == "email"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert _focused_id(page) == "company"
    page.keyboard.press("Tab")
    assert _focused_id(page) == "consent"
    # The focused control is visibly marked.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Space")
    assert page.is_checked("#consent")
    page.keyboard.press("Tab")
    assert _focused_id(page) == "submit"
    page.screenshot(path=artifacts / "signup-desktop-keyboard-focus.png")
    page.keyboard.press("Enter")

    page.locator("#done").wait_for(state="visible")
    assert opened.problems.signup_posts[0]["email"] == email
    opened.problems.assert_clean()


@dataclass(frozen=True)
class Answer:
    """An API answer the real stack cannot be made to give on demand; None status means the network fails."""

    status: int | None
    body: str = ""
    retry_after: str | None = None


ANSWERS = {
    "unavailable": (Answer(503, '{"message": "x", "code": "unavailable"}', "30"), "temporarily unavailable"),
    "bad_request": (
        Answer(400, '{"message": "The request could not be read.", "code": "invalid_json"}'),
        "The request could not be read.",
    ),
    "server_error": (Answer(500, "Internal Server Error"), "HTTP 500"),
    # WAF's own 429 names no limit: the wait comes from Retry-After.
    "rate_limited": (Answer(429, '{"code": "rate_limited"}', "90"), "try again in 2 minutes"),
    "rate_limited_for_hours": (Answer(429, "", "36000"), "try again in 10 hours"),
    "network_limited": (
        Answer(
            429,
            '{"message": "Too many sign-ups from your network. Please try again in 3 hours.", "code": '
            '"rate_limited", "limit": "ip"}',
            "10800",
        ),
        "Too many sign-ups from your network. Please try again in 3 hours.",
    ),
    "another_site": (
        Answer(403, '{"message": "This request came from another web site.", "code": "forbidden_origin"}'),
        "This request came from another web site.",
    ),
    "not_json": (
        Answer(415, '{"message": "Send the request as JSON.", "code": "unsupported_media_type"}'),
        "Send the request as JSON.",
    ),
    "network_failure": (Answer(None), "could not be reached"),
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_error_answers_are_explained_and_the_form_can_be_sent_again(open_page: OpenPage, case: str) -> None:
    opened = open_page("desktop")
    page = opened.page
    answer, expected = ANSWERS[case]

    # Only the first POST is intercepted; the retry goes to the real stack.
    def _first_post(route: Route) -> None:
        if answer.status is None:
            route.abort("internetdisconnected")
            return
        headers = {"Content-Type": "application/json" if answer.body.startswith("{") else "text/plain"}
        if answer.retry_after:
            headers["Retry-After"] = answer.retry_after
        route.fulfill(status=answer.status, headers=headers, body=answer.body)

    page.route("**/signup", _first_post, times=1)
    _fill(page, name="Mary Jackson", email=_unique_email(case))
    page.click("#submit")

    status = page.locator("#status")
    status.get_by_text(expected, exact=False).wait_for()
    assert status.get_attribute("role") == "status"
    assert page.locator("#submit").is_enabled()
    assert page.locator("#done").is_hidden()

    # The second attempt reaches the real stack and succeeds.
    page.click("#submit")
    page.locator("#done").wait_for(state="visible")
    assert len(opened.problems.signup_posts) == 2
    opened.problems.assert_clean(allowed_statuses=(400, 403, 415, 429, 500, 503), network_failure=answer.status is None)


def test_server_field_errors_from_a_422_land_on_each_field(open_page: OpenPage) -> None:
    opened = open_page("desktop")
    page = opened.page
    body = {
        "message": "Some fields are not valid.",
        "code": "invalid_fields",
        "fields": {"email": "This address <b>bounced</b>.", "name": "Name too odd."},
    }
    page.route("**/signup", lambda route: route.fulfill(status=422, json=body), times=1)
    _fill(page, name="Dorothy Vaughan", email=_unique_email("fields"))
    page.click("#submit")

    page.locator("#name-error").wait_for(state="visible")
    assert _field_error(page, "name") == "Name too odd."
    # Server text is shown as text, never parsed as markup.
    assert _field_error(page, "email") == "This address <b>bounced</b>."
    _no_field_error(page, "company")
    assert _focused_id(page) == "name"
    opened.problems.assert_clean(allowed_statuses=(422,))


# The human check (AWS WAF Challenge) as the page meets it in AWS: config.json names WAF's SDK, the page loads it
# and sends the sign-up through the SDK's fetch, which adds the token WAF asks for. Locally config.json names no
# SDK; here it names a stand-in served from the page's own origin (the CSP's 'self'), which records its calls and
# adds the header as the real one does.
FAKE_WAF_SDK = """
window.__wafCalls = [];
window.AwsWafIntegration = {
  getToken: function () { return Promise.resolve("waf-token-123"); },
  hasToken: function () { return true; },
  fetch: function (url, init) {
    window.__wafCalls.push(url);
    const headers = Object.assign({}, (init && init.headers) || {}, { "x-aws-waf-token": "waf-token-123" });
    return window.fetch(url, Object.assign({}, init, { headers: headers }));
  },
};
"""


def _with_human_check(local_stack: LocalStack, *, script_loads: bool) -> Callable[[Page], None]:
    config = local_stack.get("/config.json").json()
    script_url = local_stack.url.rstrip("/") + "/waf-sdk/challenge.js"

    def setup(page: Page) -> None:
        page.route("**/config.json", lambda route: route.fulfill(json={**config, "wafChallengeScriptUrl": script_url}))
        if script_loads:
            page.route(
                "**/waf-sdk/challenge.js",
                lambda route: route.fulfill(content_type="application/javascript", body=FAKE_WAF_SDK),
            )
        else:
            page.route("**/waf-sdk/challenge.js", lambda route: route.abort("connectionrefused"))

    return setup


def test_with_the_human_check_on_the_sign_up_goes_through_wafs_sdk_with_its_token(
    open_page: OpenPage, local_stack: LocalStack
) -> None:
    opened = open_page("desktop", setup=_with_human_check(local_stack, script_loads=True))
    page = opened.page
    tokens: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            tokens.append(request.headers.get("x-aws-waf-token"))
            if request.method == "POST" and request.url.endswith("/signup")
            else None
        ),
    )
    _fill(page, name="Annie Easley", email=_unique_email("waf"))
    page.click("#submit")
    page.locator("#done").wait_for(state="visible")
    assert page.evaluate("window.__wafCalls") == [str(opened.problems.origin) + "/signup"]
    assert tokens == ["waf-token-123"]
    opened.problems.assert_clean()


def test_when_the_human_check_cannot_load_nothing_is_sent_and_the_page_says_why(
    open_page: OpenPage, local_stack: LocalStack
) -> None:
    opened = open_page("desktop", setup=_with_human_check(local_stack, script_loads=False))
    page = opened.page
    _fill(page, name="Annie Easley", email=_unique_email("waf-down"))
    page.click("#submit")
    page.locator("#status").get_by_text("The sign-up check could not be loaded.").wait_for()
    assert opened.problems.signup_posts == []
    assert page.locator("#submit").is_enabled()
    opened.problems.assert_clean(network_failure=True)


def test_the_limits_are_the_ones_trial_json_configures(open_page: OpenPage, local_stack: LocalStack) -> None:
    served = local_stack.get("/trial.json").json()
    assert served["maxRecipients"] == 10
    page_default = open_page("desktop").page.locator(".limits").inner_text()
    assert "10 messages each on SMS and WhatsApp, 30 on each other channel." in page_default
    rules = {
        **served,
        "lifetime": "2 hours",
        "maxRecipients": 1,
        "channels": [*served["channels"], {"name": "Telegram", "short": "Telegram", "regional": False}],
        "quotaGroups": [
            {"quota": 5, "channels": ["SMS"], "shared": False},
            {"quota": 7, "channels": ["WhatsApp"], "shared": False},
            {"quota": 9, "channels": ["Facebook Messenger", "Instagram", "Telegram"], "shared": True},
        ],
        "sms": {"maxParts": 1, "gsm7Chars": 144, "unicodeChars": 63},
    }

    def setup(page: Page) -> None:
        page.route("**/trial.json", lambda route: route.fulfill(json=rules))

    opened = open_page("desktop", setup=setup)
    page = opened.page
    limits = page.locator(".limits")
    page.wait_for_function("document.querySelector('.limits').innerText.includes('2 hours')")
    text = limits.inner_text()
    assert "expire after 2 hours." in text
    assert "Up to 1 recipient, one recipient per message" in text
    assert "5 messages on SMS, 7 on WhatsApp, 9 on each other channel." in text
    assert "SMS: at most 1 part (144 plain or 63 Unicode characters)." in text
    assert page.locator("#page-title").inner_text() == "Try the API free for 2\u00a0hours"
    assert page.locator("#rule-channels").inner_text() == "SMS, WhatsApp, Messenger, Instagram and Telegram"
    assert page.locator("#rule-whitelist-channels").inner_text() == "WhatsApp, Messenger, Instagram, Telegram or SMS"
    opened.problems.assert_clean()
