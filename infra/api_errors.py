"""The answers API Gateway gives itself, with no function involved: JSON with a message that says what to do.

The CDK API sets them as gateway responses and the local router gives the same bodies, so a request to a path or
method the API does not define never gets API Gateway's default 403 "Missing Authentication Token", which sends a
developer looking for a key they already gave. Pure Python (no CDK import): both stacks read it.

API Gateway answers a path it does not know and a method a known path does not take alike (the
MISSING_AUTHENTICATION_TOKEN response), so in AWS both are 404 with `NO_ROUTE_MESSAGE`; the local router can tell
them apart and answers the second 405 with an `Allow` header (docs/api.md, "Unknown paths and methods").
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from trialgw.urls import GATEWAY_PATH, GATEWAY_SDK_PATH

NO_ROUTE_STATUS = 404
WRONG_METHOD_STATUS = 405
# No `$` or `#` in it: it is a VTL template in AWS, given verbatim.
NO_ROUTE_MESSAGE = (
    "This API has no route for this method and path. To send a message, POST CM's JSON to "
    f"{GATEWAY_PATH} (or {GATEWAY_SDK_PATH}, the same route, for SDKs that append production's path); "
    "the API is described at /openapi.json."
)
# API Gateway's own other errors (throttled, request too large, WAF-blocked, integration failed) keep its message
# (`messageString` is the message as a quoted JSON string), in the same JSON shape.
OWN_ERROR_TEMPLATE = '{"message": $context.error.messageString}'


def no_route_body() -> str:
    """The JSON body of the unknown-route answer (a gateway response template in AWS, verbatim)."""
    return json.dumps({"message": NO_ROUTE_MESSAGE})


def wrong_method_message(allowed: Iterable[str]) -> str:
    """The local 405's message: the methods the path takes (the request's own method is not echoed)."""
    return f"This route does not take this method; it takes {', '.join(sorted(allowed))} (see the Allow header)."
