"""Property-based fuzzing at benchmark size: the fuzz suite's properties (tests/fuzz/properties.py), thousands of
generated requests per public route against a local stack of their own, counted rather than stopped at the first
problem.

`report()` returns one row per route: requests sent, 5xx answers, undocumented answers (not in
tests/fuzz/documented.py), other broken rules (`violations`: quota taken by a refusal, a write by an unauthenticated
call, a hang, ...), and seconds. `python -m benchmarks.fuzz [scale]` prints the table per property and per route;
`scale` multiplies every property's example count (e.g. 0.1 for a quick look).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tests.conftest import start_local_stack
from tests.fuzz.properties import PROPERTIES, FuzzTarget, Tally, run, stack_environment

# Room for every accepted send of the benchmark's examples on each channel.
BENCH_QUOTA = 1000
COUNTS = ("requests", "5xx", "undocumented", "violations")
MAX_PROBLEMS_SHOWN = 3


def run_all(scale: float = 1.0) -> list[Tally]:
    """Every property, `scale` × its benchmark example count, against one fresh local stack."""
    tallies = []
    with start_local_stack(stack_environment(quota=BENCH_QUOTA)) as stack:
        fuzz = FuzzTarget(stack, strict=False)
        for prop in PROPERTIES:
            tally = run(fuzz, prop, max(1, round(prop.bench_examples * scale)))
            tallies.append(tally)
            print(f"  {prop.route} {prop.name}: {tally.requests} requests in {tally.seconds:.1f} s", flush=True)
    return tallies


def by_route(tallies: Iterable[Tally]) -> list[dict[str, object]]:
    """One row per route, the properties that target it added up."""
    counts: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    for tally in tallies:
        row = counts.setdefault(tally.route, dict.fromkeys(COUNTS, 0))
        for name, value in zip(COUNTS, _counts(tally), strict=True):
            row[name] += value
        seconds[tally.route] = seconds.get(tally.route, 0.0) + tally.seconds
    return [{"route": route, **row, "seconds": round(seconds[route], 2)} for route, row in counts.items()]


def _counts(tally: Tally) -> tuple[int, int, int, int]:
    return tally.requests, tally.server_errors, tally.undocumented, tally.violations


def _print(tallies: list[Tally], routes: list[dict[str, object]]) -> None:
    header = f"{'requests':>9}{'5xx':>6}{'undoc.':>8}{'viol.':>7}{'seconds':>9}"
    print(f"\nFuzz: generated requests per property (local stack, hypothesis + schemathesis)\n{'property':<72}{header}")
    for tally in tallies:
        row = tally.row()
        label = f"{tally.route} {tally.name}"
        counts = "".join(f"{row[name]!s:>{width}}" for name, width in zip(COUNTS, (9, 6, 8, 7), strict=True))
        print(f"{label:<72}{counts}{row['seconds']!s:>9}")
        for problem in tally.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"    ! {problem[:300]}")
    print(f"\nFuzz: per route\n{'route':<72}{header}")
    for route in routes:
        counts = "".join(f"{route[name]!s:>{width}}" for name, width in zip(COUNTS, (9, 6, 8, 7), strict=True))
        print(f"{route['route']!s:<72}{counts}{route['seconds']!s:>9}")


def report(scale: float = 1.0) -> list[dict[str, object]]:
    """Rows `{"route", "requests", "5xx", "undocumented", "violations", "seconds"}`, one per route."""
    print("\nFuzz: running every property against a fresh local stack ...", flush=True)
    tallies = run_all(scale)
    routes = by_route(tallies)
    _print(tallies, routes)
    return routes


def main(argv: list[str]) -> int:
    routes = report(float(argv[0]) if argv else 1.0)
    broken = sum(int(str(route[name])) for route in routes for name in COUNTS[1:])
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
