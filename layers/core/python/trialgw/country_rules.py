"""Where a trial SMS may go: the seed's three country tables, kept as data (`data/country_rules.json`).

The seed ("A note on testing SMS messages") lists countries by calling code; this module matches them on the
ISO 3166 region `phonenumbers` gives a number (`addresses.region_of`), which is what splits shared codes:
`+7 7…` is Kazakhstan (blocked) and `+7 9…` Russia (content-filtered); `+1 416…` is Canada and `+1 212…` the US.

Decisions:
- Each seed row means its named country's region only. "US / Canada 1" is `US` and `CA`, not the other regions
  of the North American Numbering Plan (Puerto Rico `PR`, Guam `GU`, Jamaica `JM`, the Bahamas `BS`, …), which
  are allowed; likewise "Australia 61" is `AU` (not Christmas Island `CX` or Cocos `CC`) and "UK 44" is `GB` (not
  Guernsey `GG`, Jersey `JE` or the Isle of Man `IM`: note that `phonenumbers` places `+44 7911…` in Guernsey).
  Adding a region is a data change.
- A region in several tables takes the strictest: blocked > replaced > content-filtered. Canada is both replaced
  and content-filtered; it is replaced (its content is replaced anyway, so a warning would say nothing).
- A number `phonenumbers` cannot place in one region (an unknown range under a shared calling code, e.g.
  `+7 6…`, `+1 555…`, `+44 7700 900…`) gets the strictest rule among the regions sharing its calling code, with
  their names: `+7 6…` is blocked as Kazakhstan (the seed's own table says "Kazakhstan 7", and the range cannot be
  shown not to be Kazakh), `+1 555…` is replaced ("United States / Canada"), `+44 7700 900…` gets the
  United Kingdom's warning. A calling code with no rule (non-geographic `+800`, `+882`) is allowed.
- Input that is not a phone number at all is blocked (fail closed). Callers pass `normalize_phone`'s output.

The data file is read on first use and cached for the life of the process; importing this module reads nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import phonenumbers

from trialgw.addresses import region_of

DATA_PACKAGE = "trialgw.data"
DATA_FILE = "country_rules.json"

# The seed's generic text for the "restricted" countries, with its brand as a parameter.
_REPLACEMENT_TEMPLATE = (
    "Because of regulations in this destination, your message from the {brand} trial gateway has been replaced. "
    "Onboard to our platform for full functionality."
)
DEFAULT_BRAND = "CM.COM"


class RuleAction(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    REPLACE = "replace"
    FILTER_WARNING = "filter_warning"


# The data file's tables, strictest first (that order is the precedence when a region is in several).
TABLES: tuple[tuple[str, RuleAction], ...] = (
    ("blocked", RuleAction.BLOCK),
    ("replaced", RuleAction.REPLACE),
    ("content_filtered", RuleAction.FILTER_WARNING),
)
_STRICTNESS = {
    RuleAction.ALLOW: 0,
    RuleAction.FILTER_WARNING: 1,
    RuleAction.REPLACE: 2,
    RuleAction.BLOCK: 3,
}


@dataclass(frozen=True, slots=True)
class CountryRule:
    """What the trial does with an SMS to one destination.

    `region`: the ISO 3166 region of the number, None when `phonenumbers` cannot place it in one.
    `country_name`: the name for texts ("Kazakhstan", "United Kingdom"); None for destinations without a rule.
    For an unplaced number it names the countries whose rule was applied ("United States / Canada").
    """

    region: str | None
    action: RuleAction
    country_name: str | None = None


def _entries(raw: Mapping[str, Any], table: str) -> list[tuple[str, str]]:
    rows = raw.get(table)
    if not isinstance(rows, list):
        raise ValueError(f"{DATA_FILE}: '{table}' must be a list")
    entries: list[tuple[str, str]] = []
    for row in rows:
        region = row.get("region") if isinstance(row, dict) else None
        country = row.get("country") if isinstance(row, dict) else None
        if not (isinstance(region, str) and len(region) == 2 and region.isascii() and region.isupper()):
            raise ValueError(f"{DATA_FILE}: '{table}' has an entry without an ISO region: {row!r}")
        if not (isinstance(country, str) and country):
            raise ValueError(f"{DATA_FILE}: '{table}' entry {region} has no country name")
        entries.append((region, country))
    return entries


@cache
def rules_by_region() -> Mapping[str, CountryRule]:
    """Every region with a rule, read from the data file once per process."""
    text = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError(f"{DATA_FILE}: must be a JSON object")
    rules: dict[str, CountryRule] = {}
    for table, action in TABLES:
        for region, country in _entries(raw, table):
            # Strictest first: a region already seen keeps its stricter rule.
            rules.setdefault(region, CountryRule(region, action, country))
    return rules


@cache
def _rule_for_calling_code(calling_code: int) -> CountryRule:
    table = rules_by_region()
    candidates = [
        table[region] for region in phonenumbers.region_codes_for_country_code(calling_code) if region in table
    ]
    if not candidates:
        return CountryRule(None, RuleAction.ALLOW)
    strictest = max((rule.action for rule in candidates), key=_STRICTNESS.__getitem__)
    names = " / ".join(rule.country_name or "" for rule in candidates if rule.action is strictest)
    return CountryRule(None, strictest, names)


def rule_for(e164: str) -> CountryRule:
    """The rule for an SMS to `e164` (an E.164 number as `normalize_phone` gives it); see the module docstring."""
    region = region_of(e164)
    if region is not None:
        return rules_by_region().get(region) or CountryRule(region, RuleAction.ALLOW)
    if not isinstance(e164, str) or len(e164) > 64:
        return CountryRule(None, RuleAction.BLOCK)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return CountryRule(None, RuleAction.BLOCK)
    if number.country_code is None:
        return CountryRule(None, RuleAction.BLOCK)
    return _rule_for_calling_code(number.country_code)


def replacement_text(brand: str = DEFAULT_BRAND) -> str:
    """The seed's generic text sent instead of the message to a "restricted" destination (US, Canada, Australia)."""
    return _REPLACEMENT_TEMPLATE.format(brand=brand)


def replaced_notice(country: str | None) -> str:
    """`messageDetails` for an accepted SMS whose content was replaced by `replacement_text`."""
    where = f"this destination ({country})" if country else "this destination"
    return (
        f"Accepted, but because of SMS regulations in {where} the content was replaced with the trial's generic "
        "text. Onboard to our platform to send your own content."
    )


def warning_text(country: str | None) -> str:
    """`messageDetails` for an accepted SMS to a destination in the seed's content-filter list."""
    where = f"this destination ({country})" if country else "this destination"
    return (
        f"Accepted, but SMS to {where} is blocked by providers when it contains (references to) restricted "
        "subjects: adult/sexual, political or religious content, advertising/marketing/promotional content, "
        "abusive or racist content, spam or phishing, or illegal substances. Keep test messages to trivial text, "
        "or this message might not arrive."
    )
