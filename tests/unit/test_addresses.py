"""Address normalization per channel, the trial-key finder and STOP detection."""

from __future__ import annotations

import pytest

from trialgw.addresses import STOP_WORDS, find_key, is_stop, normalize_address, normalize_phone, region_of
from trialgw.models import Channel

KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
OTHER_KEY = "00000000-1111-4222-8333-444444444444"


@pytest.mark.parametrize(
    "raw",
    [
        "+31612345678",
        "0031612345678",
        "31612345678",  # WhatsApp wa_id / bare international digits
        "+31 6 1234 5678",
        "+31-6-12345678",
        "+31 (0)6 12 34 56 78",  # the Dutch way of writing the trunk zero
        "0031 6 1234 5678",
        "  +31612345678\n",
        "+31\u00a0612\u00a0345\u00a0678",  # non-breaking spaces from copy/paste
        "+31.6.1234.5678",
    ],
)
def test_every_international_spelling_is_one_e164_number(raw):
    assert normalize_phone(raw) == "+31612345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (212) 555-1234", "+12125551234"),
        ("14165550123", "+14165550123"),
        ("+7 701 234 56 78", "+77012345678"),
        ("0079161234567", "+79161234567"),
        ("+39 06 1234 5678", "+390612345678"),  # Italy keeps its leading zero in E.164
        ("15551230001", "+15551230001"),  # fictional 555 numbers are possible, as Meta's test phones use them
    ],
)
def test_other_countries(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "0612345678",  # national form: no region to assume
        "06-12345678",
        "",
        "   ",
        "+",
        "00",
        "+31",
        "+0031612345678",
        "+999123456",  # no such country code
        "+3161234567890123",  # too long for NL
        "+316123",  # too short
        "+31 6 1234 5678 ext. 12",
        "+31612345678;ext=5",
        "tel:+31612345678",
        "+31612345678a",
        "phone",
        "+31 6 12 34 56 78" * 10,  # absurdly long
        "++31612345678",
        "31+612345678",
        "٣١٦١٢٣٤٥٦٧٨",
    ],
)
def test_not_a_number_gives_none(raw):
    assert normalize_phone(raw) is None


def test_mexico_whatsapp_ids_with_the_old_mobile_one_mean_the_ten_digit_number():
    assert normalize_phone("5215512345678") == "+525512345678"
    assert normalize_phone("+52 1 55 1234 5678") == "+525512345678"
    assert normalize_phone("525512345678") == "+525512345678"
    assert normalize_address(Channel.WHATSAPP, "5215512345678") == normalize_address(Channel.SMS, "+525512345678")
    assert region_of("+525512345678") == "MX"


def test_argentina_mobile_and_fixed_forms_stay_distinct():
    # Decision: the `9` after 54 marks a mobile number and is part of its E.164 form (WhatsApp ids carry it);
    # without it the same digits are a fixed-line number. phonenumbers keeps them apart, and so do we.
    assert normalize_phone("5491123456789") == "+5491123456789"
    assert normalize_phone("+54 9 11 2345-6789") == "+5491123456789"
    assert normalize_phone("541123456789") == "+541123456789"
    assert normalize_phone("5491123456789") != normalize_phone("541123456789")
    # The national mobile spelling with the `15` prefix is rewritten by phonenumbers into the 9 form.
    assert normalize_phone("+54 11 15 2345 6789") == "+5491123456789"
    assert region_of("+5491123456789") == "AR"
    assert region_of("+541123456789") == "AR"


@pytest.mark.parametrize(
    ("e164", "region"),
    [
        ("+77012345678", "KZ"),
        ("+79161234567", "RU"),
        ("+14165550123", "CA"),
        ("+16135550123", "CA"),
        ("+12125551234", "US"),
        ("+31612345678", "NL"),
        ("+447400123456", "GB"),
        ("+447911123456", "GG"),  # +44 is shared with Guernsey, Jersey and the Isle of Man
        ("+447700900123", None),  # a drama range: invalid, and +44 is shared
        ("+3161234", "NL"),  # invalid, but +31 has one country
        ("+15555555555", None),  # not a valid range under a shared code: no country
        ("+76012345678", None),  # +76 is not a KZ range in phonenumbers' metadata
        ("+80012345678", None),  # non-geographic (pseudo-region 001)
        ("garbage", None),
        ("", None),
    ],
)
def test_region_of(e164, region):
    assert region_of(e164) == region


def test_phone_channels_use_e164():
    for channel in (Channel.SMS, Channel.WHATSAPP):
        assert normalize_address(channel, "0031612345678") == "+31612345678"
        assert normalize_address(channel, "0612345678") is None


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_platform_ids_are_numeric_strings(channel):
    assert normalize_address(channel, "6712345678901234") == "6712345678901234"
    assert normalize_address(channel, " 17841400000000001 \n") == "17841400000000001"
    assert normalize_address(channel, "1") == "1"
    assert normalize_address(channel, "9" * 32) == "9" * 32
    for bad in ["", "  ", "9" * 33, "+31612345678", "12 34", "abc123", "-1", "1.5", "١٢٣"]:
        assert normalize_address(channel, bad) is None, bad


def test_find_key_with_words_and_whitespace_around():
    assert find_key(KEY) == KEY
    assert find_key(f"Hi, my key is {KEY}. Thanks!") == KEY
    assert find_key(f"\n\t  {KEY}  \n") == KEY
    assert find_key(f"key:{KEY}") == KEY
    assert find_key(f"*{KEY}*") == KEY  # WhatsApp bold


def test_find_key_any_case_is_returned_lower_case():
    assert find_key(f"KEY {KEY.upper()}") == KEY
    assert find_key("3F2b8C1d-7E4a-4B9c-A1d2-0E5f6A7b8C9d") == KEY


def test_find_key_takes_the_first_of_two():
    assert find_key(f"{OTHER_KEY} and {KEY}") == OTHER_KEY
    assert find_key(f"{KEY} {OTHER_KEY}") == KEY


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "hello, how do I join?",
        KEY[:-1],  # one hex digit short
        KEY + "0",  # one too many: part of a longer token
        "x" + KEY,
        KEY.replace("-", ""),  # no hyphens
        KEY.replace("-", " "),
        "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9g",  # not hex
        "{" + KEY[:8] + "-7e4a-4b9c-a1d2}",
    ],
)
def test_find_key_rejects_what_is_not_a_key(text):
    assert find_key(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop",
        " stop ",
        "STOP!",
        "stop.",
        "'STOP'",
        "🛑 STOP",
        "STOP ALL",
        "stop  all",
        "STOPALL",
        "Unsubscribe",
        "OPT-OUT",
        "opt out",
        "optout",
        "ARRÊT",
        "arret",
        "\u200bSTOP\u200b",
        "STOP\n",
    ],
)
def test_stop_words_when_they_are_the_whole_message(text):
    assert is_stop(text)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "please stop",
        "stop sending me this",
        "STOP " + KEY,
        "stopped",
        "non-stop",
        "s t o p",
        "CANCEL",
        "END",
        "QUIT",
        "REMOVE",
        "TD",
        "HELP",
        "START",
        "stop" * 40,
    ],
)
def test_not_stop(text):
    assert not is_stop(text)


def test_stop_words_are_stored_folded():
    assert all(word == word.casefold().strip() for word in STOP_WORDS)
