"""trialgw.lazy_reexports: a package whose `__init__` only re-exports imports each submodule when one of its names is
first used, with every name reachable as before; a package whose `__init__` does anything else is imported as usual.

Each case builds a small package in a temporary directory; Powertools' own packages are checked in a fresh
interpreter, as an API function meets them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from trialgw.lazy_reexports import defer_reexports

CORE = Path(__file__).resolve().parents[2] / "layers" / "core" / "python"

_PURE_INIT = '''
"""A package of two parts."""
from .parts import Part, make_part as make
from lazypkg.tools import tool
__version__ = "1.2"
__all__ = ["Part", "make", "tool"]

if __name__ == "__main__":
    raise SystemExit("never on import")
'''


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name.split(".")[0] in {"lazypkg", "busypkg", "outer"}]:
        del sys.modules[name]


def _package(root: Path, name: str, init: str, **modules: str) -> None:
    directory = root.joinpath(*name.split("."))
    directory.mkdir(parents=True)
    (directory / "__init__.py").write_text(textwrap.dedent(init))
    for module, source in modules.items():
        (directory / f"{module}.py").write_text(textwrap.dedent(source))


def _lazypkg(root: Path) -> None:
    _package(
        root,
        "lazypkg",
        _PURE_INIT,
        parts="class Part: pass\ndef make_part(): return Part()\n",
        tools="def tool(): return 'tool'\n",
        extra="VALUE = 42\n",
    )


def test_a_pure_reexport_package_imports_a_submodule_on_first_use_of_its_names(packages: Path) -> None:
    _lazypkg(packages)

    assert defer_reexports("lazypkg") is True

    lazypkg = importlib.import_module("lazypkg")

    assert "lazypkg.parts" not in sys.modules
    assert "lazypkg.tools" not in sys.modules
    assert lazypkg.__doc__ == "A package of two parts."
    assert (lazypkg.__version__, lazypkg.__all__) == ("1.2", ["Part", "make", "tool"])

    names: dict[str, object] = {}
    exec("from lazypkg import make", names)
    make = names["make"]

    assert "lazypkg.parts" in sys.modules
    assert "lazypkg.tools" not in sys.modules
    assert make is sys.modules["lazypkg.parts"].make_part  # the alias, as the same object
    assert isinstance(make(), lazypkg.Part)
    assert lazypkg.tool() == "tool"


def test_submodules_it_does_not_reexport_import_as_usual(packages: Path) -> None:
    _lazypkg(packages)
    defer_reexports("lazypkg")

    names: dict[str, object] = {}
    exec("from lazypkg import extra\nfrom lazypkg.extra import VALUE", names)

    assert names["extra"] is sys.modules["lazypkg.extra"]
    assert names["VALUE"] == 42


def test_an_unknown_name_is_an_attribute_error(packages: Path) -> None:
    _lazypkg(packages)
    defer_reexports("lazypkg")
    lazypkg = importlib.import_module("lazypkg")

    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = lazypkg.missing
    with pytest.raises(ImportError):
        exec("from lazypkg import missing", {})


def test_a_star_import_gives_the_packages_all(packages: Path) -> None:
    _lazypkg(packages)
    defer_reexports("lazypkg")
    names: dict[str, object] = {}

    exec("from lazypkg import *", names)

    assert sorted(name for name in names if name != "__builtins__") == ["Part", "make", "tool"]


@pytest.mark.parametrize(
    "statement",
    [
        "import os",
        "from os import path",  # another package's name
        "from .parts import *",
        "LIMIT = compute()",
        "def helper(): pass",
        "if DEBUG:\n    pass",
        "try:\n    from .parts import Part\nexcept ImportError:\n    pass",
    ],
)
def test_a_package_whose_init_does_more_is_imported_as_usual(packages: Path, statement: str) -> None:
    _package(packages, "busypkg", f"from .parts import Part\n{statement}\n", parts="class Part: pass\n")

    assert defer_reexports("busypkg") is False
    assert "busypkg" not in sys.modules


def test_a_package_already_imported_or_a_plain_module_is_left_alone(packages: Path) -> None:
    _lazypkg(packages)
    lazypkg = importlib.import_module("lazypkg")

    assert defer_reexports("lazypkg") is False
    assert sys.modules["lazypkg"] is lazypkg
    assert defer_reexports("lazypkg.parts") is False  # a module, not a package
    assert defer_reexports("no_such_package_anywhere") is False


def test_a_subpackage_is_named_by_its_parent(packages: Path) -> None:
    _package(packages, "outer", "")
    _package(packages, "outer.inner", "from .parts import Part\n", parts="class Part: pass\n")
    outer = importlib.import_module("outer")

    assert defer_reexports("outer.inner") is True

    assert outer.inner is sys.modules["outer.inner"]
    assert importlib.import_module("outer.inner") is outer.inner
    assert outer.inner.Part is sys.modules["outer.inner.parts"].Part


# In a fresh interpreter, as an API function: every name Powertools' two packages export is reachable and is the
# object its submodule defines, and the REST resolver answers, while the other resolvers never load.
_POWERTOOLS = """
import importlib, json, sys
from trialgw.lazy_reexports import defer_reexports

deferred = [defer_reexports(name) for name in sys.argv[1:]]
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

app = APIGatewayRestResolver()
app.get("/ping")(lambda: Response(status_code=200, content_type="text/plain", body="pong"))
event = {"path": "/ping", "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "1"}}
answer = app.resolve(event, None)
loaded = sorted(sys.modules)
mismatched = []
for name in sys.argv[1:]:
    package = sys.modules[name]
    for export in package.__all__:
        value = getattr(package, export)
        if getattr(sys.modules[value.__module__], value.__name__, None) is not value:
            mismatched.append(f"{name}.{export}")
print(json.dumps({"deferred": deferred, "answer": answer["body"], "loaded": loaded, "mismatched": mismatched}))
"""


def test_powertools_rest_resolver_answers_without_the_other_resolvers() -> None:
    packages = ["aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"]
    run = subprocess.run(
        [sys.executable, "-c", _POWERTOOLS, *packages],
        env={"PYTHONPATH": str(CORE), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout.splitlines()[-1])

    assert result["deferred"] == [True, True], "Powertools' __init__ does more than re-export: see lazy_reexports"
    assert result["answer"] == "pong"
    assert "asyncio" not in result["loaded"]
    assert "aws_lambda_powertools.event_handler.appsync" not in result["loaded"]
    assert "aws_lambda_powertools.utilities.data_classes.sqs_event" not in result["loaded"]
    assert result["mismatched"] == []
