"""One masking helper for what a provider wrote back, before it becomes a `DeliveryFailed` or status-report reason.

Reasons reach the dashboard and the logs, where no credential and no phone number may appear. Every provider's
text goes through `mask_reason`: valid Unicode on one line, the credential that was sent removed, token lookalikes
and phone-like digit runs masked, and at most `limit` characters. What counts as phone-like is the provider's rule
(`MaskRule`): CM's texts write numbers with separators and keep the first digits for support; Meta's and AWS's
texts carry bare runs.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MASK = "***"
MAX_REASON_CHARS = 200
# Nine or more digits, optionally after a `+`: a number in Meta's or AWS's texts (error codes are shorter).
BARE_NUMBER = re.compile(r"\+?\d{9,}")


class MaskRule(NamedTuple):
    """A provider's rule: `numbers` are masked keeping their first `keep` characters; `tokens` (credential
    lookalikes) are masked whole."""

    numbers: re.Pattern[str] = BARE_NUMBER
    keep: int = 0
    tokens: re.Pattern[str] | None = None
    limit: int = MAX_REASON_CHARS


def mask_reason(text: str, rule: MaskRule, *, secret: str | None = None) -> str:
    """`text` fit for a reason under `rule` (see the module docstring); `secret` never survives, whatever the rule."""
    # Valid Unicode, or the record cannot be stored: JSON lets a provider's text carry lone surrogates (`"\ud800"`).
    text = text.encode("utf-8", "replace").decode("utf-8")
    if secret:
        text = text.replace(secret, MASK)
    # A hostile or broken answer may be huge: only its start can end up in the reason anyway.
    text = " ".join(text[: rule.limit * 4].split())
    if rule.tokens is not None:
        text = rule.tokens.sub(MASK, text)
    text = rule.numbers.sub(lambda match: match.group()[: rule.keep] + MASK, text)
    return text if len(text) <= rule.limit else text[: rule.limit - 1] + "…"


__all__ = ["BARE_NUMBER", "MASK", "MAX_REASON_CHARS", "MaskRule", "mask_reason"]
