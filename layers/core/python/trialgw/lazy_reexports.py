"""Packages whose `__init__` only re-exports its submodules' names, made to import each submodule when one of its
names is first used rather than all of them up front.

Why: Powertools' `aws_lambda_powertools.event_handler` re-exports every resolver it has (AppSync's brings asyncio,
Bedrock's, VPC Lattice's, HTTP's, ...) and `aws_lambda_powertools.utilities.data_classes` every event class it has
(33 modules), while an API function uses the REST resolver and the seven event classes it imports: about a tenth
of `import boto3` that every API function paid at its first request for code it never runs (`make bench`).

How: the package's module is created from its own spec without running its `__init__`, and a module `__getattr__`
imports the submodule a name comes from when the name is first read (`from package import Name` included), so
everything the package exports stays reachable under the same names, as the same objects. Submodules import as
they always do (the module has its `__path__`). This is done only when the `__init__` is nothing but re-exports (a
docstring, `from <the package's own submodule> import names`, literal assignments such as `__all__`, and an
`if __name__ == "__main__":` block): anything else it runs is left to run, by importing the package as usual. A
package someone already imported is left as it is.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from typing import Any


def defer_reexports(package: str) -> bool:
    """Makes `package` import its submodules on first use of their names; False when it is imported as usual
    (already imported, or its `__init__` does more than re-export)."""
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return False
    with open(spec.origin, "rb") as source:
        plan = _reexport_plan(package, ast.parse(source.read(), spec.origin))
    if plan is None:
        return False
    sources, constants = plan
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(constants)

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        submodule, original = sources[name]
        value = getattr(importlib.import_module(submodule), original)
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[package] = module
    # As the import system does, the parent package names its submodule.
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return True


def _reexport_plan(package: str, tree: ast.Module) -> tuple[dict[str, tuple[str, str]], dict[str, Any]] | None:
    """Each exported name's (submodule, name there), and the literal assignments; None when the `__init__` runs
    anything else."""
    sources: dict[str, tuple[str, str]] = {}
    constants: dict[str, Any] = {}
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            constants["__doc__"] = node.value.value
        elif isinstance(node, ast.ImportFrom):
            submodule = _own_submodule(package, node)
            if submodule is None or any(alias.name == "*" for alias in node.names):
                return None
            for alias in node.names:
                sources[alias.asname or alias.name] = (submodule, alias.name)
        elif isinstance(node, ast.Assign) and all(isinstance(target, ast.Name) for target in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            constants.update((target.id, value) for target in node.targets if isinstance(target, ast.Name))
        elif not _is_main_guard(node):
            return None
    return sources, constants


def _own_submodule(package: str, node: ast.ImportFrom) -> str | None:
    if node.module is None:
        return None
    name = importlib.util.resolve_name("." * node.level + node.module, package) if node.level else node.module
    return name if name.startswith(package + ".") else None


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, which never runs on import."""
    return (
        isinstance(node, ast.If)
        and not node.orelse
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and len(node.test.ops) == 1
        and isinstance(node.test.ops[0], ast.Eq)
        and len(node.test.comparators) == 1
        and isinstance(node.test.comparators[0], ast.Constant)
        and node.test.comparators[0].value == "__main__"
    )


__all__ = ["defer_reexports"]
