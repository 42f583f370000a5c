"""Cold starts stay lean: importing a handler loads none of the heavy modules it needs only later, or never.

Each handler is imported in a fresh interpreter (as Lambda imports it) and the modules it loaded are listed. What
that costs in time is measured by benchmarks/cold_start.py; this checks only which modules load, so it cannot
flake on a busy machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra import topology
from infra.topology import FUNCTIONS, ROOT

CORE = ROOT / "layers" / "core" / "python"

# pydantic: at no handler's import, nor at the signup's first request (checked below: its input is checked by plain
# code). email_validator: only the signup's input needs it, on its first request (trialgw.signup_input).
# The X-Ray SDK: only when tracing is on. Powertools idempotency (and the boto3 resource layer it imports): only on
# the delivery function's first record. Powertools' event_handler: only on an API function's first request
# (trialgw.http.resolver), and then only the REST resolver's modules, never every resolver it has (asyncio with
# AppSync's; trialgw.lazy_reexports). Powertools' batch utility and its data classes (every event class Powertools
# has): never in an SQS function (trialgw.adapters.sqs_batches walks SQS batches itself), only the REST resolver's
# in an API function.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "email_validator",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "asyncio",
)

_IMPORT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""

# What the REST resolver's package and the data classes' would import for other resolvers and other event sources.
PAYS_FOR_OTHERS = (
    "asyncio",
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.event_handler.events_appsync",
    "aws_lambda_powertools.event_handler.http_resolver",
    "aws_lambda_powertools.utilities.data_classes.sqs_event",
    "aws_lambda_powertools.utilities.data_classes.kafka_event",
)

# pydantic and the packages it brings.
PYDANTIC = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection")

# The signup function's first request, in Lambda's order: the handler's import, then one invocation. Its body has a
# wrong field, so the answer (a 422) comes from the input's validation before any AWS call.
_FIRST_SIGNUP = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

class Context:
    function_name = "trialgw-signup"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trialgw-signup"
    memory_limit_in_mb = 256
    aws_request_id = "first-request"
    log_group_name = "/aws/lambda/trialgw-signup"
    log_stream_name = "first"

    def get_remaining_time_in_millis(self):
        return 10000

event = json.loads(open(sys.argv[2]).read())
event["body"] = json.dumps({"name": "Jane", "email": "jane@example.com", "consent": "no"})
answer = module.handler(event, Context())
print(json.dumps({"status": answer["statusCode"], "body": json.loads(answer["body"]), "modules": sorted(sys.modules)}))
"""


def _environment(**environment: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(CORE), str(ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        **environment,
    }


def _modules_after_import(handler: str, **environment: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", _IMPORT, handler],
        env=_environment(**environment),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


def _loaded(modules: set[str], package: str) -> list[str]:
    return sorted(name for name in modules if name == package or name.startswith(f"{package}."))


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.name)
def test_importing_a_handler_loads_no_heavy_module(function: topology.FunctionDef) -> None:
    # As in Lambda, with tracing turned off.
    modules = _modules_after_import(
        str(function.code_dir / "handler.py"), LAMBDA_TASK_ROOT=str(ROOT), POWERTOOLS_TRACE_DISABLED="true"
    )
    for package in HEAVY:
        assert _loaded(modules, package) == [], f"{function.name} imports {package} at its cold start"


def test_tracing_on_still_loads_the_x_ray_sdk_at_import() -> None:
    # In Lambda (LAMBDA_TASK_ROOT set, tracing not disabled) the entry point is traced, so the SDK loads with it.
    modules = _modules_after_import(str(topology.function("send").code_dir / "handler.py"), LAMBDA_TASK_ROOT=str(ROOT))
    assert _loaded(modules, "aws_xray_sdk") != []
    assert _loaded(modules, "pydantic") == []


def test_the_signup_functions_first_request_loads_no_pydantic_nor_other_resolvers() -> None:
    # Its input is checked by plain code (trialgw.signup_input); email_validator is the one library it needs.
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _FIRST_SIGNUP,
            str(topology.function("signup").code_dir / "handler.py"),
            str(ROOT / "tests" / "events" / "apigw_rest_signup.json"),
        ],
        env=_environment(
            LAMBDA_TASK_ROOT=str(ROOT),
            POWERTOOLS_TRACE_DISABLED="true",
            TRIALGW_SITE_URL="https://d111111abcdef8.cloudfront.net",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    first = json.loads(run.stdout.splitlines()[-1])
    assert (first["status"], first["body"]["fields"]) == (
        422,
        {"consent": "Please agree to the trial terms to get a key."},
    )
    modules = set(first["modules"])
    assert _loaded(modules, "email_validator") != []
    for package in PYDANTIC:
        assert _loaded(modules, package) == [], f"the signup function's first request imports {package}"
    # Powertools' REST resolver answered, without the other resolvers and event classes Powertools re-exports.
    assert _loaded(modules, "aws_lambda_powertools.event_handler.api_gateway") != []
    for package in PAYS_FOR_OTHERS:
        assert _loaded(modules, package) == [], f"the signup function's first request imports {package}"
