"""A send's status as the trial reports it to developers: CM's status-report JSON (issue 18, the trial's own status
webhook), whichever provider carried the message.

The same shape CM POSTs to a status webhook after onboarding (`{"messages": {"msg": {...}}}`, `msg` one object;
reference §3.2), so a developer's endpoint written against the trial keeps working with CM. `reference` is the
developer's own `reference` of the send (CM's report carries the one given when sending), never our message id.
"""

from __future__ import annotations

from datetime import UTC, datetime

# CM's `status.code`: 0 accepted by the operator (our `sent`), 2 delivered, 3 failed (will not be delivered), 4 read.
# Keyed by `trialgw.ports.MessageStatus` values (this module sits below the ports); `queued` is no report.
STATUS_CODES: dict[str, str] = {"sent": "0", "delivered": "2", "failed": "3", "read": "4"}
# CM's zone-less UTC, as `timeUtc` in its MO JSON (trialgw.mo_json).
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def to_cm_status_json(
    *, to: str, reference: str | None, status: str, at: int, reason: str | None = None
) -> dict[str, object]:
    """CM's status report for a send to `to` that moved to `status` (sent, delivered, failed, read) at `at` (epoch
    seconds): `received` is that time in UTC, `errorCode` and `errorDescription` the failure's reason (empty for
    every other status), `operator` empty (the trial knows none). ValueError for a status that is no report
    (`queued`)."""
    code = STATUS_CODES.get(status)
    if code is None:
        raise ValueError(f"no status report for {status!r}")
    error = (reason or "") if status == "failed" else ""
    return {
        "messages": {
            "msg": {
                "received": datetime.fromtimestamp(at, tz=UTC).strftime(_TIME_FORMAT),
                "to": to,
                "reference": reference or "",
                "status": {"code": code, "errorCode": error, "errorDescription": error},
                "operator": "",
            }
        }
    }


__all__ = ["STATUS_CODES", "to_cm_status_json"]
