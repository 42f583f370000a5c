"""How many trial SMS parts a text needs: GSM-7 or Unicode, and the 2-part limit's rejection text.

The trial's rule (seed, "Limitations"): one part holds 144 GSM-7 or 63 Unicode characters, at most 2 parts
(288 / 126). These are the seed's numbers, not the network's 153 / 67 per concatenated part, and the counting is
plain arithmetic: `parts = ceil(units / part_chars)`, an empty text is 1 part. Because 2 x 144 <= 2 x 153 and
2 x 63 <= 2 x 66 (67 less one unit lost when a surrogate pair cannot straddle a part boundary), a text within the
trial limit always fits in 2 real parts, whatever splitting the SMS provider does.

Encoding (3GPP TS 23.038): GSM-7 when every character is in the default alphabet or its extension table, else
Unicode (UCS-2/UTF-16) for the whole message, as CM's `type: auto` does. Units:
- GSM-7: septets. Extension characters (`^ { } \\ [ ~ ] | €` and form feed) take two (ESC + character).
- Unicode: UTF-16 code units, so a character outside the Basic Multilingual Plane (most emoji) counts 2.
Look-alikes are not GSM-7: lower-case `ç`, the Ohm sign (U+2126) or the increment sign (U+2206) make the text
Unicode, while `Ç`, Greek `Ω` (U+03A9) and `Δ` (U+0394) are GSM-7. Nothing is transliterated.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

# The GSM 03.38 default alphabet, in table order (0x00-0x7F); 0x1B (ESC) is the escape, not a character.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table reached with ESC: form feed (page break), ^ { } \ [ ~ ] | and the euro sign.
_GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENSION

_ONBOARD = "Please onboard to our platform to get the full functionality."


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UNICODE = "Unicode"


# CM's `dcs` (SMS data coding scheme) of each encoding: 0 GSM-7, 8 UCS-2 (reference §1.3).
DCS_OF = {SmsEncoding.GSM7: 0, SmsEncoding.UNICODE: 8}


class SmsParts(NamedTuple):
    """The count of one text.

    `units`: characters as the trial counts them (GSM-7 septets, or UTF-16 code units for Unicode).
    `part_size`: units one part holds in this encoding. `first_non_gsm7`: the first character that made the
    text Unicode (None for GSM-7), so a rejection can say why.
    """

    encoding: SmsEncoding
    units: int
    parts: int
    part_size: int
    first_non_gsm7: str | None = None


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 default alphabet or its extension table."""
    return set(text) <= _GSM7


def count_parts(text: str, *, gsm7_part_chars: int, unicode_part_chars: int) -> SmsParts:
    """The encoding, units and number of trial parts of `text` (see the module docstring for the rules)."""
    if gsm7_part_chars <= 0 or unicode_part_chars <= 0:
        raise ValueError("part sizes must be positive")
    distinct = set(text)
    if distinct <= _GSM7:
        units = len(text) + sum(text.count(ch) for ch in distinct & _GSM7_EXTENSION)
        return SmsParts(SmsEncoding.GSM7, units, _parts(units, gsm7_part_chars), gsm7_part_chars)
    # "surrogatepass": a lone surrogate (JSON allows "\ud83d") is one code unit, not an error.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    first = next(ch for ch in text if ch not in _GSM7)
    return SmsParts(SmsEncoding.UNICODE, units, _parts(units, unicode_part_chars), unicode_part_chars, first)


def _parts(units: int, part_chars: int) -> int:
    return max(1, -(-units // part_chars))


def fits(parts: SmsParts, max_parts: int) -> bool:
    """True when the counted text is within the trial's part limit."""
    return parts.parts <= max_parts


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _describe_char(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    # Only quote characters that print and survive UTF-8 (no controls, no lone surrogates).
    if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
        return f"'{ch}' ({code})"
    return code


def describe_limit(counted: SmsParts, *, gsm7_part_chars: int, unicode_part_chars: int, max_parts: int) -> str:
    """The rejection text for an SMS over the trial's part limit (DESIGN send table: SMS longer than 2 parts).

    With the defaults: "SMS messages in the trial are limited to 2 parts: 288 GSM-7 characters or 126 Unicode
    characters (one part holds 144 GSM-7 or 63 Unicode characters; GSM-7 extension characters such as € count
    double, and so do emoji in Unicode). This message needs 3 parts (300 GSM-7 characters). Please onboard to our
    platform to get the full functionality." A Unicode text also gets "It is sent as Unicode because 'ç' (U+00E7) is
    not a GSM-7 character." before the last sentence, naming its first character outside GSM-7.
    """
    limit = (
        f"SMS messages in the trial are limited to {_plural(max_parts, 'part')}: "
        f"{max_parts * gsm7_part_chars} GSM-7 characters or {max_parts * unicode_part_chars} Unicode characters "
        f"(one part holds {gsm7_part_chars} GSM-7 or {unicode_part_chars} Unicode characters; "
        "GSM-7 extension characters such as € count double, and so do emoji in Unicode)."
    )
    needs = f"This message needs {_plural(counted.parts, 'part')} ({counted.units} {counted.encoding} characters)."
    if counted.encoding is SmsEncoding.UNICODE and counted.first_non_gsm7 is not None:
        needs += f" It is sent as Unicode because {_describe_char(counted.first_non_gsm7)} is not a GSM-7 character."
    return f"{limit} {needs} {_ONBOARD}"


def describe_dcs(dcs: int, counted: SmsParts) -> str:
    """The refusal of a `dcs` the trial cannot honour for this text (with `body.type` TEXT), and what to send."""
    if dcs not in DCS_OF.values():
        return (
            f"dcs {dcs} is not supported in the trial: SMS texts are sent as GSM-7 (dcs 0) or Unicode (dcs 8). "
            f"Leave dcs out or use body.type AUTO, which chooses for you. {_ONBOARD}"
        )
    if counted.encoding is SmsEncoding.UNICODE and counted.first_non_gsm7 is not None:
        why = f"{_describe_char(counted.first_non_gsm7)} is not a GSM-7 character, so this text is sent as Unicode"
    else:
        why = "every character of this text is GSM-7, so the trial sends it as GSM-7"
    wanted = DCS_OF[counted.encoding]
    return (
        f"dcs {dcs} ({'GSM-7' if dcs == 0 else 'Unicode'}) cannot be honoured: {why} (dcs {wanted}). "
        f"Use dcs {wanted}, leave dcs out, or use body.type AUTO."
    )
