"""The seed's SMS country tables as data, matched on the region phonenumbers gives."""

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
from trialgw.addresses import normalize_phone
from trialgw.country_rules import CountryRule, RuleAction, replaced_notice, replacement_text, rule_for, warning_text

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
# The data file spells out the seed's abbreviations for texts; "US / Canada" is one seed row, two regions.
SEED_NAMES = {
    ("replaced", "United States"): "US / Canada",
    ("replaced", "Canada"): "US / Canada",
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


@pytest.mark.parametrize(
    ("table", "seed"),
    [("blocked", SEED_BLOCKED), ("replaced", SEED_REPLACED), ("content_filtered", SEED_FILTERED)],
)
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


def test_the_tables_hold_the_expected_regions():
    tables = {
        table: {entry["region"] for entry in data()[table]} for table in ("blocked", "replaced", "content_filtered")
    }
    assert tables["blocked"] == {"TZ", "CN", "SG", "KZ", "SA", "AE"}
    assert tables["replaced"] == {"US", "CA", "AU"}
    assert tables["content_filtered"] == set(
        re.findall(
            "[A-Z]{2}",
            "EG MA ZA DZ CM ET SN ID JP IN KR TH HK MO PH MY TW VN BD BN MM NP PK ES IT PL NO RO RU DE FR HU LU TR "
            "GB LV CL MX BR CO PE CA KW QA LB OM SY YE IQ IR BH NZ",
        )
    )
    assert tables["blocked"].isdisjoint(tables["replaced"] | tables["content_filtered"])
    assert tables["replaced"] & tables["content_filtered"] == {"CA"}


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


@pytest.mark.parametrize(
    ("number", "region", "country"),
    [
        ("+12125551234", "US", "United States"),
        ("+14155552671", "US", "United States"),
        ("+14165550123", "CA", "Canada"),  # content-filtered too: replacement wins
        ("+16135550123", "CA", "Canada"),
        ("+61412345678", "AU", "Australia"),
        ("+61291234567", "AU", "Australia"),
    ],
)
def test_replaced_destinations(number, region, country):
    assert rule_for(number) == CountryRule(region, RuleAction.REPLACE, country)


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
        ("+17875551234", "PR"),  # NANP, but not the US or Canada
        ("+18765551234", "JM"),
        ("+447911123456", "GG"),  # +44 7911 is Guernsey to phonenumbers, not the UK
        ("+4779012345", "SJ"),  # Svalbard, under +47
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
    assert "generic text" in replaced_notice(None)
    assert "this destination is" in warning_text(None)


def test_data_file_is_read_once(monkeypatch):
    calls = []
    real_files = resources.files

    def counting_files(package):
        calls.append(package)
        return real_files(package)

    country_rules.rules_by_region.cache_clear()
    country_rules._rule_for_calling_code.cache_clear()
    monkeypatch.setattr(resources, "files", counting_files)  # the module country_rules reads through
    try:
        for number in ("+31612345678", "+77012345678", "+76012345678", "+12125551234", "+447400123456"):
            rule_for(number)
            rule_for(number)
        assert calls == ["trialgw.data"]
    finally:
        monkeypatch.undo()
        country_rules.rules_by_region.cache_clear()
        country_rules._rule_for_calling_code.cache_clear()


def test_importing_reads_nothing():
    package_root = str(Path(country_rules.__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {package_root!r})\n"
        "import trialgw.country_rules as c, trialgw.sms\n"
        "assert c.rules_by_region.cache_info().currsize == 0\n"
        "assert c.rule_for('+77012345678').action == 'block'\n"
        "assert c.rules_by_region.cache_info().currsize == 1\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
