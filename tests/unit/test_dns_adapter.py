"""The system resolver behind the webhook URL checks (trialgw.adapters.dns), with getaddrinfo replaced: no network."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from trialgw.adapters import dns


def test_the_addresses_come_back_in_order_without_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        assert (host, port) == ("hooks.example.com", 443)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800::1", 443, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800::1", 443, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert dns.resolve("hooks.example.com", 443) == ("2606:2800::1", "93.184.215.14")


def test_a_name_that_does_not_resolve_raises_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(socket.gaierror):
        dns.resolve("nowhere.example.com", 443)


def test_a_slow_resolver_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        release.wait(5)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        with pytest.raises(OSError, match="no answer within"):
            dns.resolve("slow.example.com", 443, timeout_seconds=0.05)
    finally:
        release.set()
