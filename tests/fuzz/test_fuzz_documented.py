"""The table of documented answers covers every public route the stack serves, so a new route needs its row."""

from __future__ import annotations

import pytest

from infra.topology import ROUTES
from tests.fuzz.documented import DOCUMENTED, LOCAL_MO

pytestmark = pytest.mark.fuzz


def test_every_route_has_its_documented_answers() -> None:
    served = {f"{route.method} {route.path}" for route in ROUTES}
    assert served == set(DOCUMENTED) - {LOCAL_MO}
