"""The local stack's function host: the API's functions never run at the same time, a queue consumer may.

All functions share one interpreter locally, and Powertools keeps every resolver's current event in a class
attribute: under load, the dashboard read the status endpoint's request (no cursor) while answering a page's
request and gave its first page again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from infra.local.invoke import FunctionHost
from infra.topology import FunctionDef
from trialgw.settings import TrialSettings

# Long enough for a thread that could start to start; never waited for when the host is right.
OVERLAP_SECONDS = 0.5
DONE_SECONDS = 10


def _function(name: str, consumes: tuple[str, ...] = ()) -> FunctionDef:
    return FunctionDef(name=name, description="", settings_model=TrialSettings, consumes=consumes)


def _blocking(entered: threading.Event, release: threading.Event) -> Callable[[dict[str, Any], Any], Any]:
    def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        entered.set()
        release.wait(DONE_SECONDS)
        return {}

    return handler


def _marking(started: threading.Event) -> Callable[[dict[str, Any], Any], Any]:
    def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        started.set()
        return {}

    return handler


def _in_thread(host: FunctionHost, name: str) -> threading.Thread:
    thread = threading.Thread(target=host.invoke, args=(name, {}), daemon=True)
    thread.start()
    return thread


def test_powertools_resolvers_share_the_current_event() -> None:
    # Why the host serializes the API's functions: two resolvers, one current event.
    first, second = APIGatewayRestResolver(), APIGatewayRestResolver()
    first.get("/first")(lambda: {"seen": second.current_event.path})
    second.get("/second")(lambda: {})
    event = {"httpMethod": "GET", "path": "/first", "resource": "/first", "headers": {}, "requestContext": {}}
    answer = first.resolve(event, None)  # type: ignore[arg-type]
    assert '"seen":"/first"' in answer["body"].replace(" ", "")


def test_two_api_functions_never_run_at_the_same_time() -> None:
    entered, release, started = threading.Event(), threading.Event(), threading.Event()
    handlers = {"send": _blocking(entered, release), "dashboard": _marking(started)}
    host = FunctionHost([_function("send"), _function("dashboard")], load=lambda f: handlers[f.name])
    first = _in_thread(host, "send")
    assert entered.wait(DONE_SECONDS)
    second = _in_thread(host, "dashboard")
    try:
        assert not started.wait(OVERLAP_SECONDS)
    finally:
        release.set()
    first.join(DONE_SECONDS)
    second.join(DONE_SECONDS)
    assert started.is_set()


def test_a_queue_consumer_does_not_hold_up_the_api() -> None:
    entered, release, started = threading.Event(), threading.Event(), threading.Event()
    handlers = {"delivery": _blocking(entered, release), "send": _marking(started)}
    functions = [_function("delivery", consumes=("outbound",)), _function("send")]
    host = FunctionHost(functions, load=lambda f: handlers[f.name])
    consumer = _in_thread(host, "delivery")
    assert entered.wait(DONE_SECONDS)
    try:
        host.invoke("send", {})
        assert started.is_set()
    finally:
        release.set()
        consumer.join(DONE_SECONDS)


def test_a_consumer_that_also_serves_routes_shares_the_apis_lock() -> None:
    # The MO function takes the SMS queue's batches and the webhooks: one resolver, so one call at a time with the
    # other API functions.
    entered, release, started = threading.Event(), threading.Event(), threading.Event()
    handlers = {"mo_webhook": _blocking(entered, release), "dashboard": _marking(started)}
    functions = [_function("mo_webhook", consumes=("smsInbound",)), _function("dashboard")]
    host = FunctionHost(functions, load=lambda f: handlers[f.name])
    consumer = _in_thread(host, "mo_webhook")
    assert entered.wait(DONE_SECONDS)
    api = _in_thread(host, "dashboard")
    try:
        assert not started.wait(OVERLAP_SECONDS)
    finally:
        release.set()
    consumer.join(DONE_SECONDS)
    api.join(DONE_SECONDS)
    assert started.is_set()


def test_listeners_see_each_invocation_until_removed() -> None:
    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        if event.get("fail"):
            raise RuntimeError("boom")
        return {"echo": event["n"]}

    host = FunctionHost([_function("delivery")], load=lambda _f: handler)
    seen: list[tuple[str, Any, Any, str | None]] = []

    def listener(name: str, event: dict[str, Any], result: Any, error: BaseException | None) -> None:
        seen.append((name, event, result, repr(error) if error else None))

    stop = host.listen(listener)
    host.invoke("delivery", {"n": 1})
    with pytest.raises(RuntimeError):
        host.invoke("delivery", {"fail": True})
    stop()
    host.invoke("delivery", {"n": 2})
    assert seen == [
        ("delivery", {"n": 1}, {"echo": 1}, None),
        ("delivery", {"fail": True}, None, "RuntimeError('boom')"),
    ]
