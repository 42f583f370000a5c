"""CM's JSON status reports (reference §3.2): `{"messages": {"msg": {...} | [...]}}`, keys in any letter case;
`status.code` 0 accepted → sent, 1 rejected → failed, 2 delivered, 3 failed, 4 read (the status words
Accepted/Sent/Delivered/Read/Rejected/Failed/Cancelled are understood too).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from trialgw.errors import InvalidPayload
from trialgw.json_input import as_object, describe, lookup
from trialgw.ports import MessageStatus
from trialgw.providers.cm._values import as_int as _as_int
from trialgw.providers.cm._values import as_text as _as_text
from trialgw.providers.cm._values import scrub as _scrub
from trialgw.providers.status import StatusReport

_MAX_STATUS_REPORTS = 1000
# Our message ids are uuid hex (32); anything longer or odder in a report's `reference` is not ours.
_REFERENCE_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Unix seconds beyond this (year 3058) are no report's time; larger numbers are read as milliseconds.
_MAX_SECONDS = 2**35

_STATUS_CODES: dict[str, MessageStatus] = {
    "0": MessageStatus.SENT,
    "1": MessageStatus.FAILED,
    "2": MessageStatus.DELIVERED,
    "3": MessageStatus.FAILED,
    "4": MessageStatus.READ,
    "accepted": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "rejected": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "cancelled": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
_FAILED_REASONS = {"1": "Rejected by CM or the operator", "3": "Not delivered"}


def _parse_time(value: object) -> int | None:
    """CM's `received` as Unix seconds; its format is not documented, so ISO forms and epoch numbers are tried."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) and abs(value) < _MAX_SECONDS * 1000 else None
    if isinstance(value, int):
        # Milliseconds when it is too large to be seconds.
        seconds = value // 1000 if value >= _MAX_SECONDS else value
        return seconds if 0 <= seconds < _MAX_SECONDS else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,16}", text):
        return _parse_time(int(text))
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            # CM's other timestamps (`timeUtc`) are UTC without a zone.
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    except (ValueError, OverflowError):
        return None


def _parse_report(value: object) -> StatusReport | None:
    if not isinstance(value, dict):
        return None
    reference = lookup(value, "reference", ignore_case=True)
    if not isinstance(reference, str) or not _REFERENCE_SHAPE.fullmatch(reference.strip()):
        return None
    status = lookup(value, "status", ignore_case=True)
    if not isinstance(status, dict):
        return None
    raw_code = lookup(status, "code", ignore_case=True)
    if isinstance(raw_code, bool) or not isinstance(raw_code, int | str):
        return None
    code = str(raw_code).strip().casefold()
    mapped = _STATUS_CODES.get(code)
    if mapped is None:
        return None
    reason = None
    if mapped is MessageStatus.FAILED:
        description = _as_text(lookup(status, "errorDescription", ignore_case=True))
        error_code = lookup(status, "errorCode", ignore_case=True)
        error = _as_text(error_code) or (str(error_code) if _as_int(error_code) is not None else None)
        if description:
            reason = _scrub(description)
        elif error:
            reason = _scrub(f"CM status error {error}")
        else:
            reason = _FAILED_REASONS.get(code, code.capitalize())
    return StatusReport(
        message_id=reference.strip(),
        status=mapped.value,
        reason=reason,
        at=_parse_time(lookup(value, "received", ignore_case=True)),
    )


def parse_cm_status_report(body: object) -> list[StatusReport]:
    """The reports in a CM JSON status report body (`messages.msg` one object or an array of them).

    Raises InvalidPayload when the envelope is not CM's. A report that cannot be matched or understood (no or an odd
    `reference`, an unknown status code) is skipped, not refused: CM retries a refused body for days, and one odd
    report must not hold back the others. `at` is CM's `received` time when it can be read.
    """
    envelope = as_object(body, "body")
    messages = lookup(envelope, "messages", ignore_case=True)
    if messages is None:
        raise InvalidPayload("body.messages is required.")
    msg = lookup(as_object(messages, "body.messages"), "msg", ignore_case=True)
    if isinstance(msg, dict):
        items: list[object] = [msg]
    elif isinstance(msg, list):
        if len(msg) > _MAX_STATUS_REPORTS:
            raise InvalidPayload(f"At most {_MAX_STATUS_REPORTS} status reports per call.")
        items = msg
    else:
        raise InvalidPayload(f"body.messages.msg must be an object or an array, not {describe(msg)}.")
    return [report for report in map(_parse_report, items) if report is not None]


__all__ = ["parse_cm_status_report"]
