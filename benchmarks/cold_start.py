"""Cold start: what a fresh function instance pays before its first answer, per handler, against floors.

Every function of `infra.topology.FUNCTIONS` is started in fresh interpreters (`benchmarks/cold_child.py`), as
Lambda starts an instance: its environment as the stack deploys it (settings, table names, queue URLs, secrets'
names, Powertools' service, INFO logs, EMF metrics on, `LAMBDA_TASK_ROOT` set, a sampled X-Ray trace header, tracing
as the stack's default sets it: `infra.topology.TRACING_BY_DEFAULT`), its code from `build/` when that holds the
bytecode the artefacts ship (else from source, compiled at every start, as the table says). Two numbers each, and
both again with tracing switched the other way (the `tracing` knob's cost; the segments go to a UDP port on loopback
that never answers):

* **import**: the handler module imported (interpreter start-up included), against the floor `import boto3` that
  any boto3-using function pays;
* **import + first request**: then invoked once with a realistic event for it (an API Gateway REST request, an SQS
  batch of one record, a scheduled event), its real boto3 clients answering every call in-process at botocore's
  `before-call` hook (`benchmarks.stubs.AwsStub`), against its own floor: `import boto3`, the same clients made
  and the same calls replayed (counted in the handler's run), each answered at once. The stub comes from a copy of
  the harness compiled to bytecode (`compiled_harness`): no child compiles it, a cost its floor does not have.

* **with tracing on** (or off, when the default is on): the same import + first request, the knob flipped.

Beside them, the same two numbers of references (`benchmarks/reference_function`, `REFERENCES`): the least a
Powertools REST function built as DESIGN.md builds ours does (Logger, EMF metrics, Powertools' resolver imported as
ours import it, a boto3 client made on the first request, one GetItem), with no business logic, against its own
floor; then the same with the one library call the seed's rules add to an API function's first request (a phone
number normalized: send, the MO webhooks; an e-mail address checked: sign-up). They tell what Powertools and those
libraries cost, so that what an API function's ratio owes to trialgw's own code can be read off.

Times run from the parent's spawn to the child's `time.monotonic()` (one clock for all processes) after the work,
so interpreter shutdown is not counted. Medians over fresh processes, a function's floor and its handler (as
deployed, then with tracing flipped) run in turn (which goes first rotating), the functions in turn, so drift in the
machine's load falls on both sides of each ratio. The number of rounds shrinks from `RUNS` (to no fewer than
`MIN_RUNS`) when the first round shows they would not fit in `BUDGET_SECONDS` (the first, uncounted run of each
handler included).
"""

from __future__ import annotations

import copy
import http.server
import importlib.util
import json
import os
import py_compile
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from benchmarks.aws_calls import NOT_WHITELISTED, WHITELISTED, send_body, send_event
from benchmarks.send_cpu import CM_SECRET, CM_WEBHOOK_RESOURCE, api_event, mo_body, seed_trial
from benchmarks.stubs import AwsStub
from infra import build
from infra.local.environment import REGION, function_environment
from infra.local.events import ACCOUNT_ID
from infra.local.pump import sqs_event
from infra.local.schedule import scheduled_event
from infra.topology import FUNCTIONS, ROOT, TRACING_BY_DEFAULT, FunctionDef
from tests.integration.conftest import EVENTS, SITE_URL, sns_via_sqs
from trialgw import names
from trialgw.adapters.dynamo_webhooks import INBOUND_URL, SECRET
from trialgw.budgets import AWS_CALL
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.settings import ENV_PREFIX, env_var
from trialgw.webhook_events import WebhookEvent, WebhookKind, new_event_id, to_message

RUNS = 9
MIN_RUNS = 5
# Per function and round: its floor, its handler as deployed, and its handler with tracing the other way.
KINDS = ["floor", "handler", "flipped"]
# Three processes per function and round (floor, as deployed, tracing flipped).
BUDGET_SECONDS = 225.0
CHILD = Path(__file__).with_name("cold_child.py")
# What a handler's child imports of the harness (after the import measured): the stub that answers its calls.
HARNESS_MODULES = ("__init__.py", "stubs.py")
SOURCE_CORE = ROOT / "layers" / "core" / "python"
BUILT_CORE = build.CORE_LAYER_BUILD_DIR / "python"
BUILT_FUNCTIONS = build.FUNCTIONS_BUILD_DIR
WEBHOOK_SECRETS_NAME = "trialgw/webhook-secrets"
PROVIDER_SECRETS_NAME = "trialgw/provider-secrets"
# Any call no stub answers goes here (nothing listens) and fails at once, never to AWS.
UNANSWERED_ENDPOINT = "http://127.0.0.1:9"
# The webhook worker's first event goes to a receiver the benchmark runs on loopback (the local stack's
# `webhook_allow_loopback`, which the functions' environment here has, admits it), answering 200 at once; the trial
# has a signing secret, so the event is signed as most are.
BENCH_WEBHOOK_SECRET = "whsec_" + "b" * 43  # a made-up secret for the benchmark's own receiver
# The statuses the API functions' first requests must answer.
API_STATUSES = {"send": 200, "signup": 202, "mo_webhook": 200, "dashboard": 200}


REFERENCE_DIR = Path(__file__).with_name("reference_function")


@dataclass(frozen=True)
class Reference:
    """A function of no business logic, measured as the functions are (see the module docstring); `library`: the one
    library call the seed's rules add to an API function's first request, made on the reference's route too, and
    `call`, what that call does, in words (the summary's row)."""

    name: str = "powertools_reference"
    code_dir: Path = REFERENCE_DIR
    timeout_seconds: int = 10
    status: int = 200
    library: str | None = None
    call: str = ""


REFERENCE = Reference()
# Send and the MO webhooks normalize a phone number (trialgw.addresses); sign-up checks an e-mail address.
REFERENCES = (
    REFERENCE,
    Reference(
        name="reference_phonenumbers",
        library="phonenumbers",
        call="a phone number normalized (phonenumbers: send, the MO webhooks)",
    ),
    Reference(
        name="reference_email_validator",
        library="email_validator",
        call="an e-mail address checked (email_validator: sign-up)",
    ),
)


@dataclass
class Samples:
    """One function's times, in milliseconds, and what its first request did."""

    imports: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    floor_imports: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    # With tracing the other way than deployed.
    flipped_imports: list[float] = field(default_factory=list)
    flipped_firsts: list[float] = field(default_factory=list)
    clients: list[str] = field(default_factory=list)
    calls: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ColdStart:
    name: str
    import_ms: float
    import_ratio: float
    first_ms: float
    floor_ms: float
    first_ratio: float
    aws_calls: int
    clients: tuple[str, ...]
    flipped_import_ratio: float
    flipped_first_ratio: float


def built() -> bool:
    """Whether `build/` holds the bytecode the artefacts ship, for this Python, of the core layer and every function
    (bytecode another Python compiled is no use to this one: its imports would compile from source)."""
    sources = [BUILT_CORE / "trialgw" / "__init__.py", *(BUILT_FUNCTIONS / f.name / "handler.py" for f in FUNCTIONS)]
    return all(Path(importlib.util.cache_from_source(str(source))).is_file() for source in sources)


def code_dirs(function: FunctionDef | Reference, from_build: bool) -> list[Path]:
    """The function's directory and the core layer's, as Lambda puts them on `sys.path` (/var/task, /opt/python).
    A reference's own directory has no bytecode built (Python compiles its few lines at its start); the core layer
    gives it `trialgw.lazy_reexports`, to import Powertools as the functions do."""
    if not from_build:
        return [function.code_dir, SOURCE_CORE]
    own = function.code_dir if isinstance(function, Reference) else BUILT_FUNCTIONS / function.name
    return [own, BUILT_CORE]


def queue_url(queue: names.QueueDef) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue.local_name}"


def deployed_environment(
    function: FunctionDef | Reference,
    from_build: bool,
    daemon_port: int,
    *,
    tracing: bool = TRACING_BY_DEFAULT,
    key: str = "",
    harness: Path = ROOT,
) -> dict[str, str]:
    """The function's environment as the stack deploys it (`tracing` as the knob sets it), and what Lambda adds,
    with nothing reaching AWS. The reference reads the trial of `key` from the trials table; the child finds the
    stub in `harness` (`compiled_harness`'s copy, or the checkout)."""
    if isinstance(function, Reference):
        own = {"REFERENCE_TABLE": names.TRIALS.local_name, "REFERENCE_KEY_HASH": hash_key(key)}
        if function.library is not None:
            own["REFERENCE_LIBRARY"] = function.library
        dirs = code_dirs(function, from_build)
        lambda_env = _lambda_environment(
            function.name, "handler.handler", 256, dirs, daemon_port=daemon_port, tracing=tracing, harness=harness
        )
        return {**lambda_env, **own}
    env = function_environment(function, SITE_URL, environ={})
    queues = {queue.logical: queue for queue in names.QUEUES}
    model = function.settings_model.model_fields
    granted = {queues[logical] for logical in function.sends_to}
    granted |= {queue for queue, dead in map(names.queue_source, function.consumes) if not dead}
    env.update(
        {
            queue.env_var: queue_url(queue)
            for queue in granted
            if queue.env_var.removeprefix(ENV_PREFIX).lower() in model
        }
    )
    if function.reads_webhook_secrets:
        env[env_var("webhook_secrets_name")] = WEBHOOK_SECRETS_NAME
    if function.reads_provider_secrets:
        env[env_var("provider_secrets_name")] = PROVIDER_SECRETS_NAME
    env.update(
        _lambda_environment(
            function.name,
            function.handler,
            function.memory_mb,
            code_dirs(function, from_build),
            daemon_port=daemon_port,
            tracing=tracing,
            harness=harness,
        )
    )
    return env


def _lambda_environment(
    name: str, handler: str, memory_mb: int, dirs: list[Path], *, daemon_port: int, tracing: bool, harness: Path
) -> dict[str, str]:
    """What the stack sets for Powertools and what Lambda adds, with nothing reaching AWS."""
    trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
    return {
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": "trialgw",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "POWERTOOLS_DEV": "false",
        # What Lambda sets: Powertools' Tracer and the X-Ray SDK trace only where LAMBDA_TASK_ROOT is set.
        "LAMBDA_TASK_ROOT": str(dirs[0]),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": f"trialgw-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        "_X_AMZN_TRACE_ID": trace,
        "AWS_ENDPOINT_URL": UNANSWERED_ENDPOINT,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": "/usr/bin:/bin",
        # The child imports `benchmarks.stubs` (after the import measured) from the harness, last.
        "PYTHONPATH": os.pathsep.join(str(d) for d in [*dirs, harness]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _outbound_record(key: str, queue: names.QueueDef, dead: bool) -> dict[str, Any]:
    """An SQS batch of one accepted send, as the delivery queue (or its dead-letter queue) hands it over."""
    message = OutboundMessage(
        channel=Channel.WHATSAPP,
        to=WHITELISTED,
        text="Your code is 123456",
        kind="send",
        message_id=uuid.uuid4().hex,
        key_hash=hash_key(key),
        at=int(time.time()),
        sender="TrialGW",
        reference="bench",
    )
    body = {name: value for name, value in message._asdict().items() if value is not None}
    received = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "handle-0",
        "Body": json.dumps(body),
        "Attributes": {"ApproximateReceiveCount": "5" if dead else "1", "SentTimestamp": str(int(time.time() * 1000))},
    }
    name = f"{queue.local_name}-dlq" if dead else queue.local_name
    return sqs_event([received], queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}")


def _webhook_record(key: str) -> dict[str, Any]:
    """An SQS batch of one webhook event (an end user's message, CM's MO JSON), as the webhook queue hands it over."""
    now = time.time()
    event = WebhookEvent(
        event_id=new_event_id(),
        key_hash=hash_key(key),
        kind=WebhookKind.INBOUND,
        payload=mo_body(key, NOT_WHITELISTED),
        created_at_ms=int(now * 1000),
        ttl=int(now) + 2 * 24 * 3600,
    )
    received = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "handle-0",
        "Body": to_message(event),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(now * 1000))},
    }
    queue = names.WEBHOOK_EVENTS.local_name
    return sqs_event([received], queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}")


@contextmanager
def _webhook_receiver() -> Iterator[tuple[str, list[int]]]:
    """A trial's webhook receiver on loopback, answering every POST 200 at once: its URL, and a count of the POSTs
    (one list entry each) so the first runs can check the worker reached it."""
    posts: list[int] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # http.server's name
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            posts.append(1)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/inbound", posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def first_event(function: FunctionDef | Reference, key: str) -> dict[str, Any]:
    """A realistic first request for the function (the reference: the dashboard's)."""
    event: dict[str, Any]
    if isinstance(function, Reference):
        path = "/dashboard-api/trial"
        return api_event("GET", path, path, None, {"Authorization": f"Bearer {key}"})
    match function.name:
        case "send":
            event = send_event(send_body(key, WHITELISTED))
        case "signup":
            body = json.dumps({"name": "Jane Doe", "email": "jane@example.com", "company": "Example"})
            event = api_event("POST", "/signup", "/signup", body)
        case "mo_webhook":
            # CM's MO webhook: an end user texts the trial key on WhatsApp, whitelisted, the welcome reply queued.
            path = CM_WEBHOOK_RESOURCE.replace("{secret}", CM_SECRET)
            event = api_event("POST", CM_WEBHOOK_RESOURCE, path, mo_body(key, NOT_WHITELISTED))
        case "dashboard":
            path = "/dashboard-api/trial"
            event = api_event("GET", path, path, None, {"Authorization": f"Bearer {key}"})
        case "sms_inbound":
            # An end user texts the trial key by SMS: whitelisted, the welcome reply queued.
            sns = json.loads((EVENTS / "sns_two_way_sms.json").read_text())
            text = json.loads(sns["Records"][0]["Sns"]["Message"])
            sns["Records"][0]["Sns"]["Message"] = json.dumps({**text, "messageBody": key})
            event = sns_via_sqs(sns)
        case "delivery":
            event = _outbound_record(key, names.OUTBOUND, dead=False)
        case "dead_letters":
            event = _outbound_record(key, names.OUTBOUND, dead=True)
        case "sweeper":
            event = scheduled_event("trialgw-sweeper", now=datetime.now(UTC))
        case "webhook_delivery":
            event = _webhook_record(key)
        case _:
            raise ValueError(f"no first request for {function.name}: add one to benchmarks/cold_start.py")
    return event


def _trial(key: str) -> AwsStub:
    """The stub's trial for `key`, written by the real adapter through a client of its own."""
    stub = AwsStub(hash_key(key))
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )  # fmt: skip
    client = session.client("dynamodb")
    stub.attach(client)
    seed_trial(stub, client, key)
    return stub


def _handler_spec(function: FunctionDef | Reference, key: str, trial_item: dict[str, Any], directory: Path) -> Path:
    """The child's spec of the function's first request: its event, the stub's trial and secrets, its time."""
    spec = {
        "function": function.name,
        "event": first_event(function, key),
        "key_hash": hash_key(key),
        "trial_item": trial_item,
        "secrets": _secrets(),
        "remaining_ms": function.timeout_seconds * 1000,
        "result": str(directory / f"{function.name}.result.json"),
    }
    return _write(directory / f"{function.name}.json", spec)


def _trial_item(function: FunctionDef | Reference, stub: AwsStub, hook_url: str) -> dict[str, Any]:
    """The stub's trial item as the function reads it: the webhook worker's with an inbound URL and a secret."""
    item = copy.deepcopy(stub.trial_item)
    if function.name == "webhook_delivery":
        item.update({INBOUND_URL: {"S": hook_url}, SECRET: {"S": BENCH_WEBHOOK_SECRET}})
    return item


def _secrets() -> dict[str, str]:
    webhooks = {"cm_webhook_secret": CM_SECRET, "meta_app_secret": "bench", "meta_verify_token": "bench"}
    return {WEBHOOK_SECRETS_NAME: json.dumps(webhooks), PROVIDER_SECRETS_NAME: json.dumps({})}


@contextmanager
def _daemon() -> Iterator[int]:
    """A UDP port on loopback where the X-Ray SDK sends its segments, as to Lambda's daemon; never read."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sink.bind(("127.0.0.1", 0))
        yield int(sink.getsockname()[1])
    finally:
        sink.close()


def _run(mode: str, spec_path: Path, env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """One fresh interpreter; milliseconds from its spawn to the end of its import and of its work."""
    result_path = Path(json.loads(spec_path.read_text())["result"])
    result_path.unlink(missing_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-P", str(CHILD), mode, str(spec_path)],
        env=env,
        cwd=spec_path.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"cold start child {mode} {spec_path.stem} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return (result["imported"] - started) * 1000, (result["done"] - started) * 1000, result


def _check(function: FunctionDef | Reference, result: dict[str, Any]) -> None:
    """The first request must have been answered as a real one would: not an error, no batch item failed."""
    expected = function.status if isinstance(function, Reference) else API_STATUSES.get(function.name)
    fine = result["status"] == expected if expected else not result["failures"]
    if not fine:
        raise RuntimeError(f"{function.name}'s first request went wrong: {result['answer']}")


def _first_run(
    function: FunctionDef | Reference, spec_path: Path, env: dict[str, str], posts: list[int]
) -> dict[str, Any]:
    """The first, uncounted run of a handler, checked (the webhook worker's must have reached the receiver)."""
    posted = len(posts)
    _, _, result = _run("handler", spec_path, env)
    _check(function, result)
    if function.name == "webhook_delivery" and len(posts) == posted:
        raise RuntimeError("webhook_delivery's first request never reached the benchmark's receiver")
    return result


def compiled_harness(directory: Path) -> Path:
    """A copy of the harness modules a handler's child imports, with their bytecode, under `directory`.

    The machine and `make` set PYTHONDONTWRITEBYTECODE, so the checkout's `benchmarks/` has no bytecode: every child
    would compile the stub from source, a few milliseconds its floor never pays, on every handler's first request.
    Compiled as the layers are (`unchecked-hash`), the stub costs the child what any shipped module costs; not by
    `build.compile_tree`, which refuses any interpreter but the Lambda runtime's, while this bytecode is for whichever
    runs the benchmark."""
    package = directory / "harness" / "benchmarks"
    package.mkdir(parents=True)
    for module in HARNESS_MODULES:
        source = package / module
        shutil.copyfile(Path(__file__).with_name(module), source)
        py_compile.compile(str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return package.parent


def _write(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec))
    return path


def measure(runs: int | None = None, budget_seconds: float | None = None) -> tuple[list[ColdStart], float, int, bool]:
    """Per function its cold start; the floor `import boto3`; the rounds run; whether the code came from build/."""
    runs = RUNS if runs is None else runs
    budget_seconds = BUDGET_SECONDS if budget_seconds is None else budget_seconds
    begun = time.monotonic()
    from_build = built()
    key = new_key()
    stub = _trial(key)
    targets: list[FunctionDef | Reference] = [*FUNCTIONS, *REFERENCES]
    samples = {f.name: Samples() for f in targets}
    with (
        tempfile.TemporaryDirectory(prefix="trialgw-cold-") as tmp,
        _daemon() as port,
        _webhook_receiver() as (hook_url, posts),
    ):
        directory = Path(tmp)
        harness = compiled_harness(directory)
        envs = {f.name: deployed_environment(f, from_build, port, key=key, harness=harness) for f in targets}
        flipped_envs = {
            f.name: deployed_environment(f, from_build, port, tracing=not TRACING_BY_DEFAULT, key=key, harness=harness)
            for f in targets
        }
        handler_specs, floor_specs = {}, {}
        for function in targets:
            handler_specs[function.name] = _handler_spec(
                function, key, _trial_item(function, stub, hook_url), directory
            )
            # A first run of each (not counted) learns its clients and calls, and warms the disk cache.
            result = _first_run(function, handler_specs[function.name], envs[function.name], posts)
            samples[function.name].clients, samples[function.name].calls = result["clients"], result["calls"]
            floor_spec = {
                "clients": sorted(set(result["clients"])),
                "calls": result["calls"],
                "config": {
                    "connect_timeout": AWS_CALL.connect_seconds,
                    "read_timeout": AWS_CALL.read_seconds,
                    "retries": {"mode": "standard", "total_max_attempts": AWS_CALL.attempts},
                },
                "result": str(directory / f"{function.name}.floor.result.json"),
            }
            floor_specs[function.name] = _write(directory / f"{function.name}.floor.json", floor_spec)
        started = time.monotonic()
        done_rounds = 0
        while done_rounds < runs:
            for index, function in enumerate(targets):
                each = samples[function.name]
                turn = (done_rounds + index) % len(KINDS)
                for kind in KINDS[turn:] + KINDS[:turn]:
                    spec_path = (floor_specs if kind == "floor" else handler_specs)[function.name]
                    env = (flipped_envs if kind == "flipped" else envs)[function.name]
                    imported, finished, result = _run("floor" if kind == "floor" else "handler", spec_path, env)
                    if kind == "floor":
                        each.floor_imports.append(imported)
                        each.floors.append(finished)
                        continue
                    _check(function, result)
                    if kind == "flipped":
                        each.flipped_imports.append(imported)
                        each.flipped_firsts.append(finished)
                    else:
                        each.imports.append(imported)
                        each.firsts.append(finished)
            done_rounds += 1
            if done_rounds == 1:
                # As many rounds as fit in what is left of the budget (the first runs included), within bounds.
                now = time.monotonic()
                runs = max(MIN_RUNS, min(runs, 1 + int((budget_seconds - (now - begun)) / (now - started))))
    floor_import = statistics.median(ms for each in samples.values() for ms in each.floor_imports)
    results = []
    for function in targets:
        each = samples[function.name]
        imported, first, floor = (statistics.median(s) for s in (each.imports, each.firsts, each.floors))
        flipped_import, flipped_first = (statistics.median(s) for s in (each.flipped_imports, each.flipped_firsts))
        results.append(
            ColdStart(
                name=function.name,
                import_ms=imported,
                import_ratio=imported / floor_import,
                first_ms=first,
                floor_ms=floor,
                first_ratio=first / floor,
                aws_calls=len(each.calls),
                clients=tuple(sorted(set(each.clients))),
                flipped_import_ratio=flipped_import / floor_import,
                flipped_first_ratio=flipped_first / floor,
            )
        )
    return results, floor_import, done_rounds, from_build


def tracing_words(tracing: bool) -> str:
    return "tracing on" if tracing else "tracing off"


def code_source(from_build: bool) -> str:
    if from_build:
        return "bytecode as shipped, from build/"
    return "from source, compiled at every start (build/ holds no bytecode of the artefacts for this Python)"


def report() -> list[dict[str, object]]:
    rows, floor_import, rounds, from_build = measure()
    print(
        f"\nCold start per handler, as deployed ({tracing_words(TRACING_BY_DEFAULT)}, metrics, INFO logs), AWS "
        f"answered in-process; {code_source(from_build)}; medians of {rounds} fresh processes each, floors "
        f"interleaved; the last two columns with {tracing_words(not TRACING_BY_DEFAULT)}"
    )
    print(f"floor `import boto3`: {floor_import:.1f} ms")
    print(
        f"{'handler':<14}{'import ms':>11}{'× floor':>9}{'+ 1st request ms':>18}"
        f"{'own floor ms':>14}{'× floor':>9}{'AWS calls':>11}{'import ×':>10}{'1st ×':>7}  clients"
    )
    for r in rows:
        print(
            f"{r.name:<14}{r.import_ms:>11.1f}{r.import_ratio:>9.2f}{r.first_ms:>18.1f}"
            f"{r.floor_ms:>14.1f}{r.first_ratio:>9.2f}{r.aws_calls:>11}{r.flipped_import_ratio:>10.2f}"
            f"{r.flipped_first_ratio:>7.2f}  {', '.join(r.clients) or '-'}"
        )
    return [
        {
            "name": "floor: import boto3",
            "median_ms": round(floor_import, 1),
            "ratio": 1.0,
            "runs": rounds,
            "code": "build" if from_build else "source",
            "tracing": TRACING_BY_DEFAULT,
        },
        *(
            {
                "name": f"handler: {r.name}",
                "median_ms": round(r.import_ms, 1),
                "ratio": round(r.import_ratio, 2),
                "first_request_ms": round(r.first_ms, 1),
                "floor_ms": round(r.floor_ms, 1),
                "first_request_ratio": round(r.first_ratio, 2),
                "aws_calls": r.aws_calls,
                "clients": list(r.clients),
                "flipped_tracing_ratio": round(r.flipped_import_ratio, 2),
                "flipped_tracing_first_request_ratio": round(r.flipped_first_ratio, 2),
            }
            for r in rows
        ),
    ]


if __name__ == "__main__":
    report()
