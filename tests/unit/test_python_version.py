"""One Python version everywhere: the tested interpreter is the deployed one.

.python-version names it (major.minor); infra reads it for the Lambda runtime, the Makefile for the deps layer's
wheels, its bytecode and the venv's interpreter. mypy's and ruff's targets and requires-python are written out in
pyproject.toml (TOML cannot refer to a file): this test keeps them equal to it, so moving to a newer Python is one
change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib

from infra.topology import PYTHON_VERSION, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_a_major_minor() -> None:
    assert re.fullmatch(r"3\.\d+", PYTHON_VERSION), f".python-version holds {PYTHON_VERSION!r}, not 3.N"


def test_the_tests_run_on_it() -> None:
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == PYTHON_VERSION, (
        f"this is Python {sys.version}; the Lambda runtime is {PYTHON_VERSION}: `make clean test` makes the venv anew"
    )


def test_the_lambda_runtime_is_it() -> None:
    from infra.constructs.functions import POWERTOOLS_LAYER_PARAMETER, RUNTIME

    assert RUNTIME.name == f"python{PYTHON_VERSION}"
    assert f"/python{PYTHON_VERSION}/" in POWERTOOLS_LAYER_PARAMETER


def test_mypy_ruff_and_requires_python_target_it() -> None:
    assert PYPROJECT["tool"]["mypy"]["python_version"] == PYTHON_VERSION
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{PYTHON_VERSION.replace('.', '')}"
    assert PYPROJECT["project"]["requires-python"] == f">={PYTHON_VERSION}"


def test_the_makefile_builds_the_deps_layer_and_the_venv_for_it() -> None:
    make = shutil.which("make")
    assert make, "make is not installed"
    # What `make layers` would run from scratch (-B: every target, -n: printed, not run).
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))}
    printed = subprocess.run(
        [make, "-n", "-B", "--no-print-directory", "build/layers/deps/python/.installed"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.replace("\\\n", " ")
    (pip,) = [line for line in printed.splitlines() if "pip install" in line and "--target" in line]
    assert f"--python-version {PYTHON_VERSION} " in pip
    assert "--only-binary=:all:" in pip
    # The venv is made by an interpreter of that version, and checked to be one.
    assert re.search(r" -m venv \.venv$", printed, re.MULTILINE)
    assert f'"%d.%d" % sys.version_info[:2] == "{PYTHON_VERSION}"' in printed
    # Its bytecode comes from the venv's interpreter: that version's.
    assert ".venv/bin/python -m compileall -q --invalidation-mode unchecked-hash build/layers/deps/python" in printed
