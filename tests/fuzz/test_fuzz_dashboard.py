"""The dashboard API under generated `Authorization` headers and `limit` / `cursor` queries."""

from __future__ import annotations

import pytest

from tests.fuzz.documented import DASHBOARD_MESSAGES, DASHBOARD_TRIAL, DASHBOARD_WHITELIST
from tests.fuzz.properties import PROPERTIES, FuzzTarget, Property, run

pytestmark = pytest.mark.fuzz

DASHBOARD_ROUTES = (DASHBOARD_TRIAL, DASHBOARD_WHITELIST, DASHBOARD_MESSAGES)


@pytest.mark.parametrize("prop", [p for p in PROPERTIES if p.route in DASHBOARD_ROUTES], ids=lambda p: p.route)
def test_dashboard(fuzz_target: FuzzTarget, prop: Property) -> None:
    tally = run(fuzz_target, prop, prop.test_examples)
    assert tally.requests >= prop.test_examples, tally
    assert prop.must_see <= tally.answers.keys(), tally.answers
