"""`/_local/receiver`: the local stack's webhook receiver (issue 18), through the local gateway without sockets, and
once over a real socket from another thread, as the webhook worker's pump thread posts to it."""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infra.local.events import HttpRequest
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.receiver import MAX_BODY_BYTES, RECEIVER_DIR, RECEIVER_PATH, WebhookReceiver
from infra.local.server import LocalGateway, LocalHttpServer
from infra.local.static import StaticSite
from infra.topology import WEB_DIR
from infra.web_security import security_headers
from trialgw.webhook_signing import signed_headers

BASE_URL = "http://127.0.0.1:8080"


def gateway(tmp_path: Path, receiver: WebhookReceiver | None = None) -> LocalGateway:
    web = tmp_path / "web"
    (web / "signup").mkdir(parents=True, exist_ok=True)
    (web / "signup" / "index.html").write_text("<h1>signup</h1>")
    return LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(web),
        outbox=MailOutbox(),
        base_url=BASE_URL,
        receiver=receiver,
    )


def listing(local: LocalGateway) -> list[dict[str, Any]]:
    response = local.handle(HttpRequest("GET", f"{RECEIVER_PATH}/requests.json"))
    assert response.status == 200
    assert response.header("Cache-Control") == "no-store"
    requests: list[dict[str, Any]] = json.loads(response.body)["requests"]
    return requests


def test_a_post_is_kept_with_its_headers_and_raw_bytes_and_listed_newest_first(tmp_path: Path) -> None:
    local = gateway(tmp_path)
    body = '{"message":{"text":"hé <b>x</b>"}}'.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Trial-Event-Id": "evt_abcdefgh",
        "X-Trial-Event-Kind": "test",
        **signed_headers("whsec_" + "s" * 43, 1_700_000_000, body),
    }
    answer = local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/inbound", tuple(headers.items()), body))
    assert (answer.status, json.loads(answer.body)) == (200, {"received": 1, "name": "inbound"})
    local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/status", (), b"{}"))
    newest, first = listing(local)
    assert (newest["id"], newest["name"], newest["signed"]) == (2, "status", False)
    assert first["name"] == "inbound"
    assert (first["eventId"], first["kind"], first["signed"]) == ("evt_abcdefgh", "test", True)
    assert base64.b64decode(first["bodyBase64"]) == body
    assert first["body"] == body.decode()
    assert ["X-Trial-Signature", headers["X-Trial-Signature"]] in first["headers"]
    assert (first["size"], first["truncated"], first["answered"]) == (len(body), False, 200)


def test_status_asks_for_an_answer_to_watch_retries(tmp_path: Path) -> None:
    local = gateway(tmp_path)
    assert local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/inbound?status=500", (), b"{}")).status == 500
    assert listing(local)[0]["answered"] == 500
    for wanted in ("99", "600", "abc", "²"):
        assert local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/inbound?status={wanted}", (), b"{}")).status == 400
    assert len(listing(local)) == 1


def test_it_is_bounded_in_requests_and_body_size(tmp_path: Path) -> None:
    local = gateway(tmp_path, WebhookReceiver(max_requests=3))
    for n in range(5):
        local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/r{n}", (), b"x"))
    assert [r["name"] for r in listing(local)] == ["r4", "r3", "r2"]
    big = b"y" * (MAX_BODY_BYTES + 10)
    local.handle(HttpRequest("POST", f"{RECEIVER_PATH}/big", (), big))
    kept = listing(local)[0]
    assert (kept["size"], kept["truncated"]) == (MAX_BODY_BYTES + 10, True)
    assert len(base64.b64decode(kept["bodyBase64"])) == MAX_BODY_BYTES


@pytest.mark.parametrize("path", [f"{RECEIVER_PATH}/a/b", f"{RECEIVER_PATH}/", f"{RECEIVER_PATH}/a%20b"])
def test_a_receiver_is_one_plain_path_segment(tmp_path: Path, path: str) -> None:
    local = gateway(tmp_path)
    assert local.handle(HttpRequest("POST", path, (), b"{}")).status == 404
    assert listing(local) == []


def test_other_methods_are_refused(tmp_path: Path) -> None:
    assert gateway(tmp_path).handle(HttpRequest("PUT", f"{RECEIVER_PATH}/inbound", (), b"{}")).status == 405


@pytest.mark.parametrize(
    ("path", "file"),
    [
        (RECEIVER_PATH, "index.html"),
        (f"{RECEIVER_PATH}/", "index.html"),
        (f"{RECEIVER_PATH}/receiver.js", "receiver.js"),
    ],
)
def test_the_page_and_its_files_with_the_sites_security_headers(tmp_path: Path, path: str, file: str) -> None:
    response = gateway(tmp_path).handle(HttpRequest("GET", path))
    assert response.status == 200
    assert response.body == (RECEIVER_DIR / file).read_bytes()
    for name, value in security_headers(BASE_URL).items():
        assert response.header(name) == value, name


def test_the_page_is_local_only_and_renders_text_only() -> None:
    assert not RECEIVER_DIR.resolve().is_relative_to(WEB_DIR.resolve())
    html = (RECEIVER_DIR / "index.html").read_text()
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None
    script = (RECEIVER_DIR / "receiver.js").read_text()
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script


def test_the_threaded_server_takes_posts_from_other_threads_at_once(tmp_path: Path) -> None:
    server = LocalHttpServer("127.0.0.1", 0)
    server.gateway = gateway(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # Each POST is served on a thread of its own: the webhook worker posts from a pump thread of the process.
        url = f"http://127.0.0.1:{server.port}{RECEIVER_PATH}/inbound"
        results: list[int] = []

        def post() -> None:
            request = urllib.request.Request(url, data=b'{"a":1}', method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:
                results.append(answer.status)

        posters = [threading.Thread(target=post) for _ in range(3)]
        for poster in posters:
            poster.start()
        for poster in posters:
            poster.join(10)
        assert results == [200, 200, 200]
    finally:
        server.shutdown()
        server.server_close()
