"""Sign-up under generated requests: any body, any content type; a refused sign-up sends no e-mail."""

from __future__ import annotations

import pytest

from tests.fuzz.documented import SIGNUP
from tests.fuzz.properties import PROPERTIES, FuzzTarget, Property, run

pytestmark = pytest.mark.fuzz


@pytest.mark.parametrize("prop", [p for p in PROPERTIES if p.route == SIGNUP], ids=lambda p: p.name)
def test_signup(fuzz_target: FuzzTarget, prop: Property) -> None:
    tally = run(fuzz_target, prop, prop.test_examples)
    assert tally.requests >= prop.test_examples, tally
    assert prop.must_see <= tally.answers.keys(), tally.answers
