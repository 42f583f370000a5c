"""The system resolver as `trialgw.webhook_urls.Resolver`: what a host name resolves to, for TCP on `port`.

The only network call of a URL's check; tests give `check_url` a function instead, and never reach this module.
`getaddrinfo` has no timeout of its own: the lookup runs in a worker thread and is given up after
`budgets.DNS_LOOKUP_SECONDS` (the name then counts as not resolving), so a slow resolver cannot hold a request past
its function's budget. A given-up lookup finishes in its thread, unobserved.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache

from trialgw.budgets import DNS_LOOKUP_SECONDS

# Lookups at once per process: a request checks at most two URLs.
_WORKERS = 4


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="dns")


def _lookup(host: str, port: int) -> tuple[str, ...]:
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in answers))


def resolve(host: str, port: int, *, timeout_seconds: float = DNS_LOOKUP_SECONDS) -> Sequence[str]:
    """Every address `host` resolves to, in the resolver's order, without repeats; raises OSError (or UnicodeError
    for a name IDNA cannot encode) when it does not resolve within `timeout_seconds`."""
    future = _pool().submit(_lookup, host, port)
    try:
        return future.result(timeout=timeout_seconds)
    except FutureTimeout:
        raise OSError(f"no answer within {timeout_seconds:g} s") from None


__all__ = ["resolve"]
