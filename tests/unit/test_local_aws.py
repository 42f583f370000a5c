"""`/_local/aws`: where the local stack's AWS services and tables are, for `trialgw-admin --local`. No sockets."""

from __future__ import annotations

import json
from pathlib import Path

from infra.local.events import HttpRequest
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.server import LOCAL_HELPERS, LocalAws, LocalGateway
from infra.local.static import StaticSite

AWS = LocalAws(
    endpoint="http://127.0.0.1:51234",
    region="eu-west-1",
    tables={"trials": "trialgw-trials", "whitelist": "trialgw-whitelist", "messages": "trialgw-messages"},
)


def gateway(tmp_path: Path, aws: LocalAws | None) -> LocalGateway:
    return LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url="http://127.0.0.1:8080",
        aws=aws,
    )


def test_it_names_the_endpoint_the_region_and_the_tables(tmp_path: Path) -> None:
    response = gateway(tmp_path, AWS).handle(HttpRequest("GET", "/_local/aws"))
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("application/json")
    assert json.loads(response.body) == {
        "endpoint": "http://127.0.0.1:51234",
        "region": "eu-west-1",
        "tables": {"trials": "trialgw-trials", "whitelist": "trialgw-whitelist", "messages": "trialgw-messages"},
    }


def test_it_is_a_listed_helper_for_get_and_head_only(tmp_path: Path) -> None:
    assert LOCAL_HELPERS["/_local/aws"] == ("GET", "HEAD")
    local = gateway(tmp_path, AWS)
    assert local.handle(HttpRequest("HEAD", "/_local/aws")).status == 200
    assert local.handle(HttpRequest("GET", "/_local/aws/")).status == 200
    wrong = local.handle(HttpRequest("POST", "/_local/aws"))
    assert wrong.status == 405
    assert wrong.header("Allow") == "GET, HEAD"
    unknown = local.handle(HttpRequest("GET", "/_local/nope"))
    assert "/_local/aws" in json.loads(unknown.body)["helpers"]


def test_without_aws_it_says_so(tmp_path: Path) -> None:
    response = gateway(tmp_path, None).handle(HttpRequest("GET", "/_local/aws"))
    assert response.status == 503
