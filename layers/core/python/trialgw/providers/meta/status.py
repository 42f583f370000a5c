"""WhatsApp's statuses as status reports: `trialgw.providers.meta.inbound.parse_meta` reads them with the messages
(one parser per webhook body), this turns them into the port's `StatusReport`s."""

from __future__ import annotations

from trialgw.providers.meta.inbound import MetaStatus
from trialgw.providers.status import StatusReport

# The WhatsApp statuses that move a sent message; others (e.g. "deleted") say nothing about delivery.
META_STATUSES = frozenset({"sent", "delivered", "read", "failed"})


def meta_status_reports(statuses: list[MetaStatus]) -> list[StatusReport]:
    """The status reports in a Meta webhook's `statuses`, by Meta's message id; a failure's reason is Meta's error
    code and title."""
    reports = []
    for status in statuses:
        if status.status not in META_STATUSES:
            continue
        reason = None
        if status.status == "failed":
            reason = " ".join(str(part) for part in (status.error_code, status.error_title) if part) or "failed"
        reports.append(StatusReport("", status.status, reason, status.at, status.provider_message_id))
    return reports


__all__ = ["META_STATUSES", "meta_status_reports"]
