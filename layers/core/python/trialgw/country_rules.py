"""Where a trial SMS may go: the seed's three country tables, kept as data (`data/country_rules.json`).

The seed ("A note on testing SMS messages") lists countries by calling code ("Countryprefix"). The tables are
matched as follows:
- blocked and content-filtered: on the ISO 3166 region `phonenumbers` gives a number (`addresses.region_of`),
  which is what splits shared codes: `+7 7…` is Kazakhstan (blocked) and `+7 9…` Russia (content-filtered).
- replaced: on the calling code itself, as the seed writes it. "US / Canada 1" and "Australia 61" cover every number
  under `+1` and `+61`, whichever region of the North American Numbering Plan or the Australian plan it is in.

Decisions:
- Replacement is by prefix, blocking and the warning by country. The seed's replacement row is a prefix ("US /
  Canada 1"), and a prefix is what the trial can hold to: US territories (Puerto Rico `PR`, Guam `GU`, the US
  Virgin Islands `VI`, American Samoa `AS`, the Northern Mariana Islands `MP`) are under the same US
  rules and carriers, and for the other `+1` countries (Jamaica `JM`, the Bahamas `BS`, …) and Australia's
  external territories (Christmas Island `CX`, Cocos `CC`) replacing is the cautious reading that still lets the
  developer see a message arrive. Blocking stays by country because the seed names one country under a shared
  code ("Kazakhstan 7", not Russia): blocking all of `+7` would refuse Russia, which the seed only
  content-filters. The content-filter list stays by country too: it is a warning about named countries'
  providers, and one for, say, Guernsey `GG` because the UK's `+44` is listed would say nothing known to be true.
  So "UK 44" is `GB` only (note that `phonenumbers` places `+44 7911…` in Guernsey). Adding a prefix or a region
  is a data change.
- A number in several tables takes the strictest: blocked > replaced > content-filtered. Canada is both replaced
  and content-filtered; it is replaced (its content is replaced anyway, so a warning would say nothing).
- Texts name the region the number is in, not the seed's row: a Puerto Rico number is replaced "in this
  destination (Puerto Rico)", a US one "(United States)", a Christmas Island one "(Christmas Island)". The
  developer knows where they send, and the seed's own generic text speaks of "this destination". The names come
  from the data file (`region_names` of the prefix row). `phonenumbers`' geocoder has them too, but importing it
  costs about 100 MB and a second of cold start, and it names nothing for a number valid in several regions (an
  Australian mobile is valid in `AU`, `CX` and `CC`). A region missing there (one `phonenumbers` adds under `+1`
  or `+61` later) is named by the row ("United States / Canada"); a unit test keeps the list complete.
- A number `phonenumbers` cannot place in one region (an unknown range under a shared calling code, e.g.
  `+7 6…`, `+1 555…`, `+44 7700 900…`) gets the strictest rule among the regions sharing its calling code and the
  prefix rule of that code, with their names: `+7 6…` is blocked as Kazakhstan (the seed's own table says
  "Kazakhstan 7", and the range cannot be shown not to be Kazakh), `+1 555…` is replaced ("United States /
  Canada"), `+44 7700 900…` gets the United Kingdom's warning. A calling code with no rule (non-geographic `+800`,
  `+882`) is allowed.
- Input that is not a phone number at all is blocked (fail closed). Callers pass `normalize_phone`'s output.
- The data file is checked strictly when it is read (known keys only, regions and prefixes `phonenumbers` knows, a
  region's `seed_prefix` equal to its calling code, no duplicates): a mistake fails every SMS send with an error
  naming it (and the unit tests first) rather than letting a destination through.

The data file is read on first use and cached for the life of the process; importing this module reads nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, NamedTuple, TypeGuard

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
# Longer input is no phone number (as in `addresses`): blocked without parsing it.
_MAX_INPUT = 64


class RuleAction(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    REPLACE = "replace"
    FILTER_WARNING = "filter_warning"


# The data file's tables, strictest first (that order is the precedence when a number is in several).
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
# Keys a row may have; anything else is a mistake (e.g. a `region` row in the prefix-keyed "replaced" table).
_REGION_ROW_KEYS = frozenset({"region", "country", "seed_prefix"})
_PREFIX_ROW_KEYS = frozenset({"prefix", "country", "region_names"})
_FILE_KEYS = frozenset({"_about", *(table for table, _ in TABLES)})


class CountryRule(NamedTuple):
    """What the trial does with an SMS to one destination.

    `region`: the ISO 3166 region of the number, None when `phonenumbers` cannot place it in one.
    `country_name`: the name for texts ("Kazakhstan", "Puerto Rico"); None for destinations without a rule.
    For an unplaced number it names the rows whose rule was applied ("United States / Canada").
    """

    region: str | None
    action: RuleAction
    country_name: str | None = None


class PrefixRule(NamedTuple):
    """A row of the "replaced" table: every number under calling code `calling_code`."""

    calling_code: int
    country: str
    region_names: Mapping[str, str]

    def name_for(self, region: str | None) -> str:
        """The region's own name when the row has it, else the row's ("United States / Canada")."""
        return self.region_names.get(region, self.country) if region is not None else self.country


class CountryRules(NamedTuple):
    """The data file's three tables: blocked and content-filtered by region, replaced by calling code."""

    blocked: Mapping[str, str]
    replaced: Mapping[int, PrefixRule]
    content_filtered: Mapping[str, str]

    @classmethod
    def from_data(cls, raw: object) -> CountryRules:
        """The tables from the data file's JSON; ValueError naming the mistake when it is not exactly that."""
        if not isinstance(raw, dict):
            raise ValueError(f"{DATA_FILE}: must be a JSON object")
        unknown = set(raw) - _FILE_KEYS
        if unknown:
            raise ValueError(f"{DATA_FILE}: unknown keys {sorted(unknown)}")
        replaced: dict[int, PrefixRule] = {}
        for row in _rows(raw, "replaced", _PREFIX_ROW_KEYS):
            rule = _prefix_rule(row)
            if rule.calling_code in replaced:
                raise ValueError(f"{DATA_FILE}: 'replaced' has prefix {rule.calling_code} twice")
            replaced[rule.calling_code] = rule
        return cls(
            blocked=_region_table(raw, "blocked"),
            replaced=MappingProxyType(replaced),
            content_filtered=_region_table(raw, "content_filtered"),
        )

    def rule_for(self, e164: str) -> CountryRule:
        """The rule for an SMS to `e164`; see the module docstring."""
        if not isinstance(e164, str) or len(e164) > _MAX_INPUT:
            return CountryRule(None, RuleAction.BLOCK)
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return CountryRule(None, RuleAction.BLOCK)
        calling_code = number.country_code
        if calling_code is None:
            return CountryRule(None, RuleAction.BLOCK)
        region = region_of(e164)
        # An unplaced number could be in any region of its calling code: all of them are candidates.
        regions = (region,) if region is not None else phonenumbers.region_codes_for_country_code(calling_code)
        candidates = [(RuleAction.BLOCK, self.blocked[r]) for r in regions if r in self.blocked]
        prefix = self.replaced.get(calling_code)
        if prefix is not None:
            candidates.append((RuleAction.REPLACE, prefix.name_for(region)))
        candidates += [
            (RuleAction.FILTER_WARNING, self.content_filtered[r]) for r in regions if r in self.content_filtered
        ]
        if not candidates:
            return CountryRule(region, RuleAction.ALLOW)
        strictest = max((action for action, _ in candidates), key=_STRICTNESS.__getitem__)
        names = " / ".join(dict.fromkeys(name for action, name in candidates if action is strictest))
        return CountryRule(region, strictest, names)


def _rows(raw: Mapping[str, Any], table: str, keys: frozenset[str]) -> list[dict[str, Any]]:
    rows = raw.get(table)
    if not isinstance(rows, list):
        raise ValueError(f"{DATA_FILE}: '{table}' must be a list")
    for row in rows:
        if not isinstance(row, dict) or not set(row) <= keys:
            raise ValueError(f"{DATA_FILE}: '{table}' entries have only the keys {sorted(keys)}: {row!r}")
        if not (isinstance(row.get("country"), str) and row["country"]):
            raise ValueError(f"{DATA_FILE}: '{table}' entry has no country name: {row!r}")
    return rows


def _is_region(value: object) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and len(value) == 2
        and value.isascii()
        and value.isupper()
        and phonenumbers.country_code_for_region(value) != 0
    )


def _region_table(raw: Mapping[str, Any], table: str) -> Mapping[str, str]:
    names: dict[str, str] = {}
    for row in _rows(raw, table, _REGION_ROW_KEYS):
        region = row.get("region")
        if not _is_region(region):
            raise ValueError(f"{DATA_FILE}: '{table}' has an entry without an ISO region phonenumbers knows: {row!r}")
        if region in names:
            raise ValueError(f"{DATA_FILE}: '{table}' has region {region} twice")
        seed_prefix = row.get("seed_prefix")
        if seed_prefix is not None and seed_prefix != str(phonenumbers.country_code_for_region(region)):
            raise ValueError(f"{DATA_FILE}: '{table}' entry {region} is not under +{seed_prefix}")
        names[region] = row["country"]
    return MappingProxyType(names)


def _prefix_rule(row: Mapping[str, Any]) -> PrefixRule:
    prefix = row.get("prefix")
    if not (
        isinstance(prefix, str)
        and prefix.isascii()
        and prefix.isdigit()
        and not prefix.startswith("0")
        and int(prefix) in phonenumbers.supported_calling_codes()
    ):
        raise ValueError(f"{DATA_FILE}: 'replaced' entry needs a calling code as 'prefix': {row!r}")
    calling_code = int(prefix)
    region_names = row.get("region_names", {})
    if not isinstance(region_names, dict):
        raise ValueError(f"{DATA_FILE}: 'replaced' entry +{prefix}: 'region_names' must be an object")
    for region, name in region_names.items():
        if not (_is_region(region) and phonenumbers.country_code_for_region(region) == calling_code):
            raise ValueError(f"{DATA_FILE}: 'replaced' entry +{prefix}: {region!r} is no region under +{prefix}")
        if not (isinstance(name, str) and name):
            raise ValueError(f"{DATA_FILE}: 'replaced' entry +{prefix}: region {region} has no name")
    return PrefixRule(calling_code, row["country"], MappingProxyType(dict(region_names)))


@cache
def rules() -> CountryRules:
    """The data file's tables, read once per process."""
    text = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return CountryRules.from_data(json.loads(text))


def rule_for(e164: str) -> CountryRule:
    """The rule for an SMS to `e164` (an E.164 number as `normalize_phone` gives it); see the module docstring."""
    return rules().rule_for(e164)


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
