"""A trial's quotas as answers show them: one place for the status endpoint, the send headers and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from trialgw.channels import CHANNELS
from trialgw.models import Channel, TrialState
from trialgw.settings import TrialSettings


def iso_utc(epoch: float) -> str:
    """`2026-11-25T21:53:00Z`: the time format of every JSON answer and header."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc_ms(epoch_ms: int) -> str:
    """`2026-11-25T21:53:00.123Z`: `iso_utc` with milliseconds, for a message's time (still RFC 3339 date-time)."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{iso_utc(seconds)[:-1]}.{millis:03d}Z"


class QuotaGroup(NamedTuple):
    """The channels one quota setting covers: one channel's own quota, or one `shared` by several ("each other
    channel"), as the e-mail and the sign-up page word the quotas."""

    quota: int
    channels: tuple[Channel, ...]

    @property
    def shared(self) -> bool:
        return len(self.channels) > 1


def quota_groups(settings: TrialSettings) -> list[QuotaGroup]:
    """One group per quota setting the channel registry names, in registry order, the shared ones last."""
    by_setting: dict[str, list[Channel]] = {}
    for spec in CHANNELS.values():
        by_setting.setdefault(spec.quota_setting, []).append(spec.channel)
    groups = [QuotaGroup(getattr(settings, setting), tuple(members)) for setting, members in by_setting.items()]
    return sorted(groups, key=lambda group: group.shared)


def remaining(state: TrialState, settings: TrialSettings, channel: Channel, *, ended: bool = False) -> int:
    """Messages still allowed on `channel`; none once the trial has `ended` (its key sends nothing any more)."""
    return 0 if ended else max(0, settings.quota_for(channel) - state.sent.get(channel, 0))


def quota_rows(
    state: TrialState, settings: TrialSettings, channels: Iterable[Channel], *, ended: bool = False
) -> list[dict[str, Any]]:
    """`{channel, quota, sent, remaining}` per channel; `remaining` is 0 everywhere once the trial has `ended`, while
    `sent` still counts what it sent."""
    return [
        {
            "channel": channel.value,
            "quota": settings.quota_for(channel),
            "sent": state.sent.get(channel, 0),
            "remaining": remaining(state, settings, channel, ended=ended),
        }
        for channel in channels
    ]
