"""Sign up against the running local stack over HTTP, as a developer with curl would, and read the mail."""

from __future__ import annotations

import re
import signal
import socket
import uuid
from html.parser import HTMLParser

import pytest

from infra import api_errors
from infra.site_rules import trial_rules
from infra.web_security import security_headers
from tests.conftest import LocalStack, start_local_stack
from trialgw.channels import CHANNELS
from trialgw.settings import SignupSettings, TrialSettings

pytestmark = pytest.mark.e2e

GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def unique_email(tag: str) -> str:
    return f"e2e-{tag}-{uuid.uuid4().hex[:10]}@example.com"


def test_signup_emails_the_key_dashboard_link_and_whatsapp_link(local_stack: LocalStack) -> None:
    email = unique_email("signup")
    response = local_stack.post_json("/signup", {"name": "Jane Tester", "email": email, "company": "ACME"})

    assert response.status == 202, response.text
    body = response.json()
    assert body["message"]
    assert body["email"] != email
    assert "@" in body["email"]
    assert body["expiresAt"]

    mails = local_stack.mail(to=email)
    assert len(mails) == 1, local_stack.output()
    mail = mails[0]
    assert mail["to"] == email
    assert mail["subject"]
    keys = set(GUID.findall(mail["text"]))
    assert len(keys) == 1, mail["text"]
    key = keys.pop()
    assert f"{local_stack.url}/dashboard/#{key}" in mail["text"]
    assert f"https://wa.me/31850876714?text={key}" in mail["text"]
    assert key in mail["html"]
    assert f"{local_stack.url}/dashboard/#{key}" in mail["html"]


def test_each_signup_gets_its_own_key(local_stack: LocalStack) -> None:
    first, second = unique_email("one"), unique_email("two")
    for email in (first, second):
        assert local_stack.post_json("/signup", {"name": "Jo", "email": email}).status == 202
    keys = [GUID.findall(local_stack.mail(to=email)[0]["text"])[0] for email in (first, second)]
    assert keys[0] != keys[1]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("this is not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('{"name": "Jo"', "application/json"),
    ],
)
def test_a_bad_body_is_a_400_not_a_500(local_stack: LocalStack, body: str, content_type: str) -> None:
    response = local_stack.request("POST", "/signup", body=body, headers={"Content-Type": content_type})
    assert response.status == 400, response.text
    answer = response.json()
    assert answer["message"]
    assert answer["code"]


def test_missing_fields_are_named(local_stack: LocalStack) -> None:
    response = local_stack.post_json("/signup", {"name": "Jo", "email": "not-an-address"})
    assert response.status in (400, 422), response.text
    answer = response.json()
    assert answer["code"]
    assert "email" in answer.get("fields", {})


def test_signup_page_is_served_with_the_csp(local_stack: LocalStack) -> None:
    response = local_stack.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    expected = security_headers(local_stack.url)
    assert response.headers["Content-Security-Policy"] == expected["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, _tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith("/") and not value.startswith("//"):
                self.links.append(value)


def test_every_asset_the_signup_page_references_is_served(local_stack: LocalStack) -> None:
    parser = _AssetLinks()
    parser.feed(local_stack.get("/").text)
    assets = [link for link in parser.links if link.startswith("/signup/")]
    assert assets, "the signup page references no /signup/ assets"
    for asset in assets:
        response = local_stack.get(asset)
        assert response.status == 200, asset
        assert response.headers["Content-Security-Policy"], asset
        if asset.endswith(".js"):
            assert response.headers["Content-Type"].startswith("text/javascript")
        if asset.endswith(".css"):
            assert response.headers["Content-Type"].startswith("text/css")


def test_config_json_names_the_api(local_stack: LocalStack) -> None:
    response = local_stack.get("/config.json")
    assert response.status == 200
    assert response.json() == {"apiUrl": local_stack.url}
    assert response.headers["Content-Security-Policy"]


def test_trial_json_names_the_rules_and_the_registrys_channels(
    local_stack: LocalStack, local_stack_env: dict[str, str]
) -> None:
    response = local_stack.get("/trial.json")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"]
    assert response.json() == trial_rules(TrialSettings.from_env(local_stack_env))
    assert [channel["name"] for channel in response.json()["channels"]] == [channel.value for channel in CHANNELS]


@pytest.mark.parametrize(
    "path",
    ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/signup/..%2f..%2fpyproject.toml", "/.gitignore", "/nope"],
)
def test_nothing_outside_web_is_served(local_stack: LocalStack, path: str) -> None:
    # A raw request: urllib would normalise the `..` away before sending it.
    host, port = local_stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 404 " in status_line, (path, status_line)
    assert b"[project]" not in answer


def test_unknown_api_route_answers_like_the_apis_gateway_response(local_stack: LocalStack) -> None:
    response = local_stack.request("POST", "/no-such-route", body="{}")
    assert response.status == 404
    assert response.json() == {"message": api_errors.NO_ROUTE_MESSAGE}
    wrong_method = local_stack.request("PUT", "/signup", body="{}")
    assert wrong_method.status == 405
    assert wrong_method.headers.get("Allow") == "OPTIONS, POST"


def test_cors_preflight_for_the_site_origin(local_stack: LocalStack) -> None:
    response = local_stack.request(
        "OPTIONS",
        "/signup",
        headers={
            "Origin": local_stack.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == local_stack.url
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_oversized_body_is_refused_before_the_handler(local_stack: LocalStack) -> None:
    host, port = local_stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n"
        )
        status_line = connection.recv(65536).split(b"\r\n", 1)[0]
    assert b" 413 " in status_line


def test_stack_stops_cleanly_on_sigterm_and_ctrl_c() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with start_local_stack() as stack:
            assert stack.get("/config.json").status == 200
            assert stack.stop(sig) == 0, stack.output()
            assert "stopped" in stack.output()


def test_settings_from_the_environment_reach_the_handler() -> None:
    with start_local_stack({"TRIALGW_TRIAL_LIFETIME_SECONDS": "90"}) as stack:
        email = unique_email("lifetime")
        assert stack.post_json("/signup", {"name": "Jo", "email": email}).status == 202
        assert "90 seconds" in stack.mail(to=email)[0]["text"]
        assert "TRIALGW_TRIAL_LIFETIME_SECONDS=90" in stack.output()


def test_signup_limit_holds_under_concurrent_requests(local_stack: LocalStack) -> None:
    # The per-address limit is a conditional write: concurrent signups must not overshoot it.
    from concurrent.futures import ThreadPoolExecutor

    email = unique_email("burst")
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: local_stack.post_json("/signup", {"name": "Jo", "email": email}), range(12)))
    statuses = sorted(r.status for r in results)
    accepted = statuses.count(202)
    assert accepted == SignupSettings().signup_limit_per_window, statuses
    assert set(statuses) == {202, 429}, statuses
    assert all(r.headers["Retry-After"] for r in results if r.status == 429)
    assert len(local_stack.mail(to=email)) == accepted


# --- as an attacker would try it ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Origin": "https://evil.example", "Content-Type": "application/json"}, 403, "forbidden_origin"),
        # What a form on another site can post without a CORS preflight.
        ({"Content-Type": "text/plain;charset=UTF-8"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ],
)
def test_a_cross_site_sign_up_is_refused_and_mails_nothing(
    local_stack: LocalStack, headers: dict[str, str], status: int, code: str
) -> None:
    email = unique_email("csrf")
    body = '{"name": "Victim", "email": "' + email + '"}'
    response = local_stack.request("POST", "/signup", body=body, headers=headers)
    assert (response.status, response.json()["code"]) == (status, code), response.text
    assert local_stack.mail(to=email) == []


def test_one_inbox_gets_at_most_the_mailbox_limit_of_keys_whatever_the_spelling(local_stack: LocalStack) -> None:
    inbox = f"victim{uuid.uuid4().hex[:8]}"
    spellings = [
        f"{inbox}@gmail.com",
        f"{inbox}+1@gmail.com",
        f"{'.'.join(inbox)}@gmail.com",
        f"{inbox.upper()}@googlemail.com",
        f"{inbox[:3]}.{inbox[3:]}+trial@googlemail.com",
        f"{inbox}+x+y@GMAIL.com",
    ]
    answers = [local_stack.post_json("/signup", {"name": "Victim", "email": address}) for address in spellings]
    limit = SignupSettings().signup_limit_per_window
    assert [a.status for a in answers] == [202] * limit + [429] * (len(spellings) - limit)
    assert {a.json()["limit"] for a in answers[limit:]} == {"mailbox"}
    assert sum(len(local_stack.mail(to=address)) for address in spellings) == limit


def test_a_name_with_a_link_is_refused_and_mails_nothing(local_stack: LocalStack) -> None:
    email = unique_email("phish")
    name = "Hi URGENT: your account is locked, log in at https://bank.example/verify"
    response = local_stack.post_json("/signup", {"name": name, "email": email})
    assert response.status == 422, response.text
    assert "must not contain a web address" in response.json()["fields"]["name"]
    assert local_stack.mail(to=email) == []


def test_a_flood_from_one_ip_is_limited_whatever_the_addresses() -> None:
    # Every request on one machine comes from 127.0.0.1: a stack of its own with an AWS-like per-IP limit.
    with start_local_stack({"TRIALGW_SIGNUP_LIMIT_PER_IP": "5"}) as stack:
        answers = [
            stack.post_json("/signup", {"name": "Flood", "email": f"flood{i}@{uuid.uuid4().hex[:8]}.example"})
            for i in range(8)
        ]
        assert [a.status for a in answers] == [202] * 5 + [429] * 3
        refused = answers[-1]
        assert refused.json()["limit"] == "ip"
        assert refused.json()["message"].startswith("Too many sign-ups from your network. Please try again in ")
        assert int(refused.headers["Retry-After"]) > 0
        assert len(stack.mail()) == 5
        assert "Sign-up limits: 3 per mailbox, 5 per client IP" in stack.output()
