"""A trial that lives 3 seconds, against the local stack over HTTP: expiry ends the whitelist on the second.

While the trial lives, a whitelisted sender's messages are recorded; from the second it is due the same
sender is a stranger again (the join hint) and its key is refused. Each message is bracketed by the
wall clock before and after it, so the test holds whatever the machine's speed.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import LocalStack, start_local_stack

pytestmark = pytest.mark.e2e

GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
LIFETIME_SECONDS = 3
# The trial must be gone well within this after it was created (bounded polling).
EXPIRY_DEADLINE_SECONDS = 10


def _sign_up(stack: LocalStack) -> tuple[str, float]:
    """A new trial: its key and its expiry (epoch seconds), as the signup API answered it."""
    email = f"e2e-expiry-{uuid.uuid4().hex[:10]}@example.com"
    response = stack.post_json("/signup", {"name": "Expiry Tester", "email": email})
    assert response.status == 202, response.text
    expires_at = datetime.fromisoformat(response.json()["expiresAt"].replace("Z", "+00:00")).timestamp()
    [mail] = stack.mail(to=email)
    keys = set(GUID.findall(mail["text"]))
    assert len(keys) == 1
    return str(keys.pop()), expires_at


def _outcome(stack: LocalStack, sender: str, text: str) -> tuple[str, dict[str, Any]]:
    response = stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": sender, "text": text})
    assert response.status == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == 200, answer
    [outcome] = answer["answer"]["outcomes"]
    return outcome, answer


def test_an_expired_trial_forgets_its_whitelist_and_refuses_its_key() -> None:
    with start_local_stack({"TRIALGW_TRIAL_LIFETIME_SECONDS": str(LIFETIME_SECONDS)}) as stack:
        created = time.time()
        key, expires_at = _sign_up(stack)
        assert created + LIFETIME_SECONDS - 1 <= expires_at <= time.time() + LIFETIME_SECONDS + 1
        sender = f"+316{random.randrange(10**8):08d}"

        assert _outcome(stack, sender, f"Hi, my key is {key}")[0] == "whitelisted"
        assert _outcome(stack, sender, "Hello again")[0] == "recorded"

        # Poll with messages from the sender until one is no longer recorded for the trial.
        deadline = created + EXPIRY_DEADLINE_SECONDS
        while True:
            before = time.time()
            outcome, answer = _outcome(stack, sender, "Still there?")
            after = time.time()
            if outcome != "recorded":
                break
            # Recorded means the trial was still live when the message was handled.
            assert before < expires_at, f"recorded at {before:.2f}, after the expiry {expires_at}"
            assert after < deadline, "the trial did not expire in time"
            time.sleep(0.2)

        # The first message after the expiry: a stranger again, who is told how to join.
        assert outcome == "join_hint", answer
        assert after >= expires_at, f"expired before its time: answered at {after:.2f}, due {expires_at}"
        [hint] = answer["replies"]
        assert hint["to"] == sender
        assert "send the trial key" in hint["text"]

        # The key itself is now refused, with a reply saying so; the sender is not whitelisted again.
        outcome, answer = _outcome(stack, sender, key)
        assert outcome == "invalid_key", answer
        [refusal] = answer["replies"]
        assert "invalid or has expired" in refusal["text"]
        # The daily join hint was given once: a further message gets no second one.
        assert _outcome(stack, sender, "Hello?")[0] == "ignored"
