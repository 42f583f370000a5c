"""The dashboard's QR codes, decoded back in the test: each is its contact point's deep link with the join code typed
in (`wa.me`, `sms:`, the pages' links), and the code a phone sends from that link whitelists it, no reload needed.

Read with ZXing's reader (zxing-cpp, a dev dependency; the reader Android's scanners grew from) from a screenshot of
the `<img>` as Chromium drew it: what a phone's camera would read, not what the API meant to draw. OpenCV's reader,
used before, missed about one code in 50 that ZXing reads (800 of 800 in a run of random join codes).
"""

from __future__ import annotations

import random
import re
import time
import uuid
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import zxingcpp
from PIL import Image

if TYPE_CHECKING:
    from tests.browser.conftest import OpenPage
    from tests.conftest import LocalStack

pytestmark = pytest.mark.browser

JOIN = re.compile(r"join [a-z]+-[a-z]+-[a-z]+-\d{3}")


def _decode(png: bytes) -> str:
    with Image.open(BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    return found[0].text if found else ""


def _mail_to(local_stack: LocalStack, address: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (mails := local_stack.mail(to=address)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return mails


def test_each_qr_code_decodes_to_its_deep_link_and_its_code_whitelists(
    open_page: OpenPage, local_stack: LocalStack
) -> None:
    email = f"browser-qr-{uuid.uuid4().hex[:10]}@example.com"
    answer = local_stack.post_json("/signup", {"name": "Quinn QR", "email": email})
    assert answer.status < 300, answer.text
    [mail] = _mail_to(local_stack, email)
    link = re.findall(r"https?://\S+/dashboard/#\S+", mail["text"])[0]
    key = urlsplit(link).fragment
    [join] = set(JOIN.findall(mail["text"]))

    opened = open_page("desktop")
    page = opened.page
    page.goto(link)
    page.locator("#dashboard").wait_for(state="visible")
    empty = page.locator("#whitelist-empty")
    assert join in empty.locator(".join-code-note").inner_text()

    images = empty.locator("img.contact-qr")
    points = empty.locator(".contact-point")
    assert images.count() == points.count() >= 2
    decoded = []
    for index in range(images.count()):
        image = images.nth(index)
        assert (image.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
        text = _decode(image.screenshot())
        assert text, f"QR code {index} did not decode"
        assert key not in text
        decoded.append(text)
    whatsapp = [d for d in decoded if d.startswith("https://wa.me/")]
    sms = [d for d in decoded if d.startswith("sms:")]
    assert whatsapp
    assert sms
    for deep_link in whatsapp + sms:
        query = parse_qs(urlsplit(deep_link).query)
        assert unquote((query.get("text") or query.get("body") or [""])[0]) == join, deep_link

    # What the WhatsApp link types in, sent from the simulated phone, whitelists it: the row appears.
    phone = f"+316{random.randrange(10**8):08d}"
    sent = parse_qs(urlsplit(whatsapp[0]).query)["text"][0]
    answer = local_stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": phone, "text": sent})
    assert answer.status < 300, answer.text
    page.locator("#whitelist-rows tr", has_text=phone).wait_for(timeout=40_000)
    opened.problems.assert_clean()
