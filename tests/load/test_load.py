"""A bounded load test of the local stack on loopback: quotas and the 10-recipient limit stay exact.

`benchmarks.load` runs the load (its own stack, a few seconds of overlapping trials: whitelisting storms past
the limit, sends past each channel's quota) and proves every count from the stack's own answers afterwards.
Only counts are asserted here, never a time: `make bench` reports the throughput and latencies.
"""

from __future__ import annotations

import pytest

from benchmarks.load import LoadConfig, run
from trialgw.models import Channel

pytestmark = pytest.mark.load

# Small quotas keep the run short; the edges are the same: the quota's last slot and the first refusal.
CONFIG = LoadConfig(
    trials_in_flight=3,
    workers=8,
    storm_senders=9,
    repeats=1,
    over_quota=2,
    strangers=1,
    quota_sms=2,
    quota_whatsapp=2,
    quota_other=3,
)
QUOTAS = {Channel.SMS: 2, Channel.WHATSAPP: 2, Channel.MESSENGER: 3, Channel.INSTAGRAM: 3}
MAX_RECIPIENTS = 10


def test_concurrent_trials_get_exactly_their_quotas_and_ten_recipients() -> None:
    result = run(duration_seconds=4, max_requests=600, config=CONFIG)

    assert result.problems == []
    assert result.unexpected == 0
    assert result.ok
    trials = result.trials
    assert trials >= 2
    channels = len(Channel)
    assert result.answers == result.expected
    # The expectation itself, spelled out: per trial, every quota exactly, 10 recipients exactly.
    assert result.answers["send 200"] == trials * sum(QUOTAS.values())
    assert result.answers["send 429"] == trials * channels * CONFIG.over_quota
    assert result.answers["send 403"] == trials * channels * CONFIG.strangers
    assert result.answers["webhook whitelisted"] == trials * MAX_RECIPIENTS
    assert result.answers["webhook whitelist_full"] == trials * (CONFIG.storm_senders - (MAX_RECIPIENTS - channels))
    assert result.answers["webhook already_whitelisted"] == trials * CONFIG.repeats
    assert not any(answer.startswith(("send 5", "webhook None", "signup 5")) for answer in result.answers)
