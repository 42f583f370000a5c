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

# pydantic and email_validator: only the signup's input needs them, on its first request (trialgw.signup_input).
# The X-Ray SDK: only when tracing is on. Powertools idempotency (and the boto3 resource layer it imports): only on
# the delivery function's first record. Powertools' event_handler (every resolver it has, asyncio with AppSync's):
# only on an API function's first request (trialgw.http.resolver). Powertools' batch utility and its data classes
# (every event class Powertools has): never (trialgw.adapters.sqs_batches walks SQS batches itself).
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


def _modules_after_import(handler: str, **environment: str) -> set[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(CORE), str(ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        **environment,
    }
    run = subprocess.run(
        [sys.executable, "-c", _IMPORT, handler], env=env, cwd=ROOT, capture_output=True, text=True, check=True
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
