"""An end user's address per channel, and what an inbound text asks for (a trial key, or STOP).

One person must be one address however a provider spells it: CM sends `+316…`, WhatsApp sends bare
`316…`, developers type `0031 6 …`. Phone channels therefore normalize to E.164 through `phonenumbers`;
Messenger and Instagram use the provider's numeric page- or Instagram-scoped id as it is.

Decisions (see the tests for each):
- Only international forms are numbers (`+…`, `00…`, bare digits starting 1-9). A national form like
  `0612345678` is rejected: a webhook gives no region to assume, and guessing one would whitelist a
  different person.
- Validity is `is_possible_number` (a length check), not `is_valid_number` (a range check): test
  numbers such as `+1 555 …` that Meta's test phones use must work, and metadata lags new ranges.
- Mexico: WhatsApp still reports some mobiles as `521` + 10 digits (the mobile "1" Mexico dropped in
  2019); that is the same line as `+52` + 10 digits, so the "1" is removed.
- Argentina: kept as `phonenumbers` formats it. The mobile form `+54 9 …` and the fixed-line form
  `+54 …` stay two different addresses (they are different numbers to the network; WhatsApp ids use
  `549…` for mobiles). The national mobile spelling `+54 11 15 …` becomes `+54 9 11 …`.
- Trial keys are matched in any letter case and returned lower-cased, the form `keys.hash_key` stores.
- STOP is recognized only when it is the whole message (see `STOP_WORDS`).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from trialgw.channels import Channel, is_phone
from trialgw.keys import KEY_PATTERN

# Longer input is not a phone number, and checking that early keeps hostile payloads cheap.
_MAX_PHONE_INPUT = 64
# Separators people and providers put in numbers (`\s` also covers the non-breaking spaces of copy/paste).
_PHONE_SEPARATORS = re.compile(r"[\s\-()./]")
_PHONE_COMPACT = re.compile(r"\+?[0-9]+")
_PLATFORM_ID = re.compile(r"[0-9]{1,32}")
_MEXICO = 52
# Mexican national significant numbers are 10 digits; 11 starting with the old mobile "1" is the legacy form.
_MEXICO_LEGACY_MOBILE_LENGTH = 11

# Opt-out words honoured when they are the whole message. AWS's required opt-out list also has CANCEL,
# END, QUIT, REMOVE and TD; they are left out because a developer testing a conversation types them as
# ordinary words, and a false STOP would silently drop them from their trial. (On AWS SMS the carrier-level
# opt-out still applies to those words regardless.)
STOP_WORDS = frozenset({"stop", "stop all", "stopall", "unsubscribe", "optout", "opt-out", "opt out", "arret", "arrêt"})
_MAX_STOP_INPUT = 64


def normalize_phone(raw: str) -> str | None:
    """The E.164 form (`+31612345678`) of an international phone number, or None when it is not one.

    Accepts `+31…`, `0031…` and bare international digits (`31612345678`, as WhatsApp ids and CM's MO
    `from.number` give them), with spaces, dashes, dots, slashes and parentheses (`+31 (0)6 …` too).
    National forms (`0612345678`), letters, extensions and impossible lengths give None.
    """
    if not isinstance(raw, str) or len(raw) > _MAX_PHONE_INPUT:
        return None
    compact = _PHONE_SEPARATORS.sub("", raw)
    if not _PHONE_COMPACT.fullmatch(compact):
        return None
    if compact.startswith("+"):
        international = compact
    elif compact.startswith("00"):
        international = "+" + compact[2:]
    elif compact.startswith("0"):
        return None
    else:
        international = "+" + compact
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code == _MEXICO and len(national) == _MEXICO_LEGACY_MOBILE_LENGTH and national.startswith("1"):
        number = phonenumbers.PhoneNumber(country_code=_MEXICO, national_number=int(national[1:]))
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str | None:
    """The ISO 3166 region of a number (`+7 7…` → KZ, `+7 9…` → RU, `+1 416…` → CA), or None.

    A calling code with one country gives that country even outside the known ranges (`+31 6 1234` → NL).
    None when it cannot be placed in one country: an unknown range under a shared code (`+1 555…`,
    `+7 6…`, `+44 7700 900…`) and non-geographic codes (`+800`, `+882`), whose pseudo-region `001` is no country.
    """
    if not isinstance(e164, str) or len(e164) > _MAX_PHONE_INPUT:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region is None or len(region) != 2 or not region.isalpha():
        return None
    return region


def normalize_address(channel: Channel, raw: str) -> str | None:
    """An end user's address on `channel` in its one canonical form, or None when `raw` is not one.

    Channels addressed by phone (SMS, WhatsApp): E.164 (`normalize_phone`). Channels addressed by account
    (Messenger's PSID, Instagram's IGSID): the numeric id, stripped of surrounding white space, 1-32 ASCII digits.
    """
    if not isinstance(raw, str):
        return None
    if is_phone(channel):
        return normalize_phone(raw)
    candidate = raw.strip()
    return candidate if _PLATFORM_ID.fullmatch(candidate) else None


def find_key(text: str | None) -> str | None:
    """The first trial key (a GUID in any letter case, words around it allowed) in `text`, lower-cased."""
    if not isinstance(text, str):
        return None
    match = KEY_PATTERN.search(text)
    return match.group(0).lower() if match else None


def _strip_decoration(text: str) -> str:
    # Punctuation, symbols (emoji included), separators and invisible format characters around the word.
    def decorative(ch: str) -> bool:
        return unicodedata.category(ch)[0] in {"P", "S", "Z", "C"}

    start, end = 0, len(text)
    while start < end and decorative(text[start]):
        start += 1
    while end > start and decorative(text[end - 1]):
        end -= 1
    return text[start:end]


def is_stop(text: str | None) -> bool:
    """True when the whole message is an opt-out word (`STOP`, `stop!`, ` Stop all `, `UNSUBSCRIBE`, …).

    Conservative on purpose: "please stop" or "stop sending me this" is not an opt-out; see `STOP_WORDS`.
    """
    if not isinstance(text, str) or len(text) > _MAX_STOP_INPUT:
        return False
    core = " ".join(_strip_decoration(unicodedata.normalize("NFC", text)).split()).casefold()
    return core in STOP_WORDS
