"""`TRIALGW_SANDBOX_FAULT=crash` on a local stack of its own: every delivery attempt raises an unexpected error (as
a bug or a timeout would, not a provider's refusal), so nothing records why on any attempt; after the last one the
message reaches the dead-letter queue, its consumer marks the send `failed`, and the developer's dashboard says so
with a reason they understand, instead of `queued` for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LocalStack, random_phone, start_local_stack
from tests.e2e.test_delivery_e2e import dead_letters, deliveries, eventually, send, whitelist

pytestmark = pytest.mark.e2e

ATTEMPTS = 2
REASON = (
    f"not delivered: gave up after {ATTEMPTS} attempts (the delivery never completed: a timeout or an internal error)"
)


@pytest.fixture(scope="module")
def crashing_stack() -> Iterator[LocalStack]:
    env = {
        "TRIALGW_SANDBOX_FAULT": "crash",
        "TRIALGW_DELIVERY_MAX_ATTEMPTS": str(ATTEMPTS),
        "TRIALGW_DELIVERY_BACKOFF_BASE_SECONDS": "0",
    }
    with start_local_stack(env) as stack:
        yield stack


def dashboard_messages(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    response = stack.get("/dashboard-api/messages", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


def test_a_send_whose_every_attempt_crashes_ends_failed_on_the_dashboard(crashing_stack: LocalStack) -> None:
    stack = crashing_stack
    key = stack.sign_up()
    recipient = random_phone()
    whitelist(stack, "WhatsApp", recipient, key)
    send(stack, key, recipient, "This crashes on every attempt")

    def failed() -> list[dict[str, Any]] | None:
        outbound = [m for m in dashboard_messages(stack, key) if m["direction"] == "outbound"]
        return [m for m in outbound if m["status"] == "failed"] or None

    [message] = eventually(failed, "the send failed on the dashboard", timeout=60)

    assert message["reason"] == REASON
    assert message["counterpart"] == recipient
    assert message["summary"] == "This crashes on every attempt"
    # Every attempt raised: nothing was delivered, and the dead letter was consumed once marked.
    assert deliveries(stack, recipient) == []
    assert "Sandbox configured to crash" in stack.output()
    assert eventually(lambda: dead_letters(stack) == 0 or None, "the dead-letter queue emptied by its consumer")
    # Stays failed: the record only moves forward.
    assert [m["status"] for m in dashboard_messages(stack, key) if m["direction"] == "outbound"] == ["failed"]
