"""The providers' entry points under generated requests: CM's MO and status webhooks, Meta's handshake and signed
envelopes, two-way SMS through the local phone; and unauthenticated calls to them, which must change nothing."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.fuzz import strategies as gen
from tests.fuzz.documented import CM_MO, CM_STATUS, LOCAL_MO, META, META_VERIFY
from tests.fuzz.properties import CM_SECRET, PROPERTIES, FuzzTarget, Problem, Property, run

pytestmark = pytest.mark.fuzz

WEBHOOK_ROUTES = (CM_MO, CM_STATUS, META_VERIFY, META, LOCAL_MO)


@pytest.mark.parametrize(
    "prop", [p for p in PROPERTIES if p.route in WEBHOOK_ROUTES], ids=lambda p: f"{p.route} {p.name}"
)
def test_webhooks(fuzz_target: FuzzTarget, prop: Property) -> None:
    tally = run(fuzz_target, prop, prop.test_examples)
    assert tally.requests >= prop.test_examples, tally
    assert prop.must_see <= tally.answers.keys(), tally.answers


def test_the_nothing_written_check_sees_a_write(fuzz_target: FuzzTarget) -> None:
    """The unauthenticated rule is not vacuous: an authenticated message that whitelists a sender on the watched
    trial is seen as a change."""
    fuzz_target.settle()
    sender = f"+3161{uuid.uuid4().int % 10**7:07d}"
    mo = {
        "reference": str(uuid.uuid4()),
        "from": {"number": sender, "name": ""},
        "to": {"number": gen.COMPANY_WHATSAPP},
        "message": {"text": fuzz_target.quiet_trial.key},
        "channel": "WhatsApp",
    }
    result = fuzz_target.stack.post_json(gen.cm_webhook_path("cm", CM_SECRET), mo)
    assert json.loads(result.body)["outcomes"] == ["whitelisted"], result.text
    with pytest.raises(Problem, match="changed the stack"):
        fuzz_target.expect_nothing_written("an authenticated whitelisting message")
