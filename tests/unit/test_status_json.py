"""CM's status-report JSON of a send's status (issue 18, `trialgw.status_json`): every status a report exists for,
and what the gateway's own CM status parser reads back from it (the developer's endpoint is written against CM's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from trialgw.providers.cm.status import parse_cm_status_report
from trialgw.status_json import to_cm_status_json

AT = int(datetime(2026, 12, 3, 1, 2, 3, tzinfo=UTC).timestamp())


def _msg(report: dict[str, object]) -> Any:
    return report["messages"]["msg"]  # type: ignore[index]


@pytest.mark.parametrize(("status", "code"), [("sent", "0"), ("delivered", "2"), ("failed", "3"), ("read", "4")])
def test_each_status_has_cms_code_and_the_rest_of_cms_report(status: str, code: str) -> None:
    reason = "Recipient unknown" if status == "failed" else None
    report = to_cm_status_json(to="+31612345678", reference="order42", status=status, at=AT, reason=reason)
    error = "Recipient unknown" if status == "failed" else ""
    assert report == {
        "messages": {
            "msg": {
                "received": "2026-12-03T01:02:03",
                "to": "+31612345678",
                "reference": "order42",
                "status": {"code": code, "errorCode": error, "errorDescription": error},
                "operator": "",
            }
        }
    }
    # CM's own parser (the CM provider's status webhook) reads the same status and time back.
    (parsed,) = parse_cm_status_report(json.loads(json.dumps(report)))
    assert (parsed.status, parsed.at, parsed.message_id) == (status, AT, "order42")
    assert parsed.reason == reason


def test_a_send_without_a_reference_reports_an_empty_one() -> None:
    report = to_cm_status_json(to="+31612345678", reference=None, status="delivered", at=AT)
    assert _msg(report)["reference"] == ""


def test_a_reason_is_reported_for_a_failure_only() -> None:
    report = to_cm_status_json(to="+31612345678", reference="r", status="delivered", at=AT, reason="stale")
    assert _msg(report)["status"] == {"code": "2", "errorCode": "", "errorDescription": ""}
    failed = to_cm_status_json(to="+31612345678", reference="r", status="failed", at=AT)
    assert _msg(failed)["status"] == {"code": "3", "errorCode": "", "errorDescription": ""}


@pytest.mark.parametrize("status", ["queued", "refused", "", "DELIVERED"])
def test_a_status_that_is_no_report_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match="no status report"):
        to_cm_status_json(to="+31612345678", reference="r", status=status, at=AT)
