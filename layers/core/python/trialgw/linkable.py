"""What a mail program would turn into a link: web addresses, e-mail addresses and phone numbers in user text.

The sign-up's name opens the key e-mail ("Hi <name>,"), so a name like "URGENT log in at bank.example/verify"
would make the trial an e-mail cannon for phishing. Mail clients link far more than `http://…`: bare domains
(`bank.example`), `www.` prefixes, addresses, IP addresses and, on phones, long digit runs. This module finds
them so sign-up can refuse such a field with a reason, rather than silently mangling what the person typed.
"""

from __future__ import annotations

import re
import unicodedata

# Dots as browsers read them in host names: ASCII, ideographic, fullwidth and halfwidth ideographic full stops.
_DOT = r"[.\u3002\uff0e\uff61]"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_WEB = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://)"  # any hierarchical scheme: http://, https://, ftp://…
    r"|(?:\b(?:mailto|tel|sms|callto|javascript|data|file):)"  # schemes that need no slashes
    rf"|(?:\bwww\d{{0,3}}{_DOT})"  # www. even without a scheme
    rf"|(?:\b{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}(?:[^\W\d_]{{2,63}}|xn--[\w-]+)\b)"  # bank.example, a.b.co.uk
    rf"|(?:\b\d{{1,3}}(?:{_DOT}\d{{1,3}}){{3}}\b)",  # 192.0.2.1
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[^\s@]@[^\s@]")
# Seven digits or more, however they are grouped, standing alone (no letter or digit right before or after): what
# phones offer to call. `Order 8123456a` or a hex id is no phone number.
_PHONE = re.compile(r"(?<![^\W_])\+?(?:\d[\s().\-/]*){6,}\d(?![^\W_])")


def linkable_part(text: str) -> str | None:
    """What in `text` a mail program would link ("a web address", "an e-mail address", "a phone number"), or None.

    Compatibility forms are folded first (NFKC), so fullwidth letters or digits cannot slip past."""
    folded = unicodedata.normalize("NFKC", text)
    if _EMAIL.search(folded):
        return "an e-mail address"
    if _WEB.search(folded):
        return "a web address"
    if _PHONE.search(folded):
        return "a phone number"
    return None


__all__ = ["linkable_part"]
