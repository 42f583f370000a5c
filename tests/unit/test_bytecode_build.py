"""`make layers`' build of our assets (infra/build.py): copies without stray bytecode, unchecked-hash pyc, never stale.

Each test builds a small source tree (a core layer and one function) into tmp_path, never the repository's build/.
"""

from __future__ import annotations

import importlib.util
import py_compile
from pathlib import Path

import pytest

from infra import build, topology

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


@pytest.fixture
def tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Sources under tmp_path/src (a core layer with a package, one function `send`), builds under tmp_path/build."""
    source = tmp_path / "src"
    package = source / "layers" / "core" / "python" / "trialgw"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""core"""\n', encoding="utf-8")
    (package / "logic.py").write_text("ANSWER = 42\n", encoding="utf-8")
    (package / "data.json").write_text("{}\n", encoding="utf-8")
    # What an editable install or a stray interpreter leaves in the source tree.
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "logic.cpython-311.pyc").write_bytes(b"not ours")
    (source / "layers" / "core" / "python" / "trialgw.egg-info").mkdir()
    function = source / "functions" / "send"
    function.mkdir(parents=True)
    (function / "handler.py").write_text(HANDLER, encoding="utf-8")
    (tmp_path / "build" / "layers" / "deps" / "python").mkdir(parents=True)
    send = next(f for f in topology.FUNCTIONS if f.name == "send")
    monkeypatch.setattr(build, "FUNCTIONS", [send])
    monkeypatch.setattr(build, "CORE_LAYER_DIR", source / "layers" / "core")
    monkeypatch.setattr(build, "FUNCTIONS_DIR", source / "functions")
    monkeypatch.setattr(build, "CORE_LAYER_BUILD_DIR", tmp_path / "build" / "layers" / "core")
    monkeypatch.setattr(build, "DEPS_LAYER_DIR", tmp_path / "build" / "layers" / "deps")
    monkeypatch.setattr(build, "FUNCTIONS_BUILD_DIR", tmp_path / "build" / "functions")
    return tmp_path


def _pyc(module: Path) -> Path:
    return module.parent / "__pycache__" / f"{module.stem}.{build.PYC_TAG}.pyc"


def test_a_build_copies_the_sources_without_their_bytecode_and_compiles_the_copy(tree: Path) -> None:
    (tree / "build" / "functions").mkdir(parents=True)
    (tree / "build" / "functions" / "gone").mkdir()  # a function no longer in the topology
    build.build()
    core = tree / "build" / "layers" / "core" / "python"
    assert sorted(path.relative_to(core).as_posix() for path in core.rglob("*") if path.is_file()) == [
        "trialgw/__init__.py",
        f"trialgw/__pycache__/__init__.{build.PYC_TAG}.pyc",
        f"trialgw/__pycache__/logic.{build.PYC_TAG}.pyc",
        "trialgw/data.json",
        "trialgw/logic.py",
    ]
    handler = tree / "build" / "functions" / "send" / "handler.py"
    assert handler.read_text(encoding="utf-8") == HANDLER
    header = _pyc(handler).read_bytes()[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == build.UNCHECKED_HASH_FLAGS == 0b01
    assert header[8:16] == importlib.util.source_hash(HANDLER.encode())
    assert sorted(path.name for path in (tree / "build" / "functions").iterdir()) == ["send"]
    assert build.stale() == []


def test_the_pyc_tag_is_the_runtimes() -> None:
    assert f"cpython-{topology.PYTHON_VERSION.replace('.', '')}" == build.PYC_TAG
    # The running interpreter writes that tag (test_python_version checks it is the runtime's version).
    assert importlib.util.cache_from_source("x.py").endswith(f"x.{build.PYC_TAG}.pyc")


def test_an_edited_added_or_removed_source_makes_the_build_stale_until_rebuilt(tree: Path) -> None:
    build.build()
    source = tree / "src" / "layers" / "core" / "python" / "trialgw"
    (tree / "src" / "functions" / "send" / "handler.py").write_text(HANDLER + "# edited\n", encoding="utf-8")
    (source / "new.py").write_text("NEW = 1\n", encoding="utf-8")
    (source / "logic.py").unlink()
    assert build.stale() == [
        "layer: core: trialgw/new.py is not built",
        "layer: core: trialgw/logic.py has no source any more",
        "function: send: handler.py differs from its source",
    ]
    build.build()
    assert build.stale() == []
    assert not (tree / "build" / "layers" / "core" / "python" / "trialgw" / "logic.py").exists()


def test_bytecode_that_is_missing_timestamped_or_of_other_source_is_found(tree: Path) -> None:
    build.build()
    core = tree / "build" / "layers" / "core" / "python" / "trialgw"
    _pyc(core / "__init__.py").unlink()
    # What a plain `python -m compileall` (or an import) writes: checked against the source's timestamp.
    py_compile.compile(str(core / "logic.py"), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    handler = tree / "build" / "functions" / "send" / "handler.py"
    pyc = _pyc(handler)
    header = bytearray(pyc.read_bytes())
    header[8:16] = importlib.util.source_hash(b"other source")
    pyc.write_bytes(bytes(header))
    assert build.stale() == [
        f"layer: core: trialgw/__init__.py has no {build.PYC_TAG} bytecode",
        "layer: core: trialgw/logic.py: its pyc is not unchecked-hash",
        "function: send: handler.py: its pyc was compiled from other source",
    ]


def test_a_missing_build_is_stale(tree: Path) -> None:
    assert build.stale() == [
        f"layer: core: {tree / 'build' / 'layers' / 'core' / 'python'} is missing",
        f"function: send: {tree / 'build' / 'functions' / 'send'} is missing",
    ]
