"""The trial's SMS part counter (144 GSM-7 / 63 Unicode per part, 2 parts) and its rejection text."""

from __future__ import annotations

import pytest

from trialgw.settings import TrialSettings
from trialgw.sms import SmsEncoding, SmsParts, count_parts, describe_limit, fits, is_gsm7

SETTINGS = TrialSettings()
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\x0c^{}\\[~]|€"
EMOJI = "😀"  # outside the BMP: two UTF-16 code units


def count(text: str) -> SmsParts:
    return count_parts(
        text, gsm7_part_chars=SETTINGS.sms_gsm7_part_chars, unicode_part_chars=SETTINGS.sms_unicode_part_chars
    )


def limit_text(counted: SmsParts) -> str:
    return describe_limit(
        counted,
        gsm7_part_chars=SETTINGS.sms_gsm7_part_chars,
        unicode_part_chars=SETTINGS.sms_unicode_part_chars,
        max_parts=SETTINGS.sms_max_parts,
    )


def test_settings_defaults_are_the_seed_numbers():
    assert (SETTINGS.sms_gsm7_part_chars, SETTINGS.sms_unicode_part_chars, SETTINGS.sms_max_parts) == (144, 63, 2)


def test_gsm7_alphabet_is_3gpp_23_038():
    assert len(set(GSM7_BASIC)) == 127  # 128 positions less ESC
    assert is_gsm7(GSM7_BASIC + GSM7_EXTENSION)
    counted = count(GSM7_BASIC)
    assert (counted.encoding, counted.units) == (SmsEncoding.GSM7, 127)
    for ch in GSM7_EXTENSION:
        assert count(ch) == SmsParts(SmsEncoding.GSM7, 2, 1, 144)


@pytest.mark.parametrize(
    "ch",
    [
        "ç",  # GSM has upper-case Ç only
        "\u2126",  # Ohm sign, looks like Greek Ω (which is GSM-7)
        "\u2206",  # increment, looks like Greek Δ
        "`",
        "\x1b",  # ESC is the escape, not a character
        "\t",
        "\u00a0",  # non-breaking space
        "’",  # typographic apostrophe from copy/paste
        "á",
        "α",  # lower-case Greek
        "д",
        EMOJI,
    ],
)
def test_characters_outside_gsm7_make_the_whole_text_unicode(ch):
    counted = count("Hello " + ch)
    assert counted.encoding is SmsEncoding.UNICODE
    assert counted.part_size == 63
    assert counted.first_non_gsm7 == ch


@pytest.mark.parametrize(
    ("length", "parts"), [(0, 1), (1, 1), (144, 1), (145, 2), (287, 2), (288, 2), (289, 3), (432, 3), (433, 4)]
)
def test_gsm7_boundaries(length, parts):
    counted = count("a" * length)
    assert counted == SmsParts(SmsEncoding.GSM7, length, parts, 144)
    assert fits(counted, 2) is (parts <= 2)


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (63, 1), (64, 2), (125, 2), (126, 2), (127, 3)])
def test_unicode_boundaries(length, parts):
    counted = count("д" * length)
    assert counted == SmsParts(SmsEncoding.UNICODE, length, parts, 63, "д")
    assert fits(counted, 2) is (parts <= 2)


def test_empty_text_is_one_gsm7_part():
    assert count("") == SmsParts(SmsEncoding.GSM7, 0, 1, 144)


def test_extension_characters_count_double_at_the_boundaries():
    assert count("a" * 142 + "€").units == 144
    assert count("a" * 142 + "€").parts == 1
    assert count("a" * 143 + "€") == SmsParts(SmsEncoding.GSM7, 145, 2, 144)
    assert count("a" * 286 + "€").parts == 2
    assert count("a" * 287 + "€").parts == 3
    assert count("€" * 144) == SmsParts(SmsEncoding.GSM7, 288, 2, 144)
    assert count("€" * 145).parts == 3
    # Every extension character, counted double at once.
    assert count("a" * 268 + GSM7_EXTENSION).units == 288


def test_emoji_count_two_utf16_units():
    assert count(EMOJI) == SmsParts(SmsEncoding.UNICODE, 2, 1, 63, EMOJI)
    assert count("a" * 61 + EMOJI).parts == 1  # 63 units
    assert count("a" * 62 + EMOJI).parts == 2  # 64 units
    assert count(EMOJI * 63).units == 126
    assert count(EMOJI * 63).parts == 2
    assert count("a" + EMOJI * 63).parts == 3
    # A flag is two code points of two units each; a ZWJ family is seven code points, eleven units.
    assert count("🇳🇱").units == 4
    assert count("👨\u200d👩\u200d👧\u200d👦").units == 11


def test_mixed_text_counts_every_character_in_utf16_without_the_gsm7_double_count():
    # Once Unicode, "€" is one UTF-16 unit like any BMP character; the extension doubling is GSM-7 only.
    counted = count("€ price: 10 ç")
    assert counted.encoding is SmsEncoding.UNICODE
    assert counted.units == len("€ price: 10 ç")
    assert count("Zürich ñ €" + EMOJI).units == 12


def test_crlf_counts_as_two_gsm7_characters():
    counted = count("line one\r\nline two")
    assert counted.encoding is SmsEncoding.GSM7
    assert counted.units == 18
    assert count("a" * 142 + "\r\n").parts == 1
    assert count("a" * 143 + "\r\n").parts == 2


def test_lone_surrogate_is_one_unit_not_an_error():
    counted = count("\ud83d")
    assert (counted.encoding, counted.units, counted.parts) == (SmsEncoding.UNICODE, 1, 1)


def test_part_sizes_come_from_the_arguments():
    assert count_parts("a" * 161, gsm7_part_chars=160, unicode_part_chars=70).parts == 2
    assert count_parts("д" * 70, gsm7_part_chars=160, unicode_part_chars=70) == SmsParts(
        SmsEncoding.UNICODE, 70, 1, 70, "д"
    )
    with pytest.raises(ValueError, match="positive"):
        count_parts("a", gsm7_part_chars=0, unicode_part_chars=63)


def test_large_input_is_counted_quickly_and_exactly():
    assert count("a" * 1_000_000 + "€").units == 1_000_002
    assert count("д" * 1_000_000 + EMOJI).units == 1_000_002


def test_limit_text_for_a_long_gsm7_message():
    assert limit_text(count("a" * 289)) == (
        "SMS messages in the trial are limited to 2 parts: 288 GSM-7 characters or 126 Unicode characters "
        "(one part holds 144 GSM-7 or 63 Unicode characters; GSM-7 extension characters such as € count double, "
        "and so do emoji in Unicode). This message needs 3 parts (289 GSM-7 characters). "
        "Please onboard to our platform to get the full functionality."
    )


def test_limit_text_for_a_unicode_message_names_the_character_that_made_it_unicode():
    text = limit_text(count("Caf\u00e9 ç" + "a" * 121))
    assert "This message needs 3 parts (127 Unicode characters)." in text
    assert "It is sent as Unicode because 'ç' (U+00E7) is not a GSM-7 character." in text
    assert text.endswith(" Please onboard to our platform to get the full functionality.")


def test_limit_text_never_quotes_unprintable_characters():
    assert "because U+D83D is not" in limit_text(count("\ud83d" * 127))
    assert "because U+0009 is not" in limit_text(count("\t" * 127))


def test_limit_text_uses_the_numbers_it_is_given():
    counted = count_parts("a" * 161, gsm7_part_chars=160, unicode_part_chars=70)
    text = describe_limit(counted, gsm7_part_chars=160, unicode_part_chars=70, max_parts=1)
    assert text.startswith(
        "SMS messages in the trial are limited to 1 part: 160 GSM-7 characters or 70 Unicode characters "
        "(one part holds 160 GSM-7 or 70 Unicode characters;"
    )
    assert "needs 2 parts (161 GSM-7 characters)." in text
