"""Two-way SMS as AWS delivers it: SNS notifications whose `Message` is generated (End User Messaging's JSON,
mutated, delivery events, junk), as the SMS topics' queue hands them to the MO function (SNS's envelope in SQS
records), on moto, since SNS has no HTTP route. The function must never fail a notification: the queue would retry
it into its dead-letter queue and count an error for what is the sender's problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.strategies import sns_events
from tests.integration.conftest import FakeLambdaContext, load_handler, make_trial, sns_via_sqs

pytestmark = pytest.mark.fuzz

EXAMPLES = 100


@pytest.mark.usefixtures("aws_env")
def test_sns_notifications_never_fail_the_sms_inbound_function() -> None:
    handler = load_handler("sms_inbound")
    key = make_trial()
    outcomes: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(sns_events(key))
    def notification(event: dict[str, Any]) -> None:
        result = handler.handler(sns_via_sqs(event), FakeLambdaContext())
        assert result["batchItemFailures"] == [], result
        assert len(result["outcomes"]) == len(event["Records"]), result
        outcomes.update(result["outcomes"].values())

    notification()
    # The generated notifications reach the use case, not only the parser's refusals.
    assert "whitelisted" in outcomes, outcomes
