"""One cold start, in the fresh interpreter `benchmarks.cold_start` runs it in: `python -P cold_child.py MODE SPEC`.

`handler`: imports the function's `handler` module (from PYTHONPATH, as Lambda does), then invokes it once with the
spec's event, every AWS call answered in-process by `benchmarks.stubs.AwsStub`. `floor`: imports boto3, creates the
clients the handler created and replays the calls it made, each answered at once. Both write, as JSON to the spec's
`result` path, `time.monotonic()` (one clock for every process) when the import ended and when the work did, and what
the work touched; the parent timed the start. Nothing is imported before the import measured but what Python itself
loads at start-up.
"""

from __future__ import annotations

import sys
import time
from typing import Any

# Per service, an operation that takes no parameters.
NO_PARAMETERS = {
    "dynamodb": "DescribeLimits",
    "sqs": "ListQueues",
    "sesv2": "GetAccount",
    "secretsmanager": "ListSecrets",
    "pinpoint-sms-voice-v2": "DescribeAccountAttributes",
}


class Context:
    """What the handlers read of Lambda's context object."""

    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_stream_name = "2026/01/01/[$LATEST]cold"

    def __init__(self, name: str, remaining_ms: int) -> None:
        self.function_name = f"trialgw-{name}"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def _read(path: str) -> dict[str, Any]:
    import json

    with open(path) as file:
        spec: dict[str, Any] = json.load(file)
    return spec


def _write(spec: dict[str, Any], result: dict[str, Any]) -> None:
    import json

    with open(spec["result"], "w") as file:
        json.dump(result, file)


def _recorder(session: Any) -> tuple[list[str], list[list[Any]]]:
    """Records every client `session` (boto3's) creates, by service, and every call they make (service, operation,
    parameters: None when they are not JSON)."""
    import json

    from benchmarks.stubs import PARAMS_KEY

    clients: list[str] = []
    calls: list[list[Any]] = []

    make_client = session.client

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        clients.append(service_name)
        return make_client(service_name, *args, **kwargs)

    def called(model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(PARAMS_KEY)
        try:
            json.dumps(params)
        except TypeError:
            params = None
        calls.append([model.service_model.service_name, model.name, params])

    session.client = client
    session.events.register_first("before-call", called)
    return clients, calls


def handler(spec_path: str) -> None:
    import handler as function  # type: ignore[import-not-found]  # the function's own, found on PYTHONPATH

    imported = time.monotonic()
    import boto3

    from benchmarks.stubs import AwsStub

    spec = _read(spec_path)
    # The default session, as the handler's clients use it (created now if the import did not).
    session = boto3._get_default_session()
    stub = AwsStub(spec["key_hash"], spec["trial_item"])
    stub.secrets.update(spec["secrets"])
    stub.attach_session(session)
    clients, calls = _recorder(session)
    answer = function.handler(spec["event"], Context(spec["function"], spec["remaining_ms"]))
    done = time.monotonic()
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    _write(
        spec,
        {"imported": imported, "done": done, "clients": clients, "calls": calls, "status": status,
         "failures": failures, "answer": repr(answer)[:300],
         "body": answer.get("body") if isinstance(answer, dict) else None},
    )  # fmt: skip


def floor(spec_path: str) -> None:
    import boto3

    imported = time.monotonic()
    from botocore import xform_name
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.config import Config

    spec = _read(spec_path)
    session = boto3._get_default_session()
    # Every call answered at once, as `AwsStub` answers (not imported here: it imports trialgw).
    answer = AWSResponse("", 200, HTTPHeaders(), None), {"ResponseMetadata": {"HTTPStatusCode": 200}}
    events: Any = session.events
    events.register("before-call", lambda **_: answer)
    config = Config(**spec["config"])
    clients = {service: boto3.client(service, config=config) for service in spec["clients"]}
    for service, operation, params in spec["calls"]:
        # Parameters JSON could not carry (bytes): a call of the same client that needs none.
        name, kwargs = (operation, params) if params is not None else (NO_PARAMETERS[service], {})
        getattr(clients[service], xform_name(name))(**kwargs)
    done = time.monotonic()
    _write(spec, {"imported": imported, "done": done, "clients": list(clients), "calls": spec["calls"]})


if __name__ == "__main__":
    {"handler": handler, "floor": floor}[sys.argv[1]](sys.argv[2])
