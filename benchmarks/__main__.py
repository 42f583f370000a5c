"""`make bench`: every benchmark's table, and the numbers as JSON in benchmarks/results/latest.json."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from benchmarks import aws_calls, cold_start, send_cpu


def main() -> None:
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    print(f"trialgw benchmarks on {machine}")
    results = {
        "machine": machine,
        "cold_start": cold_start.report(),
        "aws_calls": aws_calls.report(),
        # After aws_calls, whose moto session it replaces with stubbed clients of its own.
        "send_cpu": send_cpu.report(),
    }
    out = Path(__file__).parent / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
