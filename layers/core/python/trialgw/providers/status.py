"""What a provider's status report says about one outbound message, whatever the provider's wire format.

Each provider package's parser produces these (`trialgw.providers.cm.status`, `.meta.status`, `.aws_sms.status`);
the status webhook then moves the message's record forward (statuses only move forward, see
`trialgw.ports.STATUS_MOVES_FROM`).
"""

from __future__ import annotations

from typing import NamedTuple


class StatusReport(NamedTuple):
    """One report: our `message_id`, the new `status`, why it failed (`reason`), and when (`at`, Unix seconds).

    `provider_message_id` is the provider's own id when its reports carry one instead of (or besides) ours.
    """

    message_id: str
    status: str  # sent|delivered|read|failed (the values of trialgw.ports.MessageStatus, without queued)
    reason: str | None
    at: int | None
    provider_message_id: str | None = None
