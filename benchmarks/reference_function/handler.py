"""The reference the API functions' cold starts are read against (`benchmarks.cold_start`): the least a Powertools
REST function does, the way DESIGN.md has ours built (Logger, EMF metrics, Powertools' REST resolver with its
exception handler, a boto3 client created on the first request), and no business logic: the dashboard's trial
read as one route answering one DynamoDB GetItem.

Between a function's own floor (boto3 alone) and this, what Powertools costs; between this and the function, what
trialgw's own code costs.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

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
    return Response(200, "application/json", json.dumps({"trial": {"name": item["name"]["S"]}}))


def _unexpected(error: Exception) -> Response[str]:
    logger.exception("unexpected error", extra={"error_type": type(error).__name__})
    return Response(500, "application/json", json.dumps({"message": "Something went wrong on our side."}))


app.exception_handler(Exception)(_unexpected)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
