"""CM's JSON values as CM writes them (codes as numbers or strings, texts with white space), and the masking rule
for CM's texts."""

from __future__ import annotations

import re

from trialgw.providers.masking import MaskRule, mask_reason

# Codes are small numbers; the bound keeps hostile values (10**5000, "²") out of int().
_CODE_SHAPE = re.compile(r"[0-9]{1,6}")
_MAX_CODE = 10**6
# Six or more digits (optionally separated) in a CM text are probably a phone number: masked, keeping the prefix.
CM_MASKING = MaskRule(numbers=re.compile(r"\+?\d(?:[\s-]?\d){5,}"), keep=3)


def scrub(text: str, secret: str | None = None) -> str:
    """A CM text fit for a reason: one line, the secret removed, phone-like digit runs masked, shortened."""
    return mask_reason(text, CM_MASKING, secret=secret)


def as_int(value: object) -> int | None:
    # CM sends codes as numbers; the Java SDK reads `messageErrorCode` as a string, so both are accepted.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < _MAX_CODE else None
    if isinstance(value, str) and _CODE_SHAPE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def as_text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
