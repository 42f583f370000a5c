"""The send gateway and the trial status route under generated requests: CM JSON in every shape, SMS texts at the
2-part limit, and schemathesis' cases from the stack's own /openapi.json."""

from __future__ import annotations

import pytest

from tests.fuzz.documented import SEND, STATUS
from tests.fuzz.properties import PROPERTIES, FuzzTarget, Problem, Property, Reply, run

pytestmark = pytest.mark.fuzz


@pytest.mark.parametrize(
    "prop", [p for p in PROPERTIES if p.route in (SEND, STATUS)], ids=lambda p: f"{p.route} {p.name}"
)
def test_send_routes(fuzz_target: FuzzTarget, prop: Property) -> None:
    tally = run(fuzz_target, prop, prop.test_examples)
    assert tally.requests >= prop.test_examples, tally
    assert prop.must_see <= tally.answers.keys(), tally.answers


def test_the_quota_watch_sees_a_refusal_that_took_quota(fuzz_target: FuzzTarget) -> None:
    """The quota rule is not vacuous: an accepted send passed off as a refusal breaks it."""
    trial = fuzz_target.send_trial
    address = trial.recipients["WhatsApp"]
    document = {
        "messages": {
            "authentication": {"producttoken": trial.key},
            "msg": [{"allowedChannels": ["WhatsApp"], "to": [{"number": address}], "body": {"content": "quota check"}}],
        }
    }

    def accepted_but_reported_refused() -> Reply:
        result = fuzz_target.stack.post_json("/messaging/messagingtrial/gw", document)
        assert result.status in (200, 429), result.text
        return Reply(400 if result.status == 200 else 200, {}, result.body)

    with pytest.raises(Problem, match="quota taken"):
        fuzz_target.with_quota_watch(accepted_but_reported_refused)
