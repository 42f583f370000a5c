"""The local EventBridge schedules: which functions run, with what event, and that a failing run is only logged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from infra.local.schedule import Schedule, scheduled_event, schedules_for
from infra.topology import FUNCTIONS


def test_the_event_is_an_eventbridge_scheduled_event() -> None:
    event = scheduled_event("trialgw-sweeper-schedule", now=datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC))
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    assert event["time"] == "2026-03-02T09:15:30Z"
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/trialgw-sweeper-schedule"]


def test_one_schedule_per_scheduled_function_of_the_topology() -> None:
    schedules = schedules_for(FUNCTIONS, lambda _name, _event: None)
    assert [(s.function, s.interval_seconds) for s in schedules.schedules] == [("sweeper", 300)]


def test_a_run_that_raises_is_logged_and_the_next_one_comes() -> None:
    calls: list[str] = []
    ran_twice = threading.Event()
    logs: list[str] = []

    def invoke(name: str, event: dict[str, Any]) -> Any:
        calls.append(name)
        assert event["source"] == "aws.events"
        if len(calls) >= 2:
            ran_twice.set()
        raise RuntimeError("table unavailable")

    schedule = Schedule(function="sweeper", interval_seconds=0.05, invoke=invoke, log=logs.append)
    schedule.start()
    try:
        assert ran_twice.wait(5)
    finally:
        schedule.stop()
    assert "scheduled sweeper raised" in logs[0]
    assert "RuntimeError: table unavailable" in logs[0]
