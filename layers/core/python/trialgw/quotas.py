"""A trial's quotas as answers show them: one place for the status endpoint, the send headers and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from trialgw.models import Channel, TrialState
from trialgw.settings import TrialSettings


def iso_utc(epoch: float) -> str:
    """`2026-11-25T21:53:00Z`: the time format of every JSON answer and header."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def remaining(state: TrialState, settings: TrialSettings, channel: Channel) -> int:
    return max(0, settings.quota_for(channel) - state.sent.get(channel, 0))


def quota_rows(state: TrialState, settings: TrialSettings, channels: Iterable[Channel]) -> list[dict[str, Any]]:
    """`{channel, quota, sent, remaining}` per channel."""
    return [
        {
            "channel": channel.value,
            "quota": settings.quota_for(channel),
            "sent": state.sent.get(channel, 0),
            "remaining": remaining(state, settings, channel),
        }
        for channel in channels
    ]
