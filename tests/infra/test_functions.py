"""Every function of the topology gets the same runtime, layers, logs, tracing and a valid environment."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from pydantic import ValidationError

from infra import build, topology
from infra.constructs import functions as functions_module
from infra.constructs.functions import (
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
    SharedLayers,
    settings_environment,
)
from tests.infra.cfn import environment, functions, props, referenced_id, render, resources
from tests.infra.conftest import Synthesized
from trialgw.settings import ENV_PREFIX, MoWebhookSettings, SignupSettings

ROOT = topology.ROOT


def test_every_topology_function_is_deployed(template_json: dict[str, Any]) -> None:
    assert set(functions(template_json)) == {f.name for f in topology.FUNCTIONS}


def test_every_function_has_the_shared_defaults(template_json: dict[str, Any]) -> None:
    for definition in topology.FUNCTIONS:
        _, function = functions(template_json)[definition.name]
        properties = props(function)
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == f"python{topology.PYTHON_VERSION}"
        assert properties["Handler"] == definition.handler
        assert properties["MemorySize"] == definition.memory_mb
        assert properties["Timeout"] == definition.timeout_seconds
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"


def test_tracing_is_off_unless_the_operator_turns_it_on(
    template_json: dict[str, Any], synthesized: Synthesized
) -> None:
    # Off (cdk.json's default): no active tracing, and Powertools told so, which keeps the X-Ray SDK out of the import.
    for _, function in functions(template_json).values():
        assert "TracingConfig" not in props(function)
        assert environment(function)["POWERTOOLS_TRACE_DISABLED"] == "true"
    # On (the variant's `tracing`): both, for every function.
    for _, function in functions(synthesized.variant_json).values():
        assert props(function)["TracingConfig"] == {"Mode": "Active"}
        assert environment(function)["POWERTOOLS_TRACE_DISABLED"] == "false"


def test_every_function_has_the_powertools_layer_of_the_tested_version_and_two_more(
    template_json: dict[str, Any],
) -> None:
    assert _installed_powertools_pin() == POWERTOOLS_VERSION
    assert (
        f"/aws/service/powertools/python/arm64/python{topology.PYTHON_VERSION}/{POWERTOOLS_VERSION}"
        == POWERTOOLS_LAYER_PARAMETER
    )
    ssm_parameters = {
        name
        for name, parameter in template_json["Parameters"].items()
        if parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        and parameter["Default"] == POWERTOOLS_LAYER_PARAMETER
    }
    assert len(ssm_parameters) == 1
    our_layers = {logical_id for logical_id, _ in resources(template_json, "AWS::Lambda::LayerVersion")}
    for _, function in functions(template_json).values():
        layers = [referenced_id(layer) for layer in props(function)["Layers"]]
        assert len(layers) == 3
        assert set(layers) - our_layers == ssm_parameters
        for layer_id in set(layers) & our_layers:
            layer = props(template_json["Resources"][layer_id])
            assert layer["CompatibleRuntimes"] == [f"python{topology.PYTHON_VERSION}"]
            assert layer["CompatibleArchitectures"] == ["arm64"]


def test_every_function_logs_to_its_own_group_with_a_retention(template_json: dict[str, Any]) -> None:
    log_groups = set()
    for _, function in functions(template_json).values():
        group_id = referenced_id(props(function)["LoggingConfig"]["LogGroup"])
        group = template_json["Resources"][group_id]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert props(group)["RetentionInDays"] == 30
        log_groups.add(group_id)
    assert len(log_groups) == len(topology.FUNCTIONS)


def test_every_function_environment_satisfies_its_settings_model(template_json: dict[str, Any]) -> None:
    for definition in topology.FUNCTIONS:
        model = definition.settings_model
        _, function = functions(template_json)[definition.name]
        variables = {name: render(value) for name, value in environment(function).items()}
        ours = {name for name in variables if name.startswith(ENV_PREFIX)}
        assert ours <= {f"{ENV_PREFIX}{field.upper()}" for field in model.model_fields}
        settings = model.from_env(variables)
        assert settings.site_url.startswith("https://")
        assert settings.api_url.startswith("https://")
        assert ".execute-api." in settings.api_url
        assert settings.api_url.endswith("/v1")
        assert settings.trials_table.startswith("ref-")  # the deployed table, never the local name
        # AWS has no simulated phone: the pages point to the real contact points only.
        assert settings.local_phone_url is None
        assert variables["POWERTOOLS_SERVICE_NAME"] == definition.name
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "trialgw"
        assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
        if isinstance(settings, SignupSettings):
            assert settings.sender_email == "trials@example.com"
            assert settings.ses_configuration_set is not None
            assert settings.ses_configuration_set.startswith("ref-")
        if isinstance(settings, MoWebhookSettings):
            assert settings.whitelist_table.startswith("ref-")
            assert settings.messages_table.startswith("ref-")
            assert settings.outbound_queue_url.startswith("ref-")
            assert settings.webhook_secrets_name is not None
            assert settings.webhook_secrets_name.startswith("ref-")
            # The values come from Secrets Manager at run time, never from the environment.
            assert settings.cm_webhook_secret is None
            assert settings.meta_app_secret is None
            assert settings.meta_verify_token is None


def test_settings_overrides_from_context_reach_the_environment(synthesized: Synthesized) -> None:
    _, function = functions(synthesized.variant_json)["signup"]
    variables = environment(function)
    assert variables["TRIALGW_TRIAL_LIFETIME_SECONDS"] == "600"
    assert variables["TRIALGW_SENDER_EMAIL"] == "trials@trials.example.org"


def test_a_bad_settings_override_fails_the_synth_not_the_cold_start() -> None:
    with pytest.raises(ValidationError):
        settings_environment(SignupSettings, deployed={}, overrides={"trial_lifetime_seconds": -1})


def test_overrides_and_deployed_values_only_reach_models_that_declare_them() -> None:
    environment = settings_environment(
        SignupSettings,
        deployed={"site_url": "${Token[1]}", "not_a_field": "x"},
        overrides={"brand": "ACME", "quota_sms": "5", "unknown_knob": 1},
    )
    assert environment == {
        "TRIALGW_BRAND": "ACME",
        "TRIALGW_QUOTA_SMS": "5",
        "TRIALGW_SITE_URL": "${Token[1]}",
    }


def test_deps_layer_requirements_equal_pyproject_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = dict(_pin(line) for line in pyproject["project"]["dependencies"])
    requirements = [
        line.strip()
        for line in topology.DEPS_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert requirements, "layers/deps/requirements.txt lists nothing"
    for line in requirements:
        name, version = _pin(line)
        assert pins.get(name) == version, f"{line} differs from pyproject's {name}=={pins.get(name)}"


def test_a_missing_deps_layer_says_to_run_make_layers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(functions_module, "DEPS_LAYER_DIR", tmp_path / "missing")
    stack = cdk.Stack(cdk.App())
    with pytest.raises(FileNotFoundError, match="make layers"):
        SharedLayers(stack, "Layers")


def test_a_build_older_than_its_sources_stops_the_synth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # As if a function were added (or build/functions removed) since the last `make layers`.
    monkeypatch.setattr(build, "FUNCTIONS_BUILD_DIR", tmp_path / "functions")
    stack = cdk.Stack(cdk.App())
    with pytest.raises(RuntimeError, match=r"run `make layers`\n  function: send: .*/functions/send is missing"):
        SharedLayers(stack, "Layers")


def test_every_asset_of_ours_ships_unchecked_hash_bytecode_of_the_runtime(synthesized: Synthesized) -> None:
    # The directories CDK staged for our functions and both our layers: what the deploy zips and uploads.
    staged = _our_staged_assets(synthesized)
    assert len(staged) == len(topology.FUNCTIONS) + 2
    tag = f"cpython-{topology.PYTHON_VERSION.replace('.', '')}"
    for name, asset in staged.items():
        sources = sorted(path for path in asset.rglob("*.py") if "__pycache__" not in path.parts)
        pycs = sorted(asset.rglob("*.pyc"))
        assert sources, f"{name}: no Python in {asset}"
        # One pyc per module, of the runtime's interpreter, beside it: none missing, none stray from elsewhere.
        assert pycs == sorted(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc" for path in sources), name
        for pyc in pycs:
            header = pyc.read_bytes()[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER, f"{pyc}: not {tag} bytecode"
            # PEP 552 flags: bit 0 hash-based, bit 1 check_source; unchecked-hash is 0b01.
            assert int.from_bytes(header[4:8], "little") == 0b01, f"{pyc}: not unchecked-hash"
            source = pyc.parent.parent / f"{pyc.name.split('.')[0]}.py"
            assert header[8:16] == importlib.util.source_hash(source.read_bytes()), f"{pyc}: compiled from other source"
    assert list(synthesized.outdir.glob("asset.*/**/*.egg-info")) == []


def test_the_operator_cli_ships_in_no_lambda_asset(synthesized: Synthesized) -> None:
    # The core layer is layers/core/python as it is: `trialgw` only; the CLI (trialgw_admin/) sits outside it.
    (core,) = {path.parents[2] for path in synthesized.outdir.glob("asset.*/python/trialgw/__init__.py")}
    assert sorted(path.name for path in (core / "python").iterdir()) == ["trialgw"]
    assert not (core / "python" / "trialgw" / "admin").exists()
    assert list(synthesized.outdir.glob("asset.*/**/trialgw_admin")) == []


def test_function_roles_are_their_own_and_start_without_managed_policies(template_json: dict[str, Any]) -> None:
    roles = set()
    for _, function in functions(template_json).values():
        role_id = referenced_id(props(function)["Role"])
        role = props(template_json["Resources"][role_id])
        assert "ManagedPolicyArns" not in role
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        roles.add(role_id)
    # CDK's default role would carry AWSLambdaBasicExecutionRole (logs on every log group).
    assert len(roles) == len(topology.FUNCTIONS)


def _our_staged_assets(synthesized: Synthesized) -> dict[str, Path]:
    """The staged asset directory of each of our functions (by name) and of the layers they carry ("layer: <id>")."""
    template = synthesized.template_json
    staged = {
        name: _staged(synthesized, props(function)["Code"]) for name, (_, function) in functions(template).items()
    }
    ours = {logical_id for logical_id, _ in resources(template, "AWS::Lambda::LayerVersion")}
    carried = {
        referenced_id(layer) for _, function in functions(template).values() for layer in props(function)["Layers"]
    }
    for logical_id in sorted(carried & ours):
        staged[f"layer: {logical_id}"] = _staged(synthesized, props(template["Resources"][logical_id])["Content"])
    return staged


def _staged(synthesized: Synthesized, code: dict[str, Any]) -> Path:
    digest = code["S3Key"].removesuffix(".zip")
    directory = synthesized.outdir / f"asset.{digest}"
    assert directory.is_dir(), f"{code['S3Key']} is staged as no directory"
    return directory


def _pin(requirement: str) -> tuple[str, str]:
    name, _, version = requirement.partition("==")
    return re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-"), version.strip()


def _installed_powertools_pin() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(_pin(line) for line in pyproject["project"]["dependencies"])["aws-lambda-powertools"]


def test_only_the_send_function_has_reserved_concurrency_and_zero_means_none(synthesized: Synthesized) -> None:
    # The breaker's overshoot grows with the instances counting in parallel (see StackConfig), so the send
    # function's are capped; the other functions take what the account has.
    reserved = {
        name: props(function).get("ReservedConcurrentExecutions")
        for name, (_, function) in functions(synthesized.template_json).items()
    }
    assert reserved == {name: (10 if name == "send" else None) for name in reserved}
    variant = functions(synthesized.variant_json)
    assert all("ReservedConcurrentExecutions" not in props(function) for _, function in variant.values())
