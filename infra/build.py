"""What the Lambda assets ship, built into build/: our sources with bytecode for the runtime's Python.

`make layers` runs `python -m infra.build` (the venv's interpreter, which is the runtime's version: .python-version)
after pip has bundled the deps layer and compiled it. Each of our asset directories is copied from its source without
the source tree's own `__pycache__`, then compiled with `compileall` in `unchecked-hash` mode: the pyc carry a hash of
their source and are never checked against it, so the zip's timestamps cannot make them stale and a cold start
imports them instead of compiling every module.

The CDK stack points its assets at these directories and refuses to synthesize from a copy that differs from its
sources (`stale`), so editing a handler and synthesizing without `make layers` fails instead of deploying old code.
Pure Python: no CDK import.
"""

from __future__ import annotations

import compileall
import importlib.util
import py_compile
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.topology import CORE_LAYER_DIR, FUNCTIONS, FUNCTIONS_DIR, PYTHON_VERSION, ROOT

BUILD_DIR = ROOT / "build"
# Each layer's directory holds `python/<packages>`, as Lambda expects.
CORE_LAYER_BUILD_DIR = BUILD_DIR / "layers" / "core"
DEPS_LAYER_DIR = BUILD_DIR / "layers" / "deps"
FUNCTIONS_BUILD_DIR = BUILD_DIR / "functions"
# Never copied from a source tree: bytecode of whatever interpreter ran there, packaging metadata.
IGNORED = ("__pycache__", "*.pyc", "*.egg-info")
# The pyc tag of the runtime's interpreter, e.g. `cpython-313` (what `__pycache__/<module>.<tag>.pyc` carries).
PYC_TAG = f"cpython-{PYTHON_VERSION.replace('.', '')}"
# The pyc header's flags word (PEP 552): bit 0 hash-based, bit 1 check_source. `unchecked-hash` is 0b01.
UNCHECKED_HASH_FLAGS = 0b01


@dataclass(frozen=True)
class Asset:
    """One directory we ship: its source and where the build puts its copy with bytecode."""

    name: str
    source: Path
    built: Path


def function_dir(name: str) -> Path:
    """A function's built code: its handler and the handler's bytecode."""
    return FUNCTIONS_BUILD_DIR / name


def assets() -> list[Asset]:
    """The core layer's `python/` and every function's directory of the topology."""
    core = Asset("layer: core", CORE_LAYER_DIR / "python", CORE_LAYER_BUILD_DIR / "python")
    functions = [Asset(f"function: {f.name}", FUNCTIONS_DIR / f.name, function_dir(f.name)) for f in FUNCTIONS]
    return [core, *functions]


def require_runtime_interpreter() -> None:
    """Bytecode is only valid for the interpreter version that wrote it: the runtime's."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if running != PYTHON_VERSION:
        raise SystemExit(
            f"bytecode for the Lambda runtime needs Python {PYTHON_VERSION} (.python-version); this is {running}"
        )


def compile_tree(root: Path) -> None:
    """Writes `__pycache__/<module>.<tag>.pyc` beside every `.py` under `root`, unchecked-hash (one process: a pool
    costs more than the few hundred files it would share)."""
    require_runtime_interpreter()
    compiled = compileall.compile_dir(
        root,
        quiet=1,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not compiled:
        raise SystemExit(f"compileall failed under {root}")


def build() -> None:
    """Copies every asset's source afresh (a removed file goes too) and compiles the copy."""
    require_runtime_interpreter()
    for asset in assets():
        shutil.rmtree(asset.built, ignore_errors=True)
        shutil.copytree(asset.source, asset.built, ignore=shutil.ignore_patterns(*IGNORED))
        compile_tree(asset.built)
    # Functions no longer in the topology leave no directory behind.
    wanted = {asset.built for asset in assets()}
    for directory in FUNCTIONS_BUILD_DIR.iterdir():
        if directory not in wanted:
            shutil.rmtree(directory)


def source_files(root: Path) -> Iterator[Path]:
    """The files under `root` a build copies, relative to it (no bytecode, no packaging metadata)."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(
            part == "__pycache__" or part.endswith((".pyc", ".egg-info")) for part in relative.parts
        ):
            yield relative


def pyc_path(root: Path, relative: Path) -> Path:
    """Where the runtime's interpreter looks for the bytecode of `root / relative` (a `.py`)."""
    return root / relative.parent / "__pycache__" / f"{relative.stem}.{PYC_TAG}.pyc"


def bytecode_problems(root: Path) -> list[str]:
    """Each `.py` under `root` whose runtime pyc is missing, of another interpreter, not unchecked-hash, or compiled
    from other source (the header's hash of the source, PEP 552)."""
    problems = []
    for relative in source_files(root):
        if relative.suffix != ".py":
            continue
        pyc = pyc_path(root, relative)
        if not pyc.is_file():
            problems.append(f"{relative} has no {PYC_TAG} bytecode")
            continue
        header = pyc.read_bytes()[:16]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            problems.append(f"{relative}: its pyc is not this interpreter's bytecode")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
            problems.append(f"{relative}: its pyc is not unchecked-hash")
        elif header[8:16] != importlib.util.source_hash((root / relative).read_bytes()):
            problems.append(f"{relative}: its pyc was compiled from other source")
    return problems


def stale() -> list[str]:
    """Why build/ is not what `make layers` builds (empty when it is): missing, differing or uncompiled files."""
    problems: list[str] = []
    for asset in assets():
        if not asset.built.is_dir():
            problems.append(f"{asset.name}: {_shown(asset.built)} is missing")
            continue
        sources, built = set(source_files(asset.source)), set(source_files(asset.built))
        problems += [f"{asset.name}: {path} is not built" for path in sorted(sources - built)]
        problems += [f"{asset.name}: {path} has no source any more" for path in sorted(built - sources)]
        problems += [
            f"{asset.name}: {path} differs from its source"
            for path in sorted(sources & built)
            if (asset.source / path).read_bytes() != (asset.built / path).read_bytes()
        ]
        problems += [f"{asset.name}: {problem}" for problem in bytecode_problems(asset.built)]
    deps = DEPS_LAYER_DIR / "python"
    if not deps.is_dir():
        problems.append(f"layer: deps: {_shown(deps)} is missing")
    else:
        problems += [f"layer: deps: {problem}" for problem in bytecode_problems(deps)]
    return problems


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    build()
