"""`GET /_local/deliveries`: what the sandbox provider delivered, as the end user would have received it."""

from __future__ import annotations

import json
from pathlib import Path

from infra.local.banner import render_banner
from infra.local.events import HttpRequest
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.resources import QueueResource, Resources
from infra.local.sandbox_statuses import SandboxStatuses
from infra.local.server import LOCAL_HELPERS, LocalGateway
from infra.local.static import StaticSite
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import SandboxDelivery, SandboxLog

BASE_URL = "http://127.0.0.1:8080"


def delivery(to: str, text: str, at: int, kind: str = "send", channel: Channel = Channel.WHATSAPP) -> SandboxDelivery:
    return SandboxDelivery(
        channel=channel, to=to, sender="+3197010000000", text=text, at=at, message_id=f"id-{text}", kind=kind
    )


def gateway(tmp_path: Path, log: SandboxLog | None, statuses: SandboxStatuses | None = None) -> LocalGateway:
    return LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url=BASE_URL,
        deliveries=None if log is None else log.entries,
        statuses=statuses,
    )


def get(local: LocalGateway, target: str, method: str = "GET") -> tuple[int, object]:
    response = local.handle(HttpRequest(method, target))
    return response.status, (json.loads(response.body) if response.body else None)


def filled_log() -> SandboxLog:
    log = SandboxLog()
    log.append(delivery("+31612345678", "You are whitelisted", 100, kind="reply"))
    log.append(delivery("+31687654321", "Someone else", 101))
    log.append(delivery("+31612345678", "Hello", 102))
    return log


def test_lists_every_delivery_newest_last(tmp_path: Path) -> None:
    status, body = get(gateway(tmp_path, filled_log()), "/_local/deliveries")
    assert status == 200
    assert isinstance(body, list)
    assert [entry["text"] for entry in body] == ["You are whitelisted", "Someone else", "Hello"]
    assert body[0] == {
        "channel": "WhatsApp",
        "to": "+31612345678",
        "from": "+3197010000000",
        "text": "You are whitelisted",
        "at": 100,
        "message_id": "id-You are whitelisted",
        "kind": "reply",
    }


def test_filters_by_recipient(tmp_path: Path) -> None:
    local = gateway(tmp_path, filled_log())
    for target in ("/_local/deliveries?to=%2B31612345678", "/_local/deliveries?to=+31612345678"):
        status, body = get(local, target)
        assert status == 200
        assert isinstance(body, list)
        assert [entry["text"] for entry in body] == ["You are whitelisted", "Hello"], target
    assert get(local, "/_local/deliveries?to=%2B31600000000") == (200, [])
    assert get(local, "/_local/deliveries/") == get(local, "/_local/deliveries")


def test_reads_the_log_at_each_request(tmp_path: Path) -> None:
    log = SandboxLog()
    local = gateway(tmp_path, log)
    assert get(local, "/_local/deliveries") == (200, [])
    log.append(delivery("+31612345678", "Later", 5))
    _, body = get(local, "/_local/deliveries")
    assert isinstance(body, list)
    assert [entry["text"] for entry in body] == ["Later"]


def test_head_answers_like_get_and_other_methods_are_refused(tmp_path: Path) -> None:
    local = gateway(tmp_path, filled_log())
    head = local.handle(HttpRequest("HEAD", "/_local/deliveries"))
    assert head.status == 200
    assert head.header("Content-Type") == "application/json"
    refused = local.handle(HttpRequest("POST", "/_local/deliveries"))
    assert refused.status == 405
    assert refused.header("Allow") == "GET, HEAD"


def test_a_stack_without_deliveries_says_so(tmp_path: Path) -> None:
    status, body = get(gateway(tmp_path, None), "/_local/deliveries")
    assert status == 503
    assert isinstance(body, dict)
    assert "No sandbox deliveries" in body["message"]


def test_it_is_a_listed_helper(tmp_path: Path) -> None:
    assert LOCAL_HELPERS["/_local/deliveries"] == ("GET", "HEAD")
    status, body = get(gateway(tmp_path, None), "/_local/nope")
    assert status == 404
    assert isinstance(body, dict)
    assert "/_local/deliveries" in body["helpers"]


def test_the_banner_names_the_deliveries_the_pump_and_the_dead_letter_queue() -> None:
    queue = QueueResource(
        logical="outbound",
        name="trialgw-outbound",
        url="u",
        env_var="TRIALGW_OUTBOUND_QUEUE_URL",
        dead_letter_name="trialgw-outbound-dlq",
        dead_letter_url="d",
        max_receive_count=2,
    )
    banner = render_banner(
        base_url=BASE_URL,
        routes=[],
        resources=Resources(tables=(), senders=(), configuration_sets=(), queues=(queue,)),
        overrides={},
        moto_endpoint="http://127.0.0.1:5000",
        pumps=[("trialgw-outbound", "delivery")],
    )
    assert f"GET  {BASE_URL}/_local/deliveries" in banner
    assert "trialgw-outbound -> delivery" in banner
    assert "trialgw-outbound-dlq   (after 2 receives" in banner
    assert "no consumer runs yet" not in banner
    unpumped = render_banner(
        base_url=BASE_URL,
        routes=[],
        resources=Resources(tables=(), senders=(), configuration_sets=(), queues=(queue,)),
        overrides={},
        moto_endpoint="http://127.0.0.1:5000",
    )
    assert "nothing consumes this queue" in unpumped
