"""The cold-start benchmark's set-up: each function started as deployed, with a first request it must answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cold_start
from benchmarks.__main__ import REFERENCE_LIBRARY_CALLS, cold_start_rows
from benchmarks.stubs import updated
from infra.topology import FUNCTIONS, ROOT, TRACING_BY_DEFAULT, FunctionDef
from trialgw import names
from trialgw.keys import hash_key, new_key


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_every_function_starts_with_its_deployed_settings_tracing_as_deployed_and_nothing_reaching_aws(
    function: FunctionDef,
) -> None:
    env = cold_start.deployed_environment(function, from_build=False, daemon_port=2000)
    settings = function.settings_model.from_env(env)
    assert env["POWERTOOLS_TRACE_DISABLED"] == ("false" if TRACING_BY_DEFAULT else "true")
    flipped = cold_start.deployed_environment(function, from_build=False, daemon_port=2000, tracing=True)
    assert flipped["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert env["LAMBDA_TASK_ROOT"] == str(function.code_dir)
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
    assert "Sampled=1" in env["_X_AMZN_TRACE_ID"]
    assert env["AWS_ENDPOINT_URL"] == cold_start.UNANSWERED_ENDPOINT
    assert env["PYTHONPATH"].split(":")[:2] == [str(function.code_dir), str(cold_start.SOURCE_CORE)]
    if names.OUTBOUND.logical in function.sends_to:
        assert getattr(settings, "outbound_queue_url", "").endswith(names.OUTBOUND.local_name)
    assert (getattr(settings, "webhook_secrets_name", None) is not None) == function.reads_webhook_secrets
    assert (getattr(settings, "provider_secrets_name", None) is not None) == function.reads_provider_secrets


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_every_function_has_a_first_request_of_its_own_kind(function: FunctionDef) -> None:
    event = cold_start.first_event(function, new_key())
    if function.consumes:
        assert len(event["Records"]) == 1
        assert event["Records"][0]["eventSource"] == "aws:sqs"
    elif function.schedule_minutes:
        assert event["detail-type"] == "Scheduled Event"
    else:
        assert event["requestContext"]["httpMethod"] == event["httpMethod"]
        assert function.name in cold_start.API_STATUSES


# What a handler's child does with the harness after the import measured (`benchmarks/cold_child.py`), with every
# compilation from source recorded.
_CHILD_IMPORTS_THE_STUB = """
import builtins, json, sys
compiled, compile_ = [], builtins.compile
def recording(source, filename, *args, **kwargs):
    compiled.append(str(filename))
    return compile_(source, filename, *args, **kwargs)
builtins.compile = recording
from benchmarks.stubs import PARAMS_KEY, AwsStub
harness = {name: module.__file__ for name, module in sys.modules.items() if name.split(".")[0] == "benchmarks"}
print(json.dumps({"compiled": compiled, "harness": harness}))
"""


def _child_importing_the_stub(harness: Path, **env: str) -> dict[str, Any]:
    """What a child finding the harness in `harness` loaded of it, and what it compiled."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(cold_start.SOURCE_CORE), str(harness)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-P", "-c", _CHILD_IMPORTS_THE_STUB], env=env, capture_output=True, text=True, check=True
    )
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_a_handlers_child_loads_the_stub_from_bytecode_as_its_floor_pays_for_no_stub(tmp_path: Path) -> None:
    harness = cold_start.compiled_harness(tmp_path)
    loaded = _child_importing_the_stub(harness)
    assert set(loaded["harness"]) == {"benchmarks", "benchmarks.stubs"}
    assert all(Path(path).is_relative_to(harness) for path in loaded["harness"].values())
    assert not [path for path in loaded["compiled"] if Path(path).is_relative_to(harness)]
    # From the checkout, with no bytecode of it to find (as under `make`), the child compiles the stub: what the
    # copy saves every handler's run.
    from_checkout = _child_importing_the_stub(ROOT, PYTHONPYCACHEPREFIX=str(tmp_path / "no-bytecode"))
    assert str(ROOT / "benchmarks" / "stubs.py") in from_checkout["compiled"]


def test_the_stub_answers_an_update_with_what_it_set() -> None:
    params = {
        "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}},
        "UpdateExpression": "SET #s = :s, #r = if_not_exists(#r, :r) ADD #n :one",
        "ExpressionAttributeNames": {"#s": "state", "#r": "received", "#n": "attempts"},
        "ExpressionAttributeValues": {":s": {"S": "x"}, ":r": {"N": "5"}, ":one": {"N": "1"}},
    }
    assert updated(params) == {
        "pk": {"S": "a"},
        "sk": {"S": "b"},
        "state": {"S": "x"},
        "received": {"N": "5"},
        "attempts": {"N": "1"},
    }


def test_the_summary_shows_both_numbers_of_each_handler_against_their_floors() -> None:
    rows = [
        {
            "name": "floor: import boto3",
            "median_ms": 200.0,
            "ratio": 1.0,
            "runs": 9,
            "code": "source",
            "tracing": False,
        },
        {
            "name": "handler: send",
            "median_ms": 600.0,
            "ratio": 3.0,
            "first_request_ms": 700.0,
            "floor_ms": 350.0,
            "first_request_ratio": 2.0,
            "aws_calls": 5,
            "clients": ["dynamodb", "sqs"],
            "flipped_tracing_ratio": 3.9,
            "flipped_tracing_first_request_ratio": 2.5,
        },
    ]
    assert cold_start_rows(rows) == [
        (
            "cold start",
            "send: import (from source, no build/, tracing off)",
            "600 ms",
            "`import boto3`: 200 ms",
            "3.00",
        ),
        (
            "cold start",
            "send: import + first request (5 AWS calls)",
            "700 ms",
            "boto3, dynamodb, sqs clients, 5 calls: 350 ms",
            "2.00",
        ),
        ("cold start", "send: with tracing on, import / + first request", "-", "the same floors", "3.90 / 2.50"),
    ]


def test_the_reference_starts_as_a_function_would_with_its_own_code_only_and_the_dashboards_first_request() -> None:
    key = new_key()
    env = cold_start.deployed_environment(cold_start.REFERENCE, from_build=True, daemon_port=2000, key=key)
    # Its own directory, the core layer (for trialgw.lazy_reexports alone), then the checkout (for the child's stub,
    # after the import measured).
    assert env["PYTHONPATH"].split(":") == [str(cold_start.REFERENCE_DIR), str(cold_start.BUILT_CORE), str(ROOT)]
    assert env["LAMBDA_TASK_ROOT"] == str(cold_start.REFERENCE_DIR)
    assert env["REFERENCE_KEY_HASH"] == hash_key(key)
    assert env["REFERENCE_TABLE"] == names.TRIALS.local_name
    assert env["AWS_ENDPOINT_URL"] == cold_start.UNANSWERED_ENDPOINT
    assert "REFERENCE_LIBRARY" not in env
    event = cold_start.first_event(cold_start.REFERENCE, key)
    assert (event["httpMethod"], event["path"]) == ("GET", "/dashboard-api/trial")


# What each reference's first request answers in `checked`: the library's own result, so it must have run.
REFERENCE_CHECKED = {
    "powertools_reference": None,
    "reference_phonenumbers": "+31612345678",
    "reference_email_validator": "Jane.Doe@example.com",
}


@pytest.mark.parametrize("reference", cold_start.REFERENCES, ids=lambda r: r.name)
def test_each_reference_answers_its_first_request_with_its_librarys_result_in_a_fresh_child(
    reference: cold_start.Reference, tmp_path: Path
) -> None:
    key = new_key()
    stub = cold_start._trial(key)
    spec = cold_start._handler_spec(
        reference, key, cold_start._trial_item(reference, stub, "http://127.0.0.1:9/"), tmp_path
    )
    env = cold_start.deployed_environment(reference, cold_start.built(), daemon_port=9, key=key)
    _, _, result = cold_start._run("handler", spec, env)
    assert result["status"] == 200, result["answer"]
    assert [call[:2] for call in result["calls"]] == [["dynamodb", "GetItem"]]
    assert json.loads(result["body"])["checked"] == REFERENCE_CHECKED[reference.name]


def test_the_reference_imports_powertools_as_the_functions_do_not_every_resolver_it_has() -> None:
    env = cold_start.deployed_environment(cold_start.REFERENCE, cold_start.built(), daemon_port=9, key=new_key())
    probe = "import json, sys, handler; print(json.dumps(sorted(sys.modules)))"
    loaded = set(
        json.loads(
            subprocess.run(
                [sys.executable, "-P", "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60
            ).stdout
        )
    )
    # The REST resolver, imported at the handler's import, and neither AppSync's resolver nor the asyncio it brings.
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    assert not loaded & {"asyncio", "aws_lambda_powertools.event_handler.appsync"}


def test_the_summary_shows_a_library_reference_by_its_first_request_and_what_it_adds() -> None:
    floor = {"name": "floor: import boto3", "median_ms": 200.0, "ratio": 1.0, "runs": 9, "code": "build"}
    reference = {
        "name": "handler: reference_phonenumbers",
        "median_ms": 150.0,
        "ratio": 0.75,
        "first_request_ms": 380.0,
        "floor_ms": 320.0,
        "first_request_ratio": 1.1875,
        "aws_calls": 1,
        "clients": ["dynamodb"],
        "flipped_tracing_ratio": 0.9,
        "flipped_tracing_first_request_ratio": 1.3,
    }
    assert cold_start_rows([floor, reference]) == [
        (
            "cold start",
            "reference + a phone number normalized (phonenumbers: send, the MO webhooks): import + first request",
            "380 ms",
            "boto3, dynamodb clients, 1 calls: 320 ms",
            "1.19",
        )
    ]
    # Every library reference the benchmark runs has its row's words.
    assert {r.name for r in cold_start.REFERENCES if r.library} == set(REFERENCE_LIBRARY_CALLS)
