"""The references the API functions' cold starts are read against (`benchmarks.cold_start`): the least a Powertools
REST function does, the way DESIGN.md has ours built (Logger, EMF metrics, Powertools' REST resolver with its
exception handler, a boto3 client created on the first request), and no business logic: the dashboard's trial
read as one route answering one DynamoDB GetItem.

Powertools' `event_handler` is imported as ours import it (`trialgw.lazy_reexports`: the REST resolver's modules,
not every resolver Powertools has), so that the reference costs what Powertools costs our functions and no more.
`REFERENCE_LIBRARY` adds, on the route, the one library call the seed's rules make an API function pay on its first
request: `phonenumbers` (a recipient normalized to E.164 and placed in its country: send, the MO webhooks) or
`email_validator` (an address checked: sign-up); the answer carries what it gave.

Between a function's own floor (boto3 alone) and the plain reference, what Powertools costs; between the reference
with the function's library and the function, what trialgw's own code costs.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw.lazy_reexports import defer_reexports

defer_reexports("aws_lambda_powertools.event_handler")
defer_reexports("aws_lambda_powertools.utilities.data_classes")
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response  # noqa: E402  # after the deferral

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()


@cache
def _dynamodb() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2}))


@app.get("/dashboard-api/trial")
def get_trial() -> Response[str]:
    key_hash = os.environ["REFERENCE_KEY_HASH"]
    item = (
        _dynamodb()
        .get_item(
            TableName=os.environ["REFERENCE_TABLE"],
            Key={"pk": {"S": f"TRIAL#{key_hash}"}, "sk": {"S": "TRIAL"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return Response(404, "application/json", json.dumps({"message": "unknown"}))
    logger.info("trial read")
    return Response(
        200, "application/json", json.dumps({"trial": {"name": item["name"]["S"]}, "checked": _library_call()})
    )


def _library_call() -> str | None:
    """The first request's call of `REFERENCE_LIBRARY`, imported here for the first time; None without one."""
    library = os.environ.get("REFERENCE_LIBRARY")
    if library == "phonenumbers":
        import phonenumbers

        number = phonenumbers.parse("+31612345678", None)
        if not phonenumbers.is_possible_number(number) or phonenumbers.region_code_for_number(number) != "NL":
            raise ValueError("phonenumbers misread the reference's number")
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if library == "email_validator":
        from email_validator import validate_email

        return str(validate_email("Jane.Doe@Example.com", check_deliverability=False).normalized)
    if library:
        raise ValueError(f"no reference call for the library {library!r}")
    return None


def _unexpected(error: Exception) -> Response[str]:
    logger.exception("unexpected error", extra={"error_type": type(error).__name__})
    return Response(500, "application/json", json.dumps({"message": "Something went wrong on our side."}))


app.exception_handler(Exception)(_unexpected)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
