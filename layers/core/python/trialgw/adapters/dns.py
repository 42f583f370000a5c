"""The system resolver as `trialgw.webhook_urls.Resolver`: what a host name resolves to, for TCP on `port`.

The only network call of a URL's check; tests give `check_url` a function instead, and never reach this module.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence


def resolve(host: str, port: int) -> Sequence[str]:
    """Every address `host` resolves to, in the resolver's order, without repeats; raises OSError (or UnicodeError
    for a name IDNA cannot encode) when it does not resolve."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in answers))


__all__ = ["resolve"]
