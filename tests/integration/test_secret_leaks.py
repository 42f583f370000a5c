"""No trial key, webhook secret (the providers' or a trial's own signing secret) or provider token in traces, logs
or metrics, over a whole trial.

Runs `leak_flow.py` in a fresh process that traces as in Lambda (see its docstring), then searches every captured
X-Ray subsegment and every line the functions wrote (structured logs and EMF metrics) for each secret, in the
spellings a leak could take (as is, upper case, URL-encoded, JSON-escaped). The flow's canary, logged and traced
on purpose, must be found in both: proof that the search sees what the functions emit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What Lambda's environment tells the X-Ray SDK and Powertools: in a function, sampled, with a trace to join.
LAMBDA_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_NAME": "trialgw-leak-probe",
    "_X_AMZN_TRACE_ID": "Root=1-67c4a9f2-5b8e1d3c7a9f2e4b6d8c0a1e;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_TRACE_DISABLED": "false",
    "POWERTOOLS_METRICS_DISABLED": "false",
    # The most the logLevel knob lets an operator log: if DEBUG holds no secret, no level does.
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
}


def _spellings(secret: str) -> set[str]:
    return {secret, secret.upper(), quote(secret, safe=""), json.dumps(secret)[1:-1]}


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], str]:
    capture = tmp_path_factory.mktemp("leaks") / "capture.json"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TRIALGW_"))},
        **LAMBDA_ENVIRONMENT,
        "LEAK_CAPTURE": str(capture),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration/leak_flow.py", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    return json.loads(capture.read_text(encoding="utf-8")), output


def test_the_probe_traced_the_whole_flow(captured: tuple[dict[str, object], str]) -> None:
    capture, output = captured
    segments = "\n".join(capture["segments"])  # type: ignore[arg-type]
    # The handlers' subsegments and their AWS calls were recorded: the search below searched real traces.
    assert segments.count('"name": "## handler"') >= 10
    for call in ("TransactWriteItems", "UpdateItem", "SendMessage", "SendEmail", "GetSecretValue"):
        assert f'"operation": "{call}"' in segments, call
    canary = str(capture["canary"])
    assert canary in segments
    assert canary in output
    # Metrics were emitted (EMF on stdout), so they were searched too.
    assert '"_aws"' in output
    assert "SendAccepted" in output


@pytest.mark.parametrize(
    "name",
    [
        "trial key",
        "trial webhook signing secret",
        "cm_webhook_secret",
        "meta_app_secret",
        "meta_verify_token",
        "cm_product_token",
        "messenger_page_token",
    ],
)
def test_no_secret_in_traces_logs_or_metrics(captured: tuple[dict[str, object], str], name: str) -> None:
    capture, output = captured
    secrets: dict[str, str] = capture["secrets"]  # type: ignore[assignment]
    segments = "\n".join(capture["segments"])  # type: ignore[arg-type]
    for spelling in _spellings(secrets[name]):
        assert spelling not in segments, f"the {name} is in an X-Ray segment"
        assert spelling not in output, f"the {name} is in the functions' output (logs or metrics)"
