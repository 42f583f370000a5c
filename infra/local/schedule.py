"""EventBridge schedules, locally: a thread per scheduled function (`FunctionDef.schedule_minutes`) invokes it with
the event a scheduled rule sends, every so many minutes, the first time one interval after the start (as a new rule
does). A run that raises is logged; the next run comes on time (in AWS the rule's target does not retry either).
"""

from __future__ import annotations

import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from infra.local.environment import REGION
from infra.local.events import ACCOUNT_ID
from infra.topology import FunctionDef

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def scheduled_event(rule: str, *, now: datetime, region: str = REGION) -> dict[str, Any]:
    """The event an EventBridge scheduled rule passes to its Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


class Schedule:
    """Invokes one function every `interval_seconds` on a daemon thread until stopped."""

    def __init__(self, *, function: str, interval_seconds: float, invoke: Invoke, log: Log = _stderr) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.function = function
        self.interval_seconds = interval_seconds
        self._invoke = invoke
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule:{self.function}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=timeout)

    def run_once(self) -> Any:
        """One scheduled run; returns the function's result, or None when it raised (logged)."""
        event = scheduled_event(f"trialgw-{self.function}-schedule", now=datetime.now(UTC))
        try:
            return self._invoke(self.function, event)
        except Exception:
            self._log(f"[local] scheduled {self.function} raised:\n{traceback.format_exc()}")
            return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.run_once()


class Schedules:
    """Every schedule of the stack, started and stopped together."""

    def __init__(self, schedules: Iterable[Schedule]) -> None:
        self.schedules = tuple(schedules)

    def start(self) -> None:
        for schedule in self.schedules:
            schedule.start()

    def stop(self, timeout: float = 10.0) -> None:
        for schedule in self.schedules:
            schedule.stop(timeout)


def schedules_for(functions: Iterable[FunctionDef], invoke: Invoke, **options: Any) -> Schedules:
    """One schedule per function with `schedule_minutes`, as the CDK stack creates one rule per function."""
    return Schedules(
        Schedule(function=f.name, interval_seconds=f.schedule_minutes * 60, invoke=invoke, **options)
        for f in functions
        if f.schedule_minutes is not None
    )
