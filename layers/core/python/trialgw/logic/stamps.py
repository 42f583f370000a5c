"""Message times in epoch milliseconds, strictly increasing within one function instance: what orders a trial's list
of messages (the messages table's sort key)."""

from __future__ import annotations

import threading

from trialgw.ports import Clock


class MillisStamps:
    """Message times in epoch milliseconds, strictly increasing within this instance: two sends in one millisecond
    (or a clock that stepped back less than a second) still list in the order they arrived."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self, clock: Clock) -> int:
        now = int(clock() * 1000)
        with self._lock:
            # Only within a second of the last stamp: a clock far behind it (a test's, an instance's) is taken as is.
            stamp = self._last + 1 if now <= self._last < now + 1000 else now
            self._last = stamp
        return stamp


__all__ = ["MillisStamps"]
