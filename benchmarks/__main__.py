"""`make bench`: every benchmark in one run, one combined table, and the numbers as JSON.

Each benchmark prints its own table as it runs; at the end one Markdown table puts them side by side
(measured against its floor or minimum, as a ratio), ready for docs/benchmarks.md, with the machine it ran on.
Everything goes to benchmarks/results/latest.json. A benchmark that fails is reported as failed and the
others still run; the exit code is then 1 (also when the load test could not prove its counts, or the fuzzing
found a 5xx, an undocumented answer or a broken rule).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import artefacts, aws_calls, cold_start, fuzz, load, send_cpu

RESULTS = Path(__file__).parent / "results" / "latest.json"
# Trials start for this long; those in flight then finish: about a minute of load in all.
LOAD_SECONDS = 40.0
# (section, what, measured, floor or minimum, ratio)
Row = tuple[str, str, str, str, str]


def machine() -> dict[str, object]:
    """What the numbers were measured on: CPU model, cores, Python, OS."""
    cpu = platform.processor() or platform.machine()
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line)
        found = {name.strip(): value.strip() for name, value in fields.items()}
        if "model name" in found:
            cpu = f"{found['model name']} ({platform.machine()}"
            cpu += f", {float(found['cpu MHz']) / 1000:.1f} GHz)" if "cpu MHz" in found else ")"
    except (OSError, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def describe(info: dict[str, object]) -> str:
    return f"{info['cpu']}, {info['cores']} cores, {info['python']}, {info['platform']}, {info['date']}"


def _ratio(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.2f}"


def _num(value: object) -> str:
    number = float(str(value))
    return f"{number:g}" if number == int(number) else f"{number:.2f}"


# What each library reference adds to the plain one's first request, by its name.
REFERENCE_LIBRARY_CALLS = {r.name: r.call for r in cold_start.REFERENCES if r.library is not None}


def cold_start_rows(rows: list[dict[str, Any]]) -> list[Row]:
    floor, handlers = rows[0], rows[1:]
    code = "bytecode from build/" if floor["code"] == "build" else "from source, no build/"
    table: list[Row] = []
    tracing = cold_start.tracing_words(bool(floor.get("tracing")))
    flipped = cold_start.tracing_words(not floor.get("tracing"))
    for r in handlers:
        name = r["name"].removeprefix("handler: ")
        clients = ", ".join(r["clients"]) or "no"
        floor_cell = f"boto3, {clients} clients, {r['aws_calls']} calls: {r['floor_ms']:.0f} ms"
        if name == cold_start.REFERENCE.name:
            # Its own code only (no build, no tracer): what Powertools alone costs beside the API functions.
            table += [
                ("cold start", "reference, Powertools REST function, no business logic: import",
                 f"{r['median_ms']:.0f} ms", f"`import boto3`: {floor['median_ms']:.0f} ms", _ratio(r["ratio"])),
                ("cold start", f"reference: import + first request ({r['aws_calls']} AWS calls)",
                 f"{r['first_request_ms']:.0f} ms", floor_cell, _ratio(r["first_request_ratio"])),
            ]  # fmt: skip
            continue
        if name in REFERENCE_LIBRARY_CALLS:
            # Imported as the plain reference is (the library loads on the route): only its first request tells.
            table.append(
                ("cold start", f"reference + {REFERENCE_LIBRARY_CALLS[name]}: import + first request",
                 f"{r['first_request_ms']:.0f} ms", floor_cell, _ratio(r["first_request_ratio"]))
            )  # fmt: skip
            continue
        table += [
            ("cold start", f"{name}: import ({code}, {tracing})", f"{r['median_ms']:.0f} ms",
             f"`import boto3`: {floor['median_ms']:.0f} ms", _ratio(r["ratio"])),
            ("cold start", f"{name}: import + first request ({r['aws_calls']} AWS calls)",
             f"{r['first_request_ms']:.0f} ms", floor_cell, _ratio(r["first_request_ratio"])),
            ("cold start", f"{name}: with {flipped}, import / + first request", "-", "the same floors",
             f"{_ratio(r['flipped_tracing_ratio'])} / {_ratio(r['flipped_tracing_first_request_ratio'])}"),
        ]  # fmt: skip
    return table


def aws_call_rows(rows: list[dict[str, Any]]) -> list[Row]:
    table: list[Row] = []
    for r in rows:
        calls = r["detail"].items()
        if r["operation"] == aws_calls.BURST_ROW:
            calls = [(name, count) for name, count in calls if name.endswith(aws_calls.BREAKER)]
        detail = ", ".join(f"{name.split('.', 1)[1]} {count}" for name, count in sorted(calls))
        if r.get("requests"):
            detail += f" over {r['requests']}"
        minimum = _num(r["minimum"]) + (f" (goal {_num(r['goal'])})" if r.get("goal") is not None else "")
        ratio = "-" if not r["minimum"] else _ratio(r["calls"] / r["minimum"])
        if not r["minimum"] and not r["calls"]:
            ratio = "ok"
        table.append(("AWS calls", r["operation"], f"{_num(r['calls'])} ({detail or 'none'})", minimum, ratio))
    return table


def cpu_rows(rows: list[dict[str, Any]]) -> list[Row]:
    floor = rows[0]
    return [
        ("CPU per request", r["name"], f"{r['ms_per_request']:.3f} ms",
         f"bare resolver: {floor['ms_per_request']:.3f} ms", _ratio(r["ratio"]))
        for r in rows[1:]
    ]  # fmt: skip


def load_rows(rows: list[dict[str, Any]]) -> list[Row]:
    summary, operations = rows[0], rows[1:]
    proved = "exact" if summary["proved"] else f"NOT PROVED ({summary['unexpected']} unexpected)"
    answers = summary["answers"]
    table: list[Row] = [
        ("local stack load", f"throughput, {summary['trials']} trials over {summary['seconds']:.0f} s",
         f"{summary['requests_per_second']:.1f} requests/s ({summary['requests']} requests)", "-", "-"),
        ("local stack load", "quotas and whitelist afterwards",
         f"{proved}: {answers.get('send 200', 0)} accepted, {answers.get('send 429', 0)} × 429, "
         f"{answers.get('send 403', 0)} × 403, {answers.get('webhook whitelisted', 0)} whitelisted, "
         f"{answers.get('webhook whitelist_full', 0)} refused (full)", "-", "-"),
    ]  # fmt: skip
    table += [
        (
            "local stack load",
            r["name"],
            f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms ({r['requests']})",
            "-",
            "-",
        )
        for r in operations
    ]
    return table


def artefact_rows(rows: list[dict[str, Any]]) -> list[Row]:
    table: list[Row] = []
    for r in rows:
        if "zipped_bytes" in r:
            measured = (
                f"{r['zipped_bytes'] / 1024:.1f} KB zipped ({r['unzipped_bytes'] / 1024:.1f} KB, {r['files']} files)"
            )
            table.append(("artefact size", r["name"], measured, "50 MB zipped", f"{r['zipped_limit_ratio']:.5f}"))
        else:
            measured = f"{r['unzipped_bytes'] / 1024 / 1024:.1f} MB unzipped (Powertools layer not counted)"
            table.append(("artefact size", r["name"], measured, "250 MB unzipped", f"{r['unzipped_limit_ratio']:.5f}"))
    return table


def fuzz_rows(rows: list[dict[str, Any]]) -> list[Row]:
    return [
        ("fuzz", str(r["route"]),
         f"{r['requests']} requests: {r['5xx']} × 5xx, {r['undocumented']} undocumented, "
         f"{r['violations']} broken rules, in {_num(r['seconds'])} s", "0 / 0 / 0", "-")
        for r in rows
    ]  # fmt: skip


def fuzz_clean(rows: list[dict[str, Any]]) -> bool:
    return all(r["5xx"] == r["undocumented"] == r["violations"] == 0 for r in rows)


def print_table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | what | measured | floor / minimum | ratio |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in rows),
    ]
    text = "\n".join(lines)
    print(text)
    return text


def main() -> int:
    info = machine()
    print(f"trialgw benchmarks on {describe(info)}")
    results: dict[str, Any] = {"machine": info}
    table: list[Row] = []
    failed: list[str] = []
    sections: list[tuple[str, Callable[[], list[dict[str, object]]], Callable[[list[Any]], list[Row]]]] = [
        ("cold_start", cold_start.report, cold_start_rows),
        ("aws_calls", aws_calls.report, aws_call_rows),
        # After aws_calls, whose moto session it replaces with stubbed clients of its own.
        ("cpu", send_cpu.report, cpu_rows),
        ("load", lambda: load.report(LOAD_SECONDS), load_rows),
        ("artefacts", artefacts.report, artefact_rows),
        ("fuzz", fuzz.report, fuzz_rows),
    ]
    started = time.perf_counter()
    for name, report, rows_of in sections:
        try:
            rows = report()
        except Exception as error:  # one failed benchmark must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
            results[name] = {"error": f"{type(error).__name__}: {error}"}
            table.append((name, "failed", f"{type(error).__name__}: {error}", "-", "-"))
            continue
        results[name] = rows
        table.extend(rows_of(rows))
    load_rows_ = results.get("load")
    if isinstance(load_rows_, list) and not load_rows_[0]["proved"]:
        failed.append("load (counts not proved)")
    fuzz_rows_ = results.get("fuzz")
    if isinstance(fuzz_rows_, list) and not fuzz_clean(fuzz_rows_):
        failed.append("fuzz (a 5xx, an undocumented answer or a broken rule)")
    print(f"\nAll benchmarks side by side ({describe(info)}; {time.perf_counter() - started:.0f} s)\n")
    results["table"] = print_table(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {RESULTS}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
