"""A trial's own webhooks configured over HTTP on the local stack (issue 18's Contract), as a developer with curl
would: loopback receivers are accepted there (`make dev` sets TRIALGW_WEBHOOK_ALLOW_LOOPBACK), other private
addresses are not, and the secret is shown once. Delivery is not built yet: nothing calls the URLs."""

from __future__ import annotations

import pytest

from tests.conftest import LocalStack

pytestmark = pytest.mark.e2e

WEBHOOKS = "/dashboard-api/webhooks"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_loopback_receiver_is_configured_and_a_secret_made(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    assert local_stack.get(WEBHOOKS, headers=bearer(key)).json() == {
        "inboundUrl": None,
        "statusUrl": None,
        "hasSecret": False,
    }
    urls = {"inboundUrl": "http://127.0.0.1:9876/inbound", "statusUrl": "http://127.0.0.1:9876/status"}
    saved = local_stack.request("PUT", WEBHOOKS, json_body=urls, headers=bearer(key))
    assert (saved.status, saved.json()) == (200, {**urls, "hasSecret": False})
    assert saved.headers["Cache-Control"] == "no-store"

    made = local_stack.request("POST", f"{WEBHOOKS}/secret", headers=bearer(key))
    assert made.status == 200, made.text
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    shown = local_stack.get(WEBHOOKS, headers=bearer(key))
    assert shown.json() == {**urls, "hasSecret": True}
    assert secret not in shown.text
    assert secret not in local_stack.output()


def test_private_addresses_other_than_loopback_are_refused_locally_too(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    for url in ("http://10.0.0.1:9876/", "https://169.254.169.254/latest/meta-data/", "http://localhost:9876/"):
        refused = local_stack.request("PUT", WEBHOOKS, json_body={"inboundUrl": url}, headers=bearer(key))
        assert refused.status == 400, refused.text
        assert refused.json()["code"] == "invalid_webhook_url"
        assert refused.json()["message"].startswith("inboundUrl: ")


def test_the_dashboard_page_may_put_and_post_across_origins(local_stack: LocalStack) -> None:
    for path, method in ((WEBHOOKS, "PUT"), (f"{WEBHOOKS}/secret", "POST")):
        preflight = local_stack.request(
            "OPTIONS",
            path,
            headers={
                "Origin": local_stack.url,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status in (200, 204), preflight.text
        assert method in preflight.headers["Access-Control-Allow-Methods"]
