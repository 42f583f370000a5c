"""The seed's SMS country tables as data: replaced by calling code, blocked and content-filtered by region."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from trialgw import country_rules
from trialgw.addresses import normalize_phone, region_of
from trialgw.country_rules import (
    CountryRule,
    CountryRules,
    RuleAction,
    replaced_notice,
    replacement_text,
    rule_for,
    warning_text,
)

# The seed's tables, copied verbatim (seed/messaging-trials.md, "A note on testing SMS messages").
SEED_BLOCKED = """Tanzania255
China86
Singapore65
Kazakhstan7
Saudi Arabia966
United Arab Emirates971"""
SEED_REPLACED = """US / Canada1
Australia61"""
SEED_FILTERED = """Egypt20
Morocco212
South Africa27
Algeria213
Cameroon237
Ethiopia251
Senegal221
Indonesia62
Japan81
India91
South Korea82
Thailand66
Hong Kong852
Macao853
Philippines63
Malaysia60
Taiwan886
Vietnam84
Bangladesh880
Brunei673
Myanmar95
Nepal977
Pakistan92
Spain34
Italy39
Poland48
Norway47
Romania40
Russia7
Germany49
France33
Hungary36
Luxembourg352
Türkiye90
UK44
Latvia371
Chile56
Mexico52
Brazil55
Colombia57
Peru51
Canada1
Kuwait965
Qatar974
Lebanon961
Oman968
Syria963
Yemen967
Iraq964
Iran98
Bahrain973
New Zealand64"""
SEED_GENERIC_TEXT = (
    "Because of regulations in this destination, your message from the CM.COM trial gateway has been replaced. "
    "Onboard to our platform for full functionality."
)
# The data file spells out the seed's abbreviations for texts.
SEED_NAMES = {
    ("replaced", "United States / Canada"): "US / Canada",
    ("content_filtered", "United Kingdom"): "UK",
}


def seed_rows(table: str) -> set[tuple[str, int]]:
    rows = set()
    for line in table.splitlines():
        match = re.fullmatch(r"(.*?)(\d+)", line)
        assert match
        rows.add((match.group(1), int(match.group(2))))
    return rows


def data() -> dict[str, Any]:
    text = resources.files("trialgw.data").joinpath("country_rules.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.mark.parametrize(("table", "seed"), [("blocked", SEED_BLOCKED), ("content_filtered", SEED_FILTERED)])
def test_data_file_is_the_seed_table_region_by_region(table, seed):
    entries = data()[table]
    regions = [entry["region"] for entry in entries]
    assert len(regions) == len(set(regions))
    seen = set()
    for entry in entries:
        # Each region really has the seed's calling code ...
        assert phonenumbers.country_code_for_region(entry["region"]) == int(entry["seed_prefix"]), entry
        seen.add((SEED_NAMES.get((table, entry["country"]), entry["country"]), int(entry["seed_prefix"])))
    # ... and together they are exactly the seed's rows.
    assert seen == seed_rows(seed)


def test_replaced_table_is_the_seed_table_prefix_by_prefix():
    rows = data()["replaced"]
    assert {(SEED_NAMES.get(("replaced", row["country"]), row["country"]), int(row["prefix"])) for row in rows} == (
        seed_rows(SEED_REPLACED)
    )
    assert sorted(row["prefix"] for row in rows) == ["1", "61"]


@pytest.mark.parametrize("prefix", ["1", "61"])
def test_replaced_prefixes_name_every_region_under_them(prefix):
    # A region phonenumbers adds under +1 or +61 later would be named by the row, not by itself: this catches it.
    (row,) = [row for row in data()["replaced"] if row["prefix"] == prefix]
    assert set(row["region_names"]) == set(phonenumbers.region_codes_for_country_code(int(prefix)))


def test_the_tables_hold_the_expected_regions():
    tables = {table: {entry["region"] for entry in data()[table]} for table in ("blocked", "content_filtered")}
    under_replaced = {
        region
        for row in data()["replaced"]
        for region in phonenumbers.region_codes_for_country_code(int(row["prefix"]))
    }
    assert tables["blocked"] == {"TZ", "CN", "SG", "KZ", "SA", "AE"}
    assert tables["content_filtered"] == set(
        re.findall(
            "[A-Z]{2}",
            "EG MA ZA DZ CM ET SN ID JP IN KR TH HK MO PH MY TW VN BD BN MM NP PK ES IT PL NO RO RU DE FR HU LU TR "
            "GB LV CL MX BR CO PE CA KW QA LB OM SY YE IQ IR BH NZ",
        )
    )
    assert tables["blocked"].isdisjoint(under_replaced | tables["content_filtered"])
    assert under_replaced & tables["content_filtered"] == {"CA"}


@pytest.mark.parametrize(
    ("number", "region", "country"),
    [
        ("+255712345678", "TZ", "Tanzania"),
        ("+8613800138000", "CN", "China"),
        ("+6581234567", "SG", "Singapore"),
        ("+77012345678", "KZ", "Kazakhstan"),
        ("+77172123456", "KZ", "Kazakhstan"),  # Astana landline
        ("+966501234567", "SA", "Saudi Arabia"),
        ("+971501234567", "AE", "United Arab Emirates"),
    ],
)
def test_blocked_destinations(number, region, country):
    assert rule_for(number) == CountryRule(region, RuleAction.BLOCK, country)


# One number per region under the seed's replaced prefixes: every US territory, a Caribbean sample, Australia's
# external territories. Each is replaced and named by its own region.
@pytest.mark.parametrize(
    ("number", "region", "country"),
    [
        ("+12125551234", "US", "United States"),
        ("+14155552671", "US", "United States"),
        ("+19075551234", "US", "United States"),  # Alaska
        ("+18085551234", "US", "United States"),  # Hawaii
        ("+14165550123", "CA", "Canada"),  # content-filtered too: replacement wins
        ("+16135550123", "CA", "Canada"),
        ("+17872345678", "PR", "Puerto Rico"),
        ("+19392345678", "PR", "Puerto Rico"),
        ("+16713001234", "GU", "Guam"),
        ("+13406421234", "VI", "U.S. Virgin Islands"),
        ("+16847331234", "AS", "American Samoa"),
        ("+16702345678", "MP", "Northern Mariana Islands"),
        ("+18762101234", "JM", "Jamaica"),
        ("+12423591234", "BS", "Bahamas"),
        ("+12462501234", "BB", "Barbados"),
        ("+18682911234", "TT", "Trinidad and Tobago"),
        ("+18092345678", "DO", "Dominican Republic"),
        ("+14413701234", "BM", "Bermuda"),
        ("+13453231234", "KY", "Cayman Islands"),
        ("+17215205678", "SX", "Sint Maarten"),
        ("+12843001234", "VG", "British Virgin Islands"),
        ("+61412345678", "AU", "Australia"),
        ("+61291234567", "AU", "Australia"),
        ("+61891641234", "CX", "Christmas Island"),
        ("+61891621234", "CC", "Cocos (Keeling) Islands"),
    ],
)
def test_replaced_destinations_per_territory(number, region, country):
    # The sample really is in that territory (else the case would test another region twice).
    assert region_of(number) == region
    assert rule_for(number) == CountryRule(region, RuleAction.REPLACE, country)
    assert f"({country})" in replaced_notice(rule_for(number).country_name)


@pytest.mark.parametrize(
    ("number", "region", "action", "country"),
    [
        # Within +7 the rule is the country's: Kazakhstan blocked, Russia only content-filtered.
        ("+77012345678", "KZ", RuleAction.BLOCK, "Kazakhstan"),
        ("+77272501234", "KZ", RuleAction.BLOCK, "Kazakhstan"),  # Almaty landline
        ("+79161234567", "RU", RuleAction.FILTER_WARNING, "Russia"),
        ("+74951234567", "RU", RuleAction.FILTER_WARNING, "Russia"),  # Moscow landline
    ],
)
def test_blocking_within_plus_7_is_by_country(number, region, action, country):
    assert region_of(number) == region
    assert rule_for(number) == CountryRule(region, action, country)


@pytest.mark.parametrize(
    ("number", "region", "country"),
    [
        ("+79161234567", "RU", "Russia"),  # +7 9… is Russia, +7 7… Kazakhstan
        ("+447400123456", "GB", "United Kingdom"),
        ("+4915123456789", "DE", "Germany"),
        ("+33612345678", "FR", "France"),
        ("+821012345678", "KR", "South Korea"),
        ("+905321234567", "TR", "Türkiye"),
        ("+85291234567", "HK", "Hong Kong"),
        ("+85366123456", "MO", "Macao"),
        ("+201001234567", "EG", "Egypt"),
        ("+5215512345678", "MX", "Mexico"),  # WhatsApp's legacy Mexican mobile form, normalized first
        ("+642112345678", "NZ", "New Zealand"),
    ],
)
def test_content_filtered_destinations(number, region, country):
    e164 = normalize_phone(number)
    assert e164 is not None
    assert rule_for(e164) == CountryRule(region, RuleAction.FILTER_WARNING, country)


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+31612345678", "NL"),
        ("+3197005159375", "NL"),
        ("+32470123456", "BE"),
        ("+447911123456", "GG"),  # +44 7911 is Guernsey to phonenumbers, not the UK: content filtering is by country
        ("+447797712345", "JE"),
        ("+4779012345", "SJ"),  # Svalbard, under +47
        ("+672381234", "NF"),  # Norfolk Island is Australian, but under +672, not the seed's +61
        ("+262692123456", "RE"),
    ],
)
def test_other_destinations_are_allowed(number, region):
    assert rule_for(number) == CountryRule(region, RuleAction.ALLOW)


@pytest.mark.parametrize(
    ("number", "action", "country"),
    [
        # Unknown ranges under a shared calling code: the strictest rule among the code's regions.
        ("+76012345678", RuleAction.BLOCK, "Kazakhstan"),
        ("+76222123456", RuleAction.BLOCK, "Kazakhstan"),
        ("+15555555555", RuleAction.REPLACE, "United States / Canada"),
        ("+61512345678", RuleAction.REPLACE, "Australia"),
        ("+447700900123", RuleAction.FILTER_WARNING, "United Kingdom"),
        # Non-geographic codes have no rule.
        ("+80012345678", RuleAction.ALLOW, None),
        ("+882123456789", RuleAction.ALLOW, None),
    ],
)
def test_numbers_without_a_region_get_the_strictest_rule_of_their_calling_code(number, action, country):
    assert phonenumbers.region_code_for_number(phonenumbers.parse(number)) in {None, "001"}
    assert rule_for(number) == CountryRule(None, action, country)


@pytest.mark.parametrize("garbage", ["", "hello", "+", "+999123", "0612345678", "+" + "1" * 100])
def test_input_that_is_not_a_number_is_blocked(garbage):
    assert rule_for(garbage) == CountryRule(None, RuleAction.BLOCK)


def _with(**tables: Any) -> CountryRules:
    """The shipped data with some tables swapped, for precedence and validation cases."""
    raw = data()
    raw.update(tables)
    return CountryRules.from_data(raw)


def test_a_blocked_region_under_a_replaced_prefix_is_blocked():
    rules = _with(blocked=[*data()["blocked"], {"region": "PR", "country": "Puerto Rico"}])
    assert rules.rule_for("+17872345678") == CountryRule("PR", RuleAction.BLOCK, "Puerto Rico")
    # Its neighbours under +1 keep the replacement ...
    assert rules.rule_for("+16713001234") == CountryRule("GU", RuleAction.REPLACE, "Guam")
    # ... and a +1 number no region holds might be in Puerto Rico: blocked (fail closed, as +7 6… is).
    assert rules.rule_for("+15555555555") == CountryRule(None, RuleAction.BLOCK, "Puerto Rico")


def test_a_content_filtered_region_under_a_replaced_prefix_is_replaced():
    filtered = [*data()["content_filtered"], {"region": "PR", "country": "Puerto Rico"}]
    rules = _with(content_filtered=filtered)
    assert rules.rule_for("+17872345678") == CountryRule("PR", RuleAction.REPLACE, "Puerto Rico")
    # Without the prefix row, the same region falls back to its content-filter warning: the tables are independent.
    only_au = [row for row in data()["replaced"] if row["prefix"] == "61"]
    rules = _with(content_filtered=filtered, replaced=only_au)
    assert rules.rule_for("+17872345678") == CountryRule("PR", RuleAction.FILTER_WARNING, "Puerto Rico")
    assert rules.rule_for("+12125551234") == CountryRule("US", RuleAction.ALLOW)


def test_a_region_without_its_own_name_is_named_by_the_seed_row():
    rows = [
        {**row, "region_names": {"US": "United States"}} if row["prefix"] == "1" else row for row in data()["replaced"]
    ]
    rules = _with(replaced=rows)
    assert rules.rule_for("+17872345678") == CountryRule("PR", RuleAction.REPLACE, "United States / Canada")
    assert rules.rule_for("+12125551234") == CountryRule("US", RuleAction.REPLACE, "United States")


def _replaced_row(**changes: Any) -> list[dict[str, Any]]:
    (row,) = [row for row in data()["replaced"] if row["prefix"] == "1"]
    return [{**row, **changes}]


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        # The old, per-region form of the replaced table must not load (it would silently replace nothing).
        ({"replaced": [{"region": "US", "country": "United States", "seed_prefix": "1"}]}, "only the keys"),
        ({"replaced": _replaced_row(prefix=1)}, "calling code as 'prefix'"),
        ({"replaced": _replaced_row(prefix="01")}, "calling code as 'prefix'"),
        ({"replaced": _replaced_row(prefix="999")}, "calling code as 'prefix'"),
        ({"replaced": _replaced_row(prefix="+1")}, "calling code as 'prefix'"),
        ({"replaced": _replaced_row(prefix="１")}, "calling code as 'prefix'"),  # full-width: str.isdigit() accepts it
        ({"replaced": _replaced_row(country="")}, "no country name"),
        ({"replaced": _replaced_row(region_names={"GB": "United Kingdom"})}, "'GB' is no region under +1"),
        ({"replaced": _replaced_row(region_names={"pr": "Puerto Rico"})}, "'pr' is no region under +1"),
        ({"replaced": _replaced_row(region_names={"PR": ""})}, "region PR has no name"),
        ({"replaced": _replaced_row(region_names=["PR"])}, "must be an object"),
        ({"replaced": _replaced_row() * 2}, "prefix 1 twice"),
        ({"replaced": {"1": "US / Canada"}}, "'replaced' must be a list"),
        ({"blocked": [{"region": "XX", "country": "Nowhere"}]}, "ISO region phonenumbers knows"),
        ({"blocked": [{"region": "kz", "country": "Kazakhstan"}]}, "ISO region phonenumbers knows"),
        ({"blocked": [{"prefix": "7", "country": "Kazakhstan"}]}, "only the keys"),
        ({"blocked": [{"region": "KZ", "country": "Kazakhstan", "seed_prefix": "8"}]}, "is not under +8"),
        ({"blocked": [{"region": "KZ", "country": "Kazakhstan"}] * 2}, "region KZ twice"),
        ({"content_filtered": [{"region": "DE"}]}, "no country name"),
        ({"content_filtered": None}, "'content_filtered' must be a list"),
        ({"replace": []}, "unknown keys ['replace']"),
    ],
)
def test_a_malformed_data_file_is_refused(tables, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _with(**tables)


def test_the_data_file_must_be_an_object():
    with pytest.raises(ValueError, match="JSON object"):
        CountryRules.from_data([])


def test_replacement_text_is_the_seeds_generic_text():
    assert replacement_text() == SEED_GENERIC_TEXT
    assert replacement_text("CM.COM") == SEED_GENERIC_TEXT
    assert replacement_text("Acme") == SEED_GENERIC_TEXT.replace("CM.COM", "Acme")


def test_notices_name_the_destination_and_the_seeds_subjects():
    warning = warning_text("Germany")
    assert "(Germany)" in warning
    for subject in ("adult/sexual", "political", "religious", "marketing", "racist", "phishing", "illegal substances"):
        assert subject in warning
    assert "(Canada)" in replaced_notice("Canada")
    assert "(Puerto Rico)" in replaced_notice("Puerto Rico")
    assert "generic text" in replaced_notice(None)
    assert "this destination is" in warning_text(None)


def test_data_file_is_read_once(monkeypatch):
    calls = []
    real_files = resources.files

    def counting_files(package):
        calls.append(package)
        return real_files(package)

    country_rules.rules.cache_clear()
    monkeypatch.setattr(resources, "files", counting_files)  # the module country_rules reads through
    try:
        for number in ("+31612345678", "+77012345678", "+76012345678", "+12125551234", "+17872345678", "+447400123456"):
            rule_for(number)
            rule_for(number)
        assert calls == ["trialgw.data"]
    finally:
        monkeypatch.undo()
        country_rules.rules.cache_clear()


def test_importing_reads_nothing():
    package_root = str(Path(country_rules.__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {package_root!r})\n"
        "import trialgw.country_rules as c, trialgw.sms\n"
        "assert c.rules.cache_info().currsize == 0\n"
        "assert c.rule_for('+77012345678').action == 'block'\n"
        "assert c.rules.cache_info().currsize == 1\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
