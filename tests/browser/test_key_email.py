"""The key e-mail's HTML part in real Chromium at a phone's width, from the local stack's mailbox.

Locally the contact points are the trial company's real ones, which never reach the stack: the e-mail links the
simulated phone (`/_local/phone`) beside each, with the channel and the key filled in, and that page opens so.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390


def _key_mail(local_stack: LocalStack) -> dict[str, str]:
    email = f"browser-mail-{uuid.uuid4().hex[:10]}@example.com"
    # A long name without a space: what the person typed must wrap too.
    answer = local_stack.post_json("/signup", {"name": "Maximiliana " + "W" * 60, "email": email})
    assert answer.status == 202, answer.text
    [mail] = local_stack.mail(to=email)
    return mail


def test_the_key_email_reads_on_a_390px_phone_and_links_the_simulated_phone(
    browser: Browser, local_stack: LocalStack
) -> None:
    mail = _key_mail(local_stack)
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, java_script_enabled=False)
    try:
        page = context.new_page()
        # No request leaves for anything: the HTML part holds no image, style sheet or script.
        page.route("**/*", lambda route: route.abort())
        page.set_content(mail["html"])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_WIDTH, f"the e-mail is {width} px wide on a {PHONE_WIDTH} px phone"
        assert page.evaluate("document.body.scrollWidth") <= PHONE_WIDTH
        hrefs = [a.get_attribute("href") or "" for a in page.locator("a").all()]
    finally:
        context.close()
    local = [h for h in hrefs if h.startswith(f"{local_stack.url}/_local/phone#")]
    channels = {parse_qs(urlsplit(h).fragment)["channel"][0] for h in local}
    assert {"WhatsApp", "SMS", "Facebook Messenger", "Instagram"} <= channels, hrefs
    keys = {parse_qs(urlsplit(h).fragment)["text"][0] for h in local}
    assert len(keys) == 1
    assert keys.pop() in mail["text"]
    assert "runs on a local stack" in mail["html"]


def test_the_simulated_phone_opens_on_the_linked_channel_with_the_key_typed_in(
    open_page: OpenPage, local_stack: LocalStack
) -> None:
    mail = _key_mail(local_stack)
    link = next(
        line.split(": ", 1)[1]
        for line in mail["text"].splitlines()
        if "Simulated phone" in line and "channel=Facebook%20Messenger" in line
    )
    key = parse_qs(urlsplit(link).fragment)["text"][0]
    opened = open_page("phone", path=link.removeprefix(local_stack.url))
    page = opened.page
    page.wait_for_function("document.getElementById('text').value !== ''")
    assert page.input_value("#channel") == "Facebook Messenger"
    assert page.input_value("#text") == key
    # Read once and dropped: a reload or a bookmark does not type the key again.
    assert urlsplit(page.url).fragment == ""
    opened.problems.assert_clean()
