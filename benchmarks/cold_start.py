"""Cold start: how long a fresh interpreter takes to import each handler, against `import boto3`.

Lambda pays this import on every cold start. The floor is what any boto3-using function pays anyway;
a handler that builds clients, reads settings or does other work at import time shows up as a ratio
well above the floor. The handlers and the core layer are imported from what deploys (`make layers`' build/: their
unchecked-hash bytecode beside them), so no import compiles; third-party packages come from the venv.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from infra import build
from infra.topology import FUNCTIONS, ROOT

RUNS = 9
CORE = build.CORE_LAYER_BUILD_DIR / "python"


@dataclass(frozen=True)
class ColdStart:
    name: str
    median_ms: float
    ratio: float


def _time_import(code: str) -> float:
    """Median wall time of `python -c code` in a fresh interpreter, in milliseconds."""
    samples = []
    env = {"PYTHONPATH": str(CORE), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _import_handler(path: Path) -> str:
    return (
        "import importlib.util as u;"
        f"s=u.spec_from_file_location('handler', {str(path)!r});"
        "m=u.module_from_spec(s);s.loader.exec_module(m)"
    )


def measure() -> list[ColdStart]:
    stale = build.stale()
    if stale:
        raise FileNotFoundError(f"build/ is not what the sources build ({stale[0]}): run `make layers` first")
    floor = _time_import("import boto3")
    results = [ColdStart("floor: import boto3", floor, 1.0)]
    for function in FUNCTIONS:
        median = _time_import(_import_handler(build.function_dir(function.name) / "handler.py"))
        results.append(ColdStart(f"handler: {function.name}", median, median / floor))
    return results


def report() -> list[dict[str, object]]:
    rows = measure()
    print(f"\nCold start: import time in a fresh interpreter (median of {RUNS} runs)")
    print(f"{'what':<28}{'median ms':>12}{'× floor':>10}")
    for row in rows:
        print(f"{row.name:<28}{row.median_ms:>12.1f}{row.ratio:>10.2f}")
    return [{"name": r.name, "median_ms": round(r.median_ms, 1), "ratio": round(r.ratio, 2)} for r in rows]
