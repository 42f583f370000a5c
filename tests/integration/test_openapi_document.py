"""`GET /openapi.json` describes every public route, is one valid OpenAPI 3 document, and means its examples.

Issue 17: the document covered only send and status, and its 200 example lacked fields its own schema requires.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from openapi_spec_validator import validate

from infra.topology import ROUTES
from tests.integration.conftest import (
    CM_SECRET,
    EVENTS,
    META_VERIFY_TOKEN,
    SITE_URL,
    FakeLambdaContext,
    invoke,
    load_handler,
    make_trial,
    rest_event,
)
from trialgw.gateway.openapi import EXAMPLE_SITE
from trialgw.keys import new_key
from trialgw.models import Channel

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Local-only helpers of the local stack, not the API (docs/local.md).
LOCAL_PREFIX = "/_local/"
# The trial key in tests/events' payloads, replaced by a live trial's.
FIXTURE_KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
NO_KEY = new_key()


@pytest.fixture
def document(aws_env: None) -> dict[str, Any]:
    event = rest_event("apigw_rest_send.json", body=None)
    event.update(httpMethod="GET", path="/openapi.json", resource="/openapi.json")
    event["requestContext"].update(httpMethod="GET", resourcePath="/openapi.json", path="/prod/openapi.json")
    status, headers, body = invoke(load_handler("send"), event)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(body, dict)
    return body


def test_it_is_one_valid_openapi_3_document(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)


def test_every_public_route_of_the_topology_is_described(document: dict[str, Any]) -> None:
    # Powertools and API Gateway take `/gw/` for `/gw`: the document names a path without its trailing slash.
    described = {
        (method.upper(), path.rstrip("/"))
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }
    public = {(route.method, route.path.rstrip("/")) for route in ROUTES if not route.path.startswith(LOCAL_PREFIX)}
    assert public - described == set()
    assert described - public == set(), "a documented route the API does not have"


def _examples(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of the document: media types' and parameters' `example` and
    `examples` (OpenAPI's: name → {value}), and schemas' `examples` (JSON Schema's: a list)."""
    if isinstance(node, dict):
        schema = node.get("schema")
        if isinstance(schema, dict):
            if "example" in node:
                yield where, schema, node["example"]
            for name, example in (node.get("examples") or {}).items():
                yield f"{where}.examples.{name}", schema, example["value"]
        if isinstance(node.get("examples"), list) and "type" in node:
            for index, example in enumerate(node["examples"]):
                yield f"{where}.examples[{index}]", node, example
        for key, value in node.items():
            yield from _examples(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _examples(value, f"{where}[{index}]")


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    examples = list(_examples(document["paths"], "paths"))
    # Every route has examples: its answers' at least.
    assert len(examples) > 3 * len(document["paths"])
    invalid = []
    for where, schema, example in examples:
        # `$ref`s point into the document's components: resolved against the schema's root.
        validator = jsonschema_rs.validator_for({**schema, "components": document.get("components", {})})
        invalid += [f"{where}: {error.message}" for error in validator.iter_errors(example)]
    assert invalid == []


def test_the_accepted_answer_example_has_every_required_field(document: dict[str, Any]) -> None:
    answer = document["paths"]["/messaging/messagingtrial/gw"]["post"]["responses"]["200"]["content"]
    body = answer["application/json"]["examples"]["answer"]["value"]
    assert body["errorCode"] == 0
    assert body["messages"][0]["status"] == "Accepted"


def _request_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema


@pytest.mark.parametrize(
    ("path", "payloads"),
    [
        ("/webhooks/cm/{secret}", "mo_cm_*.json"),
        ("/webhooks/cm-status/{secret}", "cm_status_*.json"),
        ("/webhooks/meta", "meta_*.json"),
    ],
)
def test_the_providers_payloads_fit_the_documented_shapes(document: dict[str, Any], path: str, payloads: str) -> None:
    # The payloads the webhook tests feed the handlers, composed from CM's and Meta's documentation.
    validator = jsonschema_rs.validator_for(_request_schema(document, path, "post"))
    files = sorted(EVENTS.glob(payloads))
    assert files
    for file in files:
        errors = [error.message for error in validator.iter_errors(json.loads(file.read_text()))]
        assert errors == [], file.name


def test_the_webhook_secret_is_described_as_a_secret_without_a_value(document: dict[str, Any]) -> None:
    for path in ("/webhooks/cm/{secret}", "/webhooks/cm-status/{secret}"):
        (secret,) = document["paths"][path]["parameters"]
        assert secret["in"] == "path"
        assert secret["schema"]["format"] == "password"
        assert "secret" in secret["description"].lower()
        assert not {"example", "examples", "default"} & (set(secret) | set(secret["schema"]))


# The documented answers are the ones the handlers give: each case provokes one, whose body must validate against the
# documented schema of its status and, for an error, be one of its examples (the test stack's site URL in place of
# the document's example one).
SIGNUP_BODY = json.dumps({"name": "Jane Doe", "email": "jane.doe@example.com"})


def api_event(
    method: str,
    resource: str,
    *,
    path: str | None = None,
    body: str | None = None,
    headers: dict[str, str | None] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = rest_event("apigw_rest_signup.json", body=body)
    for name, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(name, None)
            event["multiValueHeaders"].pop(name, None)
        else:
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
    event.update(
        httpMethod=method,
        resource=resource,
        path=path or resource,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in (query or {}).items()} or None,
        pathParameters=path_parameters,
    )
    event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"/prod{path or resource}")
    return event


def bearer(key: str) -> dict[str, str | None]:
    return {"Authorization": f"Bearer {key}"}


def cm(resource: str, secret: str, body: str) -> dict[str, Any]:
    path = resource.replace("{secret}", secret)
    return api_event("POST", resource, path=path, body=body, path_parameters={"secret": secret})


def mo_payload(key: str) -> str:
    return (EVENTS / "mo_cm_whatsapp.json").read_text().replace(FIXTURE_KEY.upper(), key)


def meta_verification(token: str) -> dict[str, Any]:
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    return api_event("GET", "/webhooks/meta", query=query)


CASES: list[tuple[str, str, Any]] = [
    # (function, "METHOD path status", the event, given a live trial's key)
    ("signup", "POST /signup 202", lambda _: api_event("POST", "/signup", body=SIGNUP_BODY)),
    (
        "signup",
        "POST /signup 403",
        lambda _: api_event("POST", "/signup", body=SIGNUP_BODY, headers={"Origin": "https://evil.example"}),
    ),
    (
        "signup",
        "POST /signup 415",
        lambda _: api_event("POST", "/signup", body=SIGNUP_BODY, headers={"Content-Type": "text/plain"}),
    ),
    ("signup", "POST /signup 400", lambda _: api_event("POST", "/signup", body="{")),
    ("signup", "POST /signup 400", lambda _: api_event("POST", "/signup", body="")),
    (
        "signup",
        "POST /signup 422",
        lambda _: api_event("POST", "/signup", body=json.dumps({"email": "jane.doe@example.com"})),
    ),
    *(
        case
        for resource in ("/dashboard-api/trial", "/dashboard-api/whitelist", "/dashboard-api/messages")
        for case in (
            ("dashboard", f"GET {resource} 200", lambda key, r=resource: api_event("GET", r, headers=bearer(key))),
            ("dashboard", f"GET {resource} 401", lambda _, r=resource: api_event("GET", r)),
            ("dashboard", f"GET {resource} 404", lambda _, r=resource: api_event("GET", r, headers=bearer(NO_KEY))),
        )
    ),
    (
        "dashboard",
        "GET /dashboard-api/messages 400",
        lambda key: api_event("GET", "/dashboard-api/messages", headers=bearer(key), query={"limit": "0"}),
    ),
    (
        "dashboard",
        "GET /dashboard-api/messages 400",
        lambda key: api_event("GET", "/dashboard-api/messages", headers=bearer(key), query={"cursor": "nope"}),
    ),
    (
        "mo_webhook",
        "POST /webhooks/cm/{secret} 200",
        lambda key: cm("/webhooks/cm/{secret}", CM_SECRET, mo_payload(key)),
    ),
    ("mo_webhook", "POST /webhooks/cm/{secret} 404", lambda key: cm("/webhooks/cm/{secret}", "wrong", mo_payload(key))),
    (
        "mo_webhook",
        "POST /webhooks/cm/{secret} 400",
        lambda _: cm("/webhooks/cm/{secret}", CM_SECRET, json.dumps({"channel": "WhatsApp", "reference": "r1"})),
    ),
    (
        "mo_webhook",
        "POST /webhooks/cm-status/{secret} 200",
        lambda _: cm("/webhooks/cm-status/{secret}", CM_SECRET, (EVENTS / "cm_status_delivered.json").read_text()),
    ),
    ("mo_webhook", "GET /webhooks/meta 403", lambda _: meta_verification("wrong")),
    (
        "mo_webhook",
        "POST /webhooks/meta 401",
        lambda _: api_event("POST", "/webhooks/meta", body=(EVENTS / "meta_whatsapp_text.json").read_text()),
    ),
]


@pytest.mark.parametrize(("function", "answer", "event"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_the_documented_answers_are_the_handlers(
    document: dict[str, Any], function: str, answer: str, event: Any
) -> None:
    method, path, status = answer.split()
    got, _, body = invoke(load_handler(function), event(make_trial((Channel.WHATSAPP, "+31612345678"))))
    assert str(got) == status, body
    documented = document["paths"][path][method.lower()]["responses"][status]["content"]["application/json"]
    validator = jsonschema_rs.validator_for(documented["schema"])
    assert [error.message for error in validator.iter_errors(body)] == []
    if got >= 400:
        examples = [example["value"] for example in documented["examples"].values()]
        assert json.loads(json.dumps(body).replace(SITE_URL, EXAMPLE_SITE)) in examples


def test_the_meta_verification_echoes_the_documented_challenge(document: dict[str, Any]) -> None:
    answer = load_handler("mo_webhook").handler(meta_verification(META_VERIFY_TOKEN), FakeLambdaContext())
    documented = document["paths"]["/webhooks/meta"]["get"]["responses"]["200"]["content"]["text/plain"]
    assert (answer["statusCode"], answer["body"]) == (200, documented["example"])
