"""The capacity breaker: when more messages than the operator allows were accepted across all trials in a
window, every send is refused until an operator resets it.

It must cost the send path almost nothing, so each function instance keeps two things in memory: the
tripped flag, re-read at most every `cache_seconds`, and the messages it accepted but has not yet
counted, added to the shared window at most every `flush_seconds` in one write. The price is that an
instance's last uncounted messages reach the window with its next send, and a trip reaches the other
instances within `cache_seconds`.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from trialgw.errors import StoreError
from trialgw.observability import logger, metrics
from trialgw.ports import BreakerState, CapacityStore, CapacityWindow, Clock, TopSender

# How many trials `capacity status` ranks.
TOP_SENDERS = 10


class CapacityReport(NamedTuple):
    """What `trialgw-admin capacity status` shows: the breaker, the current window, and the trials that sent most
    in `ranked_window` (the window the breaker tripped in while it is tripped, else the current one)."""

    breaker: BreakerState
    current: CapacityWindow | None
    ranked_window: CapacityWindow | None = None
    top_senders: tuple[TopSender, ...] = ()


def window_start(now: float, window_seconds: int) -> int:
    return int(now) - int(now) % window_seconds


class CapacityBreaker:
    def __init__(
        self,
        store: CapacityStore,
        clock: Clock,
        *,
        limit: int,
        window_seconds: int,
        cache_seconds: float,
        flush_seconds: float,
    ) -> None:
        self._store = store
        self._clock = clock
        self._limit = limit
        self._window_seconds = window_seconds
        self._cache_seconds = cache_seconds
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._tripped = False
        self._read_at: float | None = None
        self._pending = 0
        self._pending_window = 0
        self._flushed_at: float | None = None

    def is_tripped(self) -> bool:
        """The flag as last read; re-read when older than `cache_seconds`. When it cannot be read, the last value
        read stands (closed if none) until the next re-read: a store glitch neither opens a tripped breaker nor
        refuses sends, and a store that is really down fails the send's own calls anyway."""
        now = self._clock()
        with self._lock:
            if self._read_at is not None and now - self._read_at < self._cache_seconds:
                return self._tripped
        try:
            tripped = self._store.breaker().tripped
        except StoreError:
            logger.warning("could not read the capacity breaker; keeping the last value read")
            with self._lock:
                # Not re-read at every send while the store is down: once per `cache_seconds` is enough.
                self._read_at = now
            return self._tripped
        with self._lock:
            self._tripped, self._read_at = tripped, now
        return tripped

    def count_accepted(self) -> None:
        """Notes one accepted message; adds the instance's pending count to the window when it is due."""
        now = self._clock()
        start = window_start(now, self._window_seconds)
        with self._lock:
            if self._pending and self._pending_window != start:
                # The pending messages belong to a window that has ended: count them there, then start anew.
                self._flush_locked(now)
            self._pending += 1
            self._pending_window = start
            due = self._flushed_at is None or now - self._flushed_at >= self._flush_seconds
            if due:
                self._flush_locked(now)

    def _flush_locked(self, now: float) -> None:
        count, start = self._pending, self._pending_window
        try:
            total = self._store.add(count, window_start=start, window_seconds=self._window_seconds, limit=self._limit)
        except StoreError:
            # Kept pending: the next send tries again, so the count is late, not lost.
            logger.warning("could not count accepted messages toward capacity", extra={"pending": count})
            return
        self._pending = 0
        self._flushed_at = now
        if total > self._limit:
            try:
                self._store.trip(now=int(now), count=total)
            except StoreError:
                logger.error("capacity exceeded but the breaker could not be tripped", extra={"count": total})
                return
            self._tripped, self._read_at = True, now
            metrics.add_metric(name="CapacityBreakerTripped", unit="Count", value=1)
            logger.error("capacity breaker tripped", extra={"count": total, "limit": self._limit})


def report(store: CapacityStore, now: float) -> CapacityReport:
    """The breaker, the newest window and who sent most, for operators."""
    windows = store.windows()
    current = windows[0] if windows else None
    if current is not None and now >= current.start + current.window_seconds:
        current = None
    breaker = store.breaker()
    ranked = current
    if breaker.tripped and breaker.tripped_at is not None:
        # Who tripped it, even when the operator looks in a later window.
        ranked = next((w for w in windows if w.start <= breaker.tripped_at < w.start + w.window_seconds), current)
    senders = tuple(store.top_senders(ranked.start, limit=TOP_SENDERS)) if ranked is not None else ()
    return CapacityReport(breaker=breaker, current=current, ranked_window=ranked, top_senders=senders)


def reset(store: CapacityStore, now: float) -> None:
    """Closes the breaker and starts counting afresh."""
    store.reset(now=int(now))
    logger.info("capacity breaker reset")


__all__ = ["TOP_SENDERS", "CapacityBreaker", "CapacityReport", "report", "reset", "window_start"]
