"""The architecture is a contract that `make lint` checks (`lint-imports`, pyproject's [tool.importlinter]): the
repository keeps it, and each planted back edge below breaks the contract that forbids it.

Each case runs `lint-imports` on a copy of the four root packages, so the working tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# Where each root package of the contract lives in the repository.
PACKAGES = {
    "trialgw": ROOT / "layers" / "core" / "python" / "trialgw",
    "trialgw_admin": ROOT / "trialgw_admin",
    "functions": ROOT / "functions",
    "infra": ROOT / "infra",
}


def contract_ids() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"] for contract in config["contracts"]}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name, source in PACKAGES.items():
        shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    # The copy first on the path: the editable install's packages must not stand in for it.
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200"}
    selected = [argument for contract in contracts for argument in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", "pyproject.toml", *selected],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def plant(tree: Path, module: str, line: str) -> None:
    with (tree / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{line}\n")


def test_the_repository_keeps_every_contract(copy: Path) -> None:
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_ids())} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("contract", "module", "line"),
    [
        # ports ← adapters, never ports → logic.
        ("trialgw-layers", "trialgw/ports.py", "from trialgw.logic import send  # noqa"),
        # An adapter calling a use case.
        ("trialgw-layers", "trialgw/adapters/dynamo_trials.py", "from trialgw.logic import capacity  # noqa"),
        # A use case shaping its own HTTP answer: outcomes go up to the gateway, never answers down.
        ("trialgw-layers", "trialgw/logic/send.py", "from trialgw.gateway import answers  # noqa"),
        # A new module of trialgw that the layers do not place.
        ("trialgw-layers", "trialgw/unplaced.py", "VALUE = 1"),
        # Logic reaching AWS itself, or a concrete provider, instead of a port.
        ("logic-through-ports", "trialgw/logic/capacity.py", "import boto3  # noqa"),
        ("logic-through-ports", "trialgw/logic/send.py", "from trialgw.adapters import aws  # noqa"),
        (
            "logic-through-ports",
            "trialgw/logic/delivery.py",
            "from trialgw.providers.sandbox import delivery  # noqa",
        ),
        # The layer importing what is outside it: a handler, the CLI, the CDK app.
        ("entry-points", "trialgw/settings.py", "from functions.send import handler  # noqa"),
        ("entry-points", "trialgw/logic/dashboard.py", "import trialgw_admin.cli  # noqa"),
        ("entry-points", "trialgw_admin/cli.py", "from infra import topology  # noqa"),
        ("entry-points", "trialgw_admin/trials.py", "from functions.dashboard import handler  # noqa"),
        # One Lambda reusing another's handler.
        ("one-lambda-each", "functions/send/handler.py", "from functions.signup import handler as signup  # noqa"),
    ],
)
def test_a_planted_back_edge_breaks_its_contract(copy: Path, contract: str, module: str, line: str) -> None:
    assert contract in contract_ids()
    assert lint_imports(copy, contract).returncode == 0
    plant(copy, module, line)
    result = lint_imports(copy, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
