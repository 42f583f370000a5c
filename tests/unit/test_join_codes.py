"""Join codes (`join amber-fox-river-482`): made from the key, read back however a phone typed them, whitelisting
like the key; and the QR codes of the contact points' links with the code typed in."""

from __future__ import annotations

import base64
import math
import re
import uuid

import pytest
import segno

from tests.fakes import (
    FakeClock,
    FakeMailer,
    FakeSignupCounter,
    FakeTrialStore,
)
from trialgw.join_codes import (
    NUMBER_COUNT,
    WORDS,
    find_join_code,
    hash_join_code,
    join_code,
    join_text,
)
from trialgw.keys import hash_key
from trialgw.logic import signup as signup_logic
from trialgw.logic.signup import SignupDeps, sign_up
from trialgw.logic.trial_email import contact_points, render_trial_email
from trialgw.models import Trial
from trialgw.qr import qr_data_url, qr_svg
from trialgw.settings import SignupSettings
from trialgw.signup_input import SignupRequest
from trialgw.urls import page_link

NOW = 1_800_000_000
CODE = re.compile(r"^[a-z]{3,7}-[a-z]{3,7}-[a-z]{3,7}-[1-9]\d\d$")
KEY = "7f1c2a9e-3b4d-4e5f-8a6b-1c2d3e4f5a6b"


def test_the_word_list_is_256_distinct_short_lowercase_words():
    assert len(WORDS) == 256
    assert len(set(WORDS)) == 256
    assert all(re.fullmatch(r"[a-z]{3,7}", word) for word in WORDS)


def test_the_codes_carry_enough_entropy_that_guessing_is_impractical():
    # docs/design-decisions.md "Join codes": 3 x 8 bits and 900 numbers, about 33.8 bits.
    assert math.log2(len(WORDS) ** 3 * NUMBER_COUNT) > 33.5


def test_a_key_always_has_the_same_code_and_the_code_shows_nothing_of_the_key():
    code = join_code(KEY)
    assert CODE.match(code)
    assert join_code(KEY.upper()) == code
    assert join_code(f"  {KEY} ") == code
    assert join_text(KEY) == f"join {code}"
    assert not any(part in KEY for part in code.split("-"))


def test_different_keys_get_different_codes():
    codes = {join_code(str(uuid.uuid4())) for _ in range(2000)}
    assert len(codes) == 2000


@pytest.mark.parametrize(
    "typed",
    [
        "join amber-fox-river-482",
        "JOIN AMBER-FOX-RIVER-482",
        "Join amber fox river 482",
        "  join   amber  fox   river 482  ",
        "amber-fox-river-482",
        "amber fox river 482.",
        "join amber_fox_river_482!",
        "join amber.fox.river.482",
        "join amber-fox-river482",
        "ｊｏｉｎ ａｍｂｅｒ-ｆｏｘ-ｒｉｖｅｒ-４８２",
    ],
)
def test_a_code_is_read_however_a_phone_typed_it(typed):
    assert find_join_code(typed) == "amber-fox-river-482"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "join",
        "join amber-fox-482",
        "join amber-fox-river-48",
        "join amber-fox-river-4821",
        "join amber-fox-rivers-482",  # not a word of the list
        "join amber-fax-river-482",
        "see you at the river amber fox river 482 tomorrow",  # a code inside other text is an ordinary message
        "join amber-fox-river-482 " + "x" * 100,
    ],
)
def test_anything_else_is_no_code(text):
    assert find_join_code(text) is None


def test_the_lookup_hash_is_the_codes_sha256():
    assert re.fullmatch(r"[0-9a-f]{64}", hash_join_code("amber-fox-river-482"))
    assert hash_join_code("amber-fox-river-482") != hash_join_code("amber-fox-river-483")


# Sign-up stores the code's lookup item with the trial, and draws another key when a code is taken.


def test_sign_up_stores_the_codes_lookup_item_and_mails_the_code():
    trials, mailer = FakeTrialStore(), FakeMailer()
    deps = SignupDeps(trials=trials, counter=FakeSignupCounter(), mailer=mailer, clock=FakeClock(NOW))
    sign_up(SignupRequest(name="Jane", email="jane@example.com"), SignupSettings(), deps)
    (mail,) = mailer.sent
    code = re.search(r"join ([a-z]+-[a-z]+-[a-z]+-\d{3})", mail.text)
    assert code is not None
    assert f"join {code.group(1)}" in mail.html
    (key_hash,) = trials.trials
    assert trials.joins == {hash_join_code(code.group(1)): key_hash}


def test_a_taken_code_draws_another_key():
    trials = FakeTrialStore()
    deps = SignupDeps(trials=trials, counter=FakeSignupCounter(), mailer=FakeMailer(), clock=FakeClock(NOW))
    taken = iter([KEY, KEY, str(uuid.uuid4())])
    trials.joins[hash_join_code(join_code(KEY))] = "someone-else"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signup_logic, "new_key", lambda: next(taken))
        sign_up(SignupRequest(name="Jane", email="jane@example.com"), SignupSettings(), deps)
    assert len(trials.trials) == 1
    assert hash_key(KEY) not in trials.trials


# QR codes: the contact point's link with the join code typed in, as an SVG image.


def test_a_contact_points_join_link_carries_the_code_not_the_key():
    settings = SignupSettings(whatsapp_number="+31850000000")
    (whatsapp,) = [p for p in contact_points(settings, KEY) if p.channel == "WhatsApp"]
    assert whatsapp.join_link == f"https://wa.me/31850000000?text=join%20{join_code(KEY)}"
    assert KEY not in whatsapp.join_link
    assert KEY in whatsapp.link  # the key's link stays as the seed has it


def test_messengers_link_has_the_text_typed_in_and_instagrams_has_none():
    settings = SignupSettings(messenger_url="https://m.me/acme?ref=site", instagram_url="https://ig.me/m/acme")
    points = {p.channel: p for p in contact_points(settings, KEY)}
    messenger, instagram = points["Facebook Messenger"], points["Instagram"]
    # Meta documents `text` on m.me links; the page's own parameters are kept.
    assert messenger.link == f"https://m.me/acme?ref=site&text={KEY}"
    assert messenger.join_link == f"https://m.me/acme?ref=site&text=join%20{join_code(KEY)}"
    # ig.me takes only a `ref`, which arrives as a referral event, not a message: nothing is typed in.
    assert instagram.link == instagram.join_link == "https://ig.me/m/acme"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://m.me/acme", "https://m.me/acme?text=join%20x"),
        ("https://M.ME/acme?text=old", "https://M.ME/acme?text=join%20x"),
        ("http://m.me/acme", "http://m.me/acme"),
        ("https://m.me.evil.example/acme", "https://m.me.evil.example/acme"),
        ("https://example.com/m.me", "https://example.com/m.me"),
    ],
)
def test_only_an_https_m_me_link_takes_text(url: str, expected: str) -> None:
    assert page_link(url, "join x") == expected


def test_the_qr_code_is_a_standalone_svg_of_exactly_the_link():
    link = f"https://wa.me/31850000000?text=join%20{join_code(KEY)}"
    svg = qr_svg(link).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in svg
    assert "href" not in svg
    url = qr_data_url(link)
    assert url.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).decode() == svg
    # The symbol is segno's own for the link: its matrix drawn as the SVG's path (the browser test decodes the image).
    assert (
        segno.make_qr(link, error="m", boost_error=False)
        .svg_inline(scale=4, dark="#000", light="#fff")
        .split('stroke="#000" d="')[1]
        in svg
    )


def test_the_email_shows_the_code_in_text_and_html_and_no_svg():
    settings = SignupSettings()
    trial = Trial(hash_key(KEY), "Jane", "jane@example.com", None, NOW, NOW + 86400)
    mail = render_trial_email(trial, KEY, settings)
    assert f"join {join_code(KEY)}" in mail.text
    assert f"join {join_code(KEY)}" in mail.html
    # Mail clients block SVG and data: images: the e-mail points to the dashboard's QR codes instead.
    assert "<svg" not in mail.html
    assert "data:image" not in mail.html
