"""Runs the real handlers in this process, the way Lambda would: loaded once, lazily, one call at a time.

Each `functions/<name>/handler.py` is imported by file path under a unique module name (every function
has a `handler.py`, and they must not shadow each other). Each function is one warm execution environment,
one call at a time. The functions that serve API Gateway share that one lock: in Lambda each function has
environments of its own, but here they share one interpreter, and Powertools keeps the current event and
Lambda context of every resolver in class attributes of `BaseRouter`, so a request to one function would
replace the event another function is still reading (the dashboard answered a page's request with the status
endpoint's query, its first page again); that includes a function that also consumes a queue (the MO function:
webhooks and the SMS queue). A function that serves no route keeps a lock of its own: it uses no resolver, and a
slow batch (a slow provider) must not hold up the API. (The logger's keys and the metrics are shared by every
function too; an overlapping delivery can only mislabel a log line.)

Listeners (`listen`) see each invocation's event and result: `/_local/mo` waits through one for the SMS queue's
batch that carries its message.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from infra.local.environment import REGION
from infra.local.events import ACCOUNT_ID
from infra.topology import ROUTES, FunctionDef, RouteDef

Handler = Callable[[dict[str, Any], Any], Any]
Loader = Callable[[FunctionDef], Handler]
# (function name, event, result or None, the exception it raised or None), after each invocation.
Listener = Callable[[str, dict[str, Any], Any, BaseException | None], None]


@dataclass(slots=True)
class LambdaContext:
    """What the Python Lambda runtime passes as `context` (same attributes and types)."""

    function_name: str
    invoked_function_arn: str
    # A string, as the real runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    memory_limit_in_mb: str
    aws_request_id: str
    deadline_ms: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def function_name(function: FunctionDef) -> str:
    return f"trialgw-{function.name}"


def make_context(function: FunctionDef, request_id: str | None = None) -> LambdaContext:
    name = function_name(function)
    return LambdaContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        memory_limit_in_mb=str(function.memory_mb),
        aws_request_id=request_id or str(uuid.uuid4()),
        deadline_ms=int(time.time() * 1000) + function.timeout_seconds * 1000,
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name=f"local/[$LATEST]{uuid.uuid4().hex}",
    )


def load_handler(function: FunctionDef) -> Handler:
    """Imports `functions/<name>/handler.py` by path and returns its entry point."""
    module_file, _, attribute = function.handler.rpartition(".")
    path = function.code_dir / f"{module_file}.py"
    module_name = f"_trialgw_local_function_{function.name}_{module_file}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # Lambda retries a failed init on the next invocation: so do we.
        del sys.modules[module_name]
        raise
    handler: Handler = getattr(module, attribute)
    return handler


@dataclass(slots=True)
class _Slot:
    lock: threading.Lock
    handler: Handler | None = None


class FunctionHost:
    """The functions of the topology, each loaded on first use and invoked one call at a time; the API's
    functions one call at a time between them (see the module's docstring)."""

    def __init__(
        self, functions: Iterable[FunctionDef], load: Loader = load_handler, routes: Iterable[RouteDef] = ROUTES
    ) -> None:
        self._functions = {f.name: f for f in functions}
        api = threading.Lock()
        serving = {route.function for route in routes}
        self._slots = {name: _Slot(api if name in serving else threading.Lock()) for name in self._functions}
        self._load = load
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Calls `listener` after every invocation (from the invoking thread); returns what removes it."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _notify(self, name: str, event: dict[str, Any], result: Any, error: BaseException | None) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(name, event, result, error)

    def function(self, name: str) -> FunctionDef:
        return self._functions[name]

    def invoke(self, name: str, event: dict[str, Any], request_id: str | None = None) -> Any:
        """Calls the handler with a copy of `event`; returns its result as it would cross Lambda's wire.

        Raises whatever the handler (or its import) raises, and TypeError for a result that is not JSON.
        """
        function = self._functions[name]
        slot = self._slots[name]
        with slot.lock:
            if slot.handler is None:
                slot.handler = self._load(function)
            context = make_context(function, request_id)
            started = time.monotonic()
            try:
                # Round-trip through JSON: in AWS the event and the result cross the wire as JSON.
                result = slot.handler(json.loads(json.dumps(event)), context)
            except BaseException as error:
                self._notify(name, event, None, error)
                raise
            elapsed = time.monotonic() - started
        if elapsed > function.timeout_seconds:
            print(
                f"[local] {function_name(function)} took {elapsed:.1f} s, over its {function.timeout_seconds} s "
                "timeout: in AWS this invocation would have failed",
                file=sys.stderr,
                flush=True,
            )
        answer = json.loads(json.dumps(result))
        self._notify(name, event, answer, None)
        return answer
