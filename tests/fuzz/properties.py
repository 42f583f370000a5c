"""The fuzz suite's properties, shared by `tests/fuzz` (a few hundred requests per route, in `make test`) and
`benchmarks/fuzz.py` (thousands): each property generates requests for one public route, sends them to a running
local stack over HTTP and holds every answer to the same rules.

- No 5xx (the 503s are documented in docs/api.md, but the fuzz stack never trips the breaker and moto never fails).
- An answer within `REQUEST_TIMEOUT_SECONDS`: no hang.
- `(status, code)` in the route's row of `tests/fuzz/documented.py`.
- A refused send consumes no quota, an accepted one exactly one (read back from the trial's status route).
- An unauthenticated webhook call (wrong path secret, bad signature) writes nothing: not an item in any table, not
  a message on the delivery queue or delivered, not a message or a status on the watched trial, not its whitelist.
- Route-specific rules: the trial headers only once the key is good, CM's envelope, SMS texts on both sides of
  the 2-part limit, the Meta handshake echoing exactly the challenge, the dashboard's `no-store`, ...

`FuzzTarget(stack, strict=True)` (the tests) raises at the first broken rule, so hypothesis shrinks the example;
`strict=False` (the benchmark) counts problems per property and carries on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.strategies import SearchStrategy

from tests.conftest import LocalStack, http_request, random_phone
from tests.fuzz import strategies as gen
from tests.fuzz.documented import (
    CM_MO,
    CM_STATUS,
    DASHBOARD_MESSAGES,
    DASHBOARD_TRIAL,
    DASHBOARD_WHITELIST,
    LOCAL_MO,
    META,
    META_VERIFY,
    NO_TRIAL_HEADERS,
    SEND,
    SIGNUP,
    SMS_ALWAYS_FITS_CHARS,
    SMS_MAX_UNITS,
    STATUS,
    TRIAL_EXPIRY_HEADER,
    Answer,
    answer_code,
    is_documented,
)

if TYPE_CHECKING:
    import schemathesis
    from mypy_boto3_dynamodb import DynamoDBClient

REQUEST_TIMEOUT_SECONDS = 10.0
SETTLE_TIMEOUT_SECONDS = 30.0
CM_SECRET = "fuzz-cm-webhook-secret-7f3a9c0e"
META_APP_SECRET = "fuzz-meta-app-secret-51d2b6"
META_VERIFY_TOKEN = "fuzz-meta-verify-token-88e0"
TOKEN_HEADER = "X-CM-PRODUCTTOKEN"
STATUS_PATH = "/messaging/messagingtrial/status"
# Hypothesis keeps caches (never a database: `database=None`) under its home directory; not in the repository.
HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / "trialgw-fuzz-hypothesis"
# Per-recipient codes answer with a `Rejected` entry in `messages`; request-level codes with none.
_PER_RECIPIENT_CODES = frozenset({301, 302, 304, 305, 403})


def stack_environment(quota: int) -> dict[str, str]:
    """The settings of the stack the fuzz suite runs against: known webhook secrets, and quotas and a breaker that
    leave room for the accepted sends (the breaker's 503 is documented, but must not happen here)."""
    return {
        "TRIALGW_CM_WEBHOOK_SECRET": CM_SECRET,
        "TRIALGW_META_APP_SECRET": META_APP_SECRET,
        "TRIALGW_META_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "TRIALGW_QUOTA_SMS": str(quota),
        "TRIALGW_QUOTA_WHATSAPP": str(quota),
        "TRIALGW_QUOTA_OTHER": str(quota),
        "TRIALGW_CAPACITY_LIMIT": str(10**9),
    }


def configure_hypothesis() -> None:
    set_hypothesis_home_dir(HYPOTHESIS_HOME)


class Problem(AssertionError):
    """A broken rule, with the request that broke it."""


@dataclass(frozen=True)
class Reply:
    status: int
    # Lower-case names.
    headers: Mapping[str, str]
    body: bytes

    @cached_property
    def document(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def show(self) -> str:
        text = self.body[:300].decode("utf-8", "replace")
        return f"{self.status} {text}{'…' if len(self.body) > 300 else ''}"


@dataclass
class Tally:
    """What one property did: requests sent and problems found, by kind."""

    name: str
    route: str
    requests: int = 0
    server_errors: int = 0
    undocumented: int = 0
    violations: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    # How often each (status, code) was answered: what the generated requests reached.
    answers: Counter[Answer] = field(default_factory=Counter)

    def row(self) -> dict[str, object]:
        return {
            "route": self.route,
            "property": self.name,
            "requests": self.requests,
            "5xx": self.server_errors,
            "undocumented": self.undocumented,
            "violations": self.violations,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class Trial:
    """A trial the suite made: its key and whitelisted recipients (channel → address)."""

    key: str
    recipients: Mapping[str, str]


@dataclass(frozen=True)
class World:
    """What an unauthenticated call must leave as it was. Every call is checked against what it could most likely
    write: a reply on the delivery queue (or delivered), a message or a status on the watched trial; a whole run
    also against the item count of every table and the watched trial's whitelist and quotas (`full`)."""

    queued: frozenset[str]
    messages: tuple[tuple[str, str | None], ...]
    items: tuple[tuple[str, int], ...] | None = None
    state: str | None = None

    def changes(self, later: World) -> list[str]:
        found = []
        if later.queued - self.queued:
            found.append(f"new queued or delivered messages {sorted(later.queued - self.queued)}")
        if later.messages != self.messages:
            found.append(f"the watched trial's messages {self.messages} -> {later.messages}")
        if later.items is not None and later.items != self.items:
            found.append(f"table item counts {self.items} -> {later.items}")
        if later.state is not None and later.state != self.state:
            found.append(f"the watched trial's whitelist or quotas {self.state} -> {later.state}")
        return found


class FuzzTarget:
    """A running local stack (started with `stack_environment`) and the trials the properties use."""

    def __init__(self, stack: LocalStack, *, strict: bool) -> None:
        self.stack = stack
        self.url = stack.url
        self.strict = strict
        self.tally = Tally("setup", "-")
        self._baseline: World | None = None
        self._sent_cache: Mapping[str, int] | None = None
        # Trials: sends are counted against `send_trial`; hostile but authenticated webhooks carry `webhook_trial`'s
        # key and report on its messages; unauthenticated calls carry `quiet_trial`'s key and report on its messages
        # (sent, so a forged report could still move them), and must change nothing of it.
        self.send_trial = self._trial(("WhatsApp", "SMS", "Facebook Messenger", "Instagram"))
        self.webhook_trial = self._trial(("WhatsApp", "SMS"))
        self.quiet_trial = self._trial(("WhatsApp", "SMS"))
        for trial in (self.webhook_trial, self.quiet_trial):
            for channel, address in trial.recipients.items():
                self._send_accepted(trial.key, channel, address)
        self.settle()
        self.webhook_message_ids = self._message_ids(self.webhook_trial)
        self.quiet_message_ids = self._message_ids(self.quiet_trial)

    # --- set-up --------------------------------------------------------------------------------------------------

    def _trial(self, channels: Sequence[str]) -> Trial:
        key = self.stack.sign_up("Fuzz Tester")
        recipients: dict[str, str] = {}
        for channel in channels:
            address = random_phone() if channel in ("WhatsApp", "SMS") else str(random.randrange(10**15, 10**16))
            answer = self._ok(self.stack.post_json("/_local/mo", {"channel": channel, "from": address, "text": key}))
            outcomes = answer.get("answer", {}).get("outcomes")
            if outcomes != ["whitelisted"]:
                raise RuntimeError(f"could not whitelist {address} on {channel}: {answer}")
            recipients[channel] = answer["from"]
        return Trial(key, recipients)

    def _send_accepted(self, key: str, channel: str, address: str) -> None:
        document = {
            "messages": {
                "authentication": {"producttoken": key},
                "msg": [
                    {
                        "allowedChannels": [channel],
                        "from": "FuzzSetup",
                        "to": [{"number": address}],
                        "body": {"content": "set-up"},
                    }
                ],
            }
        }
        self._ok(self.stack.post_json(gen.GATEWAY_PATHS[1], document))

    def _message_ids(self, trial: Trial) -> tuple[str, ...]:
        auth = {"Authorization": f"Bearer {trial.key}"}
        return tuple(m["id"] for m in self._get_json("/dashboard-api/messages?limit=200", auth)["messages"])

    @staticmethod
    def _ok(result: Any) -> Any:
        if result.status != 200:
            raise RuntimeError(f"fuzz set-up failed: {result.status} {result.text[:500]}")
        return result.json()

    @cached_property
    def _dynamodb(self) -> DynamoDBClient:
        import boto3

        where = self._ok(self.stack.get("/_local/aws"))
        client: DynamoDBClient = boto3.client(
            "dynamodb",
            endpoint_url=where["endpoint"],
            region_name=where["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )
        return client

    @cached_property
    def _tables(self) -> list[str]:
        return sorted(self._ok(self.stack.get("/_local/aws"))["tables"].values())

    # --- problems ------------------------------------------------------------------------------------------------

    def _problem(self, kind: str, message: str) -> None:
        setattr(self.tally, kind, getattr(self.tally, kind) + 1)
        if len(self.tally.problems) < 5:
            self.tally.problems.append(message)
        if self.strict:
            raise Problem(message)

    def violation(self, message: str) -> None:
        self._problem("violations", message)

    def server_error(self, message: str) -> None:
        self._problem("server_errors", message)

    def expect(self, condition: bool, message: Callable[[], str]) -> None:
        if not condition:
            self.violation(message())

    # --- requests ------------------------------------------------------------------------------------------------

    def request(self, route: str, case: gen.HttpCase) -> Reply | None:
        """Sends a generated request (counted for the property), judges the answer by the route's table."""
        self.tally.requests += 1
        try:
            result = http_request(
                case.method,
                self.url + case.path,
                body=case.body if case.method != "GET" else None,
                headers=dict(case.headers),
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except OSError as error:
            self.violation(f"{route}: no answer (within {REQUEST_TIMEOUT_SECONDS} s): {error!r} to {case!r}")
            return None
        reply = Reply(result.status, {k.lower(): v for k, v in result.headers.items()}, result.body)
        self.judge(route, reply, repr(case))
        return reply

    def judge(self, route: str, reply: Reply, request: str) -> None:
        """No 5xx, and `(status, code)` documented for `route`."""
        code = answer_code(route, reply.document)
        self.tally.answers[(reply.status, code)] += 1
        if reply.status >= 500:
            self.server_error(f"{route}: server error {reply.show()} to {request}")
        elif not is_documented(route, reply.status, code):
            self._problem(
                "undocumented", f"{route}: undocumented answer ({reply.status}, {code!r}) {reply.show()} to {request}"
            )

    def _get_json(self, path: str, headers: Mapping[str, str] | None = None) -> Any:
        """An auxiliary read (not counted), which must work."""
        result = http_request("GET", self.url + path, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        if result.status != 200:
            raise Problem(f"auxiliary read {path} answered {result.status} {result.text[:300]}")
        return result.json()

    # --- quotas --------------------------------------------------------------------------------------------------

    def sent(self, trial: Trial) -> dict[str, int]:
        status = self._get_json(STATUS_PATH, {TOKEN_HEADER: trial.key})
        return {entry["channel"]: entry["sent"] for entry in status["channels"]}

    def with_quota_watch(self, request: Callable[[], Reply | None]) -> Reply | None:
        """Runs `request` (a send) and checks the send trial's quota: one message more on one channel if it was
        accepted (200), else none."""
        before = self._sent_cache if self._sent_cache is not None else self.sent(self.send_trial)
        self._sent_cache = None
        reply = request()
        after = self.sent(self.send_trial)
        self._sent_cache = after
        if reply is None:
            return None
        taken = {
            channel: after[channel] - before.get(channel, 0)
            for channel in after
            if after[channel] != before.get(channel, 0)
        }
        # The first answer given again for an Idempotency-Key takes nothing: it is the earlier message's.
        replayed = reply.headers.get("idempotent-replayed") == "true"
        expected_total = 1 if reply.status == 200 and not replayed else 0
        self.expect(
            sum(taken.values()) == expected_total and all(n > 0 for n in taken.values()),
            lambda: f"{SEND}: answered {reply.status}, quota taken {taken} (expected {expected_total}): {reply.show()}",
        )
        return reply

    # --- nothing written -----------------------------------------------------------------------------------------

    def _world(self, *, full: bool) -> World:
        outbound = self._get_json("/_local/outbound")
        delivered = self._get_json("/_local/deliveries")
        queued = frozenset(entry["sqsMessageId"] for entry in outbound) | frozenset(d["message_id"] for d in delivered)
        auth = {"Authorization": f"Bearer {self.quiet_trial.key}"}
        page = self._get_json("/dashboard-api/messages?limit=200", auth)
        messages = tuple((m["id"], m["status"]) for m in page["messages"])
        if not full:
            return World(queued, messages)
        # moto counts items live (DynamoDB itself updates ItemCount only every few hours).
        items = tuple(
            (table, self._dynamodb.describe_table(TableName=table)["Table"].get("ItemCount", 0))
            for table in self._tables
        )
        status = self._get_json(STATUS_PATH, {TOKEN_HEADER: self.quiet_trial.key})
        state = json.dumps({"whitelist": status["whitelist"], "channels": status["channels"]}, sort_keys=True)
        return World(queued, messages, items, state)

    def settle(self) -> World:
        """Waits until the delivery queue is empty and nothing moves (replies delivered, statuses recorded)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        previous: World | None = None
        while time.monotonic() < deadline:
            if not self._get_json("/_local/outbound"):
                current = self._world(full=True)
                if current == previous:
                    self._baseline = current
                    return current
                previous = current
            time.sleep(0.2)
        raise Problem(f"the local stack did not settle within {SETTLE_TIMEOUT_SECONDS} s")

    def expect_nothing_written(self, request: str, *, full: bool = False) -> None:
        assert self._baseline is not None, "settle() first"
        later = self._world(full=full)
        changes = self._baseline.changes(later)
        if changes:
            # The next call is judged against what is there now, not blamed for this one's writes.
            self._baseline = later if full else replace(self._baseline, queued=later.queued, messages=later.messages)
            self.violation(f"an unauthenticated request changed the stack: {'; '.join(changes)}; request: {request}")


# --- properties ------------------------------------------------------------------------------------------------------


def _check_envelope(fuzz: FuzzTarget, reply: Reply) -> None:
    """CM's envelope, `Rejected` entries for per-recipient codes, trial headers once the key is known good."""
    body = reply.document
    shown = reply.show
    if not (isinstance(body, dict) and isinstance(body.get("details"), str) and isinstance(body.get("messages"), list)):
        fuzz.violation(f"{SEND}: not CM's envelope: {shown()}")
        return
    code, messages = body.get("errorCode"), body["messages"]
    has_headers = TRIAL_EXPIRY_HEADER.lower() in reply.headers
    fuzz.expect(
        has_headers == (code not in NO_TRIAL_HEADERS),
        lambda: f"{SEND}: errorCode {code} with trial headers {has_headers}: {shown()} {dict(reply.headers)}",
    )
    if reply.status == 200:
        first = messages[0] if messages else {}
        fuzz.expect(
            len(messages) == 1 and first.get("status") == "Accepted" and first.get("parts") in (1, 2),
            lambda: f"{SEND}: accepted without one Accepted message of 1-2 parts: {shown()}",
        )
    elif code in _PER_RECIPIENT_CODES:
        fuzz.expect(
            len(messages) == 1
            and messages[0].get("status") == "Rejected"
            and messages[0].get("messageErrorCode") == code,
            lambda: f"{SEND}: per-recipient refusal without its Rejected entry: {shown()}",
        )
    else:
        fuzz.expect(messages == [], lambda: f"{SEND}: request-level refusal with messages: {shown()}")


def _sent(fuzz: FuzzTarget, case: gen.HttpCase) -> Reply | None:
    reply = fuzz.with_quota_watch(lambda: fuzz.request(SEND, case))
    if reply is not None:
        _check_envelope(fuzz, reply)
    return reply


def check_send(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    _sent(fuzz, case)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_sms_send(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    """Row 11 from both sides: up to 63 characters always fit in 2 parts; over 288 units never do; a text that is
    not valid Unicode, or blank, is row 2."""
    reply = _sent(fuzz, case)
    if reply is None:
        return
    text: str = case.facts["sms_text"]
    answer = (reply.status, answer_code(SEND, reply.document))
    try:
        text.encode("utf-8")
        valid = bool(text.strip())
    except UnicodeEncodeError:
        valid = False
    if not valid:
        expected: set[Answer] = {(400, 202)}
    elif len(text) <= SMS_ALWAYS_FITS_CHARS:
        expected = {(200, 0), (429, 102)}
    elif _utf16_units(text) > SMS_MAX_UNITS:
        expected = {(400, 304)}
    else:
        expected = {(200, 0), (429, 102), (400, 304)}
    fuzz.expect(
        answer in expected,
        lambda: f"{SEND}: SMS of {len(text)} characters answered {answer}, expected one of {expected}: {reply.show()}",
    )


def check_status(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    reply = fuzz.request(STATUS, case)
    if reply is None:
        return
    token = next((v for k, v in case.headers.items() if k.lower() == TOKEN_HEADER.lower()), None)
    if token == fuzz.send_trial.key:
        fuzz.expect(reply.status == 200, lambda: f"{STATUS}: the right key answered {reply.show()}")
    if reply.status == 200:
        body = reply.document
        recipients = {(r["channel"], r["recipient"]) for r in body["whitelist"]["recipients"]}
        fuzz.expect(
            set(fuzz.send_trial.recipients.items()) <= recipients and TRIAL_EXPIRY_HEADER.lower() in reply.headers,
            lambda: f"{STATUS}: 200 without the trial's whitelist or headers: {reply.show()}",
        )
    else:
        fuzz.expect(TRIAL_EXPIRY_HEADER.lower() not in reply.headers, lambda: f"{STATUS}: refusal with trial headers")


def _mails_to(fuzz: FuzzTarget, address: str) -> int:
    return len(fuzz._get_json("/_local/mail?" + urllib.parse.urlencode({"to": address})))


def check_signup(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    """A refused sign-up sends no e-mail; an accepted one answers the masked address and the expiry."""
    try:
        document = json.loads(case.body)
    except (ValueError, RecursionError):
        document = None
    value = document.get("email") if isinstance(document, dict) else None
    email = value if isinstance(value, str) and 0 < len(value) <= 254 and value.isprintable() else None
    before = _mails_to(fuzz, email) if email is not None else 0
    reply = fuzz.request(SIGNUP, case)
    if reply is None:
        return
    if reply.status == 202:
        body = reply.document
        fuzz.expect(
            isinstance(body, dict) and "***" in str(body.get("email")) and isinstance(body.get("expiresAt"), str),
            lambda: f"{SIGNUP}: accepted without the masked e-mail and expiry: {reply.show()}",
        )
    elif email is not None:
        fuzz.expect(
            _mails_to(fuzz, email) == before, lambda: f"{SIGNUP}: refused ({reply.show()}) but e-mailed {email!r}"
        )


def _check_processed(fuzz: FuzzTarget, route: str, reply: Reply, count: str) -> None:
    if reply.status != 200:
        return
    body = reply.document
    fuzz.expect(
        isinstance(body, dict) and isinstance(body.get("processed"), int) and isinstance(body.get(count), int | list),
        lambda: f"{route}: 200 without processed/{count}: {reply.show()}",
    )
    if isinstance(body, dict) and isinstance(body.get(count), list):
        fuzz.expect(body["processed"] == len(body[count]), lambda: f"{route}: processed does not match: {reply.show()}")


def check_cm_mo(fuzz: FuzzTarget, body: bytes) -> None:
    case = gen.HttpCase("POST", gen.cm_webhook_path("cm", CM_SECRET), body, {"Content-Type": "application/json"})
    reply = fuzz.request(CM_MO, case)
    if reply is not None:
        _check_processed(fuzz, CM_MO, reply, "outcomes")


def check_cm_status(fuzz: FuzzTarget, body: bytes) -> None:
    case = gen.HttpCase("POST", gen.cm_webhook_path("cm-status", CM_SECRET), body, {"Content-Type": "application/json"})
    reply = fuzz.request(CM_STATUS, case)
    if reply is not None:
        _check_processed(fuzz, CM_STATUS, reply, "updated")


def meta_signature(body: bytes, secret: str = META_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_meta(fuzz: FuzzTarget, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)}
    reply = fuzz.request(META, gen.HttpCase("POST", "/webhooks/meta", body, headers))
    if reply is not None:
        _check_processed(fuzz, META, reply, "outcomes")


def _check_unauthenticated(fuzz: FuzzTarget, route: str, case: gen.HttpCase, allowed: set[Answer]) -> None:
    reply = fuzz.request(route, case)
    if reply is not None:
        answer = (reply.status, answer_code(route, reply.document))
        fuzz.expect(answer in allowed, lambda: f"{route}: unauthenticated call answered {reply.show()}: {case!r}")
    fuzz.expect_nothing_written(repr(case))


def check_cm_wrong_secret(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    route = CM_STATUS if case.path.startswith("/webhooks/cm-status/") else CM_MO
    _check_unauthenticated(fuzz, route, case, {(404, "not_found")})


def check_meta_bad_signature(fuzz: FuzzTarget, case: gen.HttpCase) -> None:
    # The body's encoding and size are checked before the signature; neither answer reveals or changes anything.
    allowed: set[Answer] = {(401, "unauthorized"), (400, "body_too_large"), (400, "invalid_encoding")}
    _check_unauthenticated(fuzz, META, case, allowed)


def check_meta_verify(fuzz: FuzzTarget, case: gen.VerifyCase) -> None:
    reply = fuzz.request(META_VERIFY, gen.HttpCase("GET", "/webhooks/meta?" + case.query))
    if reply is None:
        return
    genuine = case.mode == "subscribe" and case.token == META_VERIFY_TOKEN and bool(case.challenge)
    if genuine:
        assert case.challenge is not None
        fuzz.expect(
            reply.status == 200 and reply.body == case.challenge.encode("utf-8"),
            lambda: f"{META_VERIFY}: the genuine handshake {case!r} answered {reply.show()}",
        )
    else:
        fuzz.expect(reply.status == 403, lambda: f"{META_VERIFY}: {case!r} answered {reply.show()}")


def check_dashboard(fuzz: FuzzTarget, route: str, case: gen.HttpCase) -> None:
    reply = fuzz.request(route, case)
    if reply is None:
        return
    if case.facts.get("right_key"):
        fuzz.expect(reply.status == 200, lambda: f"{route}: the right key answered {reply.show()}")
    if reply.status == 200:
        fuzz.expect(reply.headers.get("cache-control") == "no-store", lambda: f"{route}: 200 without no-store")


def check_local_mo(fuzz: FuzzTarget, document: Any) -> None:
    """The end user's SMS reaches the MO function through the two-way SMS topic and its queue; its processing must not
    fail (the queue would retry it into its dead-letter queue)."""
    body = json.dumps(document).encode()
    reply = fuzz.request(LOCAL_MO, gen.HttpCase("POST", "/_local/mo", body, {"Content-Type": "application/json"}))
    if reply is None or reply.status != 200:
        return
    answer = reply.document
    fuzz.expect(answer.get("via") == "sns", lambda: f"{LOCAL_MO}: an SMS not published to its topic: {reply.show()}")
    if answer.get("status") != 200:
        fuzz.server_error(f"{LOCAL_MO}: the MO function failed on the SMS of {document!r}: {reply.show()}")


# --- schemathesis, from the stack's own /openapi.json ----------------------------------------------------------------


def load_openapi(fuzz: FuzzTarget) -> schemathesis.BaseSchema:
    import schemathesis

    return schemathesis.openapi.from_url(
        fuzz.url + "/openapi.json", config=schemathesis.Config(), timeout=REQUEST_TIMEOUT_SECONDS
    )


def openapi_cases(fuzz: FuzzTarget, path: str, method: str) -> SearchStrategy[tuple[str, Any]]:
    """Schemathesis' cases for one operation: positive (valid by the document) and negative, and positive ones
    with the send trial's key in the header, so they get past row 4."""
    from schemathesis import GenerationMode

    operation = load_openapi(fuzz)[path][method]
    with_key = operation.as_strategy(GenerationMode.POSITIVE, headers={TOKEN_HEADER: fuzz.send_trial.key})
    return gen.weighted(
        (2, operation.as_strategy(GenerationMode.POSITIVE).map(lambda c: ("positive", c))),
        (2, with_key.map(lambda c: ("positive", c))),
        (1, operation.as_strategy(GenerationMode.NEGATIVE).map(lambda c: ("negative", c))),
    )


def _call_openapi_case(fuzz: FuzzTarget, route: str, case: Any) -> Reply | None:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    fuzz.tally.requests += 1
    try:
        response = case.call(base_url=fuzz.url, timeout=REQUEST_TIMEOUT_SECONDS)
    except ValueError:
        # The client refused to send it (a header value HTTP cannot carry): not a request to judge.
        fuzz.tally.requests -= 1
        hypothesis.reject()
    except OSError as error:
        fuzz.violation(
            f"{route}: no answer (within {REQUEST_TIMEOUT_SECONDS} s): {error!r} to {case.as_curl_command()}"
        )
        return None
    headers = {name.lower(): values[-1] for name, values in response.headers.items() if values}
    reply = Reply(response.status_code, headers, response.content)
    request = case.as_curl_command()
    fuzz.judge(route, reply, request)
    try:
        case.validate_response(
            response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
        )
    except (AssertionError, BaseExceptionGroup) as failure:
        fuzz.violation(f"{route}: the answer does not conform to /openapi.json: {failure}; {reply.show()}; {request}")
    return reply


def check_openapi_send(fuzz: FuzzTarget, tagged: tuple[str, Any]) -> None:
    mode, case = tagged
    reply = fuzz.with_quota_watch(lambda: _call_openapi_case(fuzz, SEND, case))
    if reply is None:
        return
    _check_envelope(fuzz, reply)
    if mode == "positive":
        code = answer_code(SEND, reply.document)
        fuzz.expect(
            (reply.status, code) != (400, 202),
            lambda: f"{SEND}: a request valid by /openapi.json answered 'Invalid POST data': {case.as_curl_command()}",
        )


def check_openapi_status(fuzz: FuzzTarget, tagged: tuple[str, Any]) -> None:
    _call_openapi_case(fuzz, STATUS, tagged[1])


# --- the table of properties -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """One route's generated requests and the rules their answers are held to.

    `quiet`: unauthenticated calls; the stack settles first and must not change. `test_examples` is what
    `make test` runs; the benchmark runs `bench_examples`. `examples`: payloads always tried first (real ones).
    """

    name: str
    route: str
    strategy: Callable[[FuzzTarget], SearchStrategy[Any]]
    check: Callable[[FuzzTarget, Any], None]
    test_examples: int
    bench_examples: int
    quiet: bool = False
    # Answers `make test`'s examples must reach at least once, so the generated input is known to get past the
    # first refusal (a property whose requests all bounce off one check would prove little).
    must_see: frozenset[Answer] = frozenset()
    examples: Callable[[FuzzTarget], list[Any]] = field(default=lambda _fuzz: [])


def _dashboard_cases(route: str, path: str) -> Callable[[FuzzTarget], SearchStrategy[gen.HttpCase]]:
    def build(fuzz: FuzzTarget) -> SearchStrategy[gen.HttpCase]:
        key = fuzz.send_trial.key
        query = gen.dashboard_queries() if route == DASHBOARD_MESSAGES else st.just("")

        def case(authorization: str | None, q: str) -> gen.HttpCase:
            headers = {} if authorization is None else {"Authorization": authorization}
            right = authorization == f"Bearer {key}" and not q
            return gen.HttpCase("GET", path + (f"?{q}" if q else ""), headers=headers, facts={"right_key": right})

        return st.builds(case, gen.authorizations(key), query)

    return build


def _bad_signatures(body: bytes) -> SearchStrategy[str | None]:
    digest = hmac.new(META_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    sha1 = hmac.new(META_APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    return st.one_of(
        st.sampled_from(
            [
                None,
                "",
                meta_signature(body, "not-the-app-secret"),
                meta_signature(body + b" "),
                meta_signature(body.strip() + b"\n"),
                "sha1=" + sha1,
                "sha256=" + digest[:-1],
                "sha256=" + digest[1:] + "0",
                "sha256 = " + digest,
                "sha512=" + digest,
                digest,
            ]
        ).filter(lambda header: header != meta_signature(body)),
        gen.header_values(),
    )


def _meta_unsigned_cases(fuzz: FuzzTarget) -> SearchStrategy[gen.HttpCase]:
    bodies = gen.bodies(gen.meta_documents(fuzz.quiet_trial.key, fuzz.quiet_message_ids))

    def case(body: bytes, signature: str | None) -> gen.HttpCase:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return gen.HttpCase("POST", "/webhooks/meta", body, headers)

    return bodies.flatmap(lambda body: _bad_signatures(body).map(lambda signature: case(body, signature)))


def _cm_wrong_secret_cases(route: str) -> Callable[[FuzzTarget], SearchStrategy[gen.HttpCase]]:
    """CM's payloads about the watched trial (its key, its messages) to `/webhooks/<route>/` with a wrong secret."""

    def build(fuzz: FuzzTarget) -> SearchStrategy[gen.HttpCase]:
        if route == "cm":
            bodies = gen.cm_mo_bodies(fuzz.quiet_trial.key)
        else:
            bodies = gen.cm_status_bodies(fuzz.quiet_message_ids)
        return st.builds(
            lambda path, body: gen.HttpCase("POST", path, body, {"Content-Type": "application/json"}),
            gen.wrong_secret_paths(route, CM_SECRET),
            bodies,
        )

    return build


def _fixture_bodies(names: Sequence[str]) -> Callable[[FuzzTarget], list[Any]]:
    return lambda _fuzz: [gen.encode(gen.event(name), "utf-8") for name in names]


def _dashboard_property(route: str, name: str, test_examples: int, must_see: set[Answer]) -> Property:
    path = route.split(" ", 1)[1]
    return Property(
        name,
        route,
        _dashboard_cases(route, path),
        lambda fuzz, case: check_dashboard(fuzz, route, case),
        test_examples=test_examples,
        bench_examples=2000,
        must_see=frozenset(must_see | {(200, None), (401, "unauthorized")}),
    )


PROPERTIES: tuple[Property, ...] = (
    Property(
        "CM send JSON",
        SEND,
        lambda fuzz: gen.send_cases(fuzz.send_trial.key, fuzz.send_trial.recipients),
        check_send,
        test_examples=160,
        bench_examples=1500,
        must_see=frozenset({(200, 0), (400, 202), (401, 101), (400, 203), (403, 302)}),
        examples=lambda _fuzz: [
            gen.HttpCase(
                "POST",
                gen.GATEWAY_PATHS[0],
                gen.event("apigw_rest_send.json")["body"].encode(),
                {"Content-Type": "application/json"},
            )
        ],
    ),
    Property(
        "SMS texts at the 2-part limit",
        SEND,
        lambda fuzz: gen.sms_send_cases(fuzz.send_trial.key, fuzz.send_trial.recipients["SMS"]),
        check_sms_send,
        test_examples=60,
        bench_examples=400,
        must_see=frozenset({(200, 0), (400, 304), (400, 202)}),
    ),
    Property(
        "schemathesis /openapi.json",
        SEND,
        lambda fuzz: openapi_cases(fuzz, "/messaging/messagingtrial/gw", "POST"),
        check_openapi_send,
        # Schemathesis takes about 0.2 s to generate one of these bodies.
        test_examples=12,
        bench_examples=150,
        must_see=frozenset({(401, 101)}),
    ),
    Property(
        "key header",
        STATUS,
        lambda fuzz: gen.status_cases(fuzz.send_trial.key),
        check_status,
        test_examples=100,
        bench_examples=1500,
        must_see=frozenset({(200, None), (401, 101)}),
    ),
    Property(
        "schemathesis /openapi.json",
        STATUS,
        lambda fuzz: openapi_cases(fuzz, STATUS_PATH, "GET"),
        check_openapi_status,
        test_examples=40,
        bench_examples=500,
        must_see=frozenset({(401, 101)}),
    ),
    Property(
        "sign-up JSON",
        SIGNUP,
        lambda _fuzz: gen.signup_cases(),
        check_signup,
        test_examples=120,
        bench_examples=2000,
        must_see=frozenset({(202, None), (422, "invalid_fields"), (400, "invalid_json")}),
    ),
    Property(
        "CM MO JSON",
        CM_MO,
        lambda fuzz: gen.cm_mo_bodies(fuzz.webhook_trial.key),
        check_cm_mo,
        test_examples=120,
        bench_examples=1500,
        must_see=frozenset({(200, None), (400, "invalid_payload"), (400, "invalid_json")}),
        examples=_fixture_bodies([f"mo_cm_{n}.json" for n in ("whatsapp", "sms", "messenger", "instagram")]),
    ),
    Property(
        "CM status reports",
        CM_STATUS,
        lambda fuzz: gen.cm_status_bodies(fuzz.webhook_message_ids),
        check_cm_status,
        test_examples=80,
        bench_examples=1500,
        must_see=frozenset({(200, None), (400, "invalid_payload")}),
        examples=_fixture_bodies(["cm_status_delivered.json", "cm_status_batch.json"]),
    ),
    *(
        Property(
            "wrong path secret",
            route,
            _cm_wrong_secret_cases(path),
            check_cm_wrong_secret,
            test_examples=30,
            bench_examples=500,
            quiet=True,
            must_see=frozenset({(404, "not_found")}),
        )
        for route, path in ((CM_MO, "cm"), (CM_STATUS, "cm-status"))
    ),
    Property(
        "verify handshake",
        META_VERIFY,
        lambda _fuzz: gen.verify_cases(META_VERIFY_TOKEN),
        check_meta_verify,
        test_examples=150,
        bench_examples=2000,
        must_see=frozenset({(200, None), (403, "forbidden")}),
    ),
    Property(
        "signed envelopes",
        META,
        lambda fuzz: gen.bodies(gen.meta_documents(fuzz.webhook_trial.key, fuzz.webhook_message_ids)),
        check_meta,
        test_examples=120,
        bench_examples=1500,
        must_see=frozenset({(200, None), (400, "invalid_payload")}),
        examples=_fixture_bodies([f"meta_{n}.json" for n in ("whatsapp_text", "messenger_text", "instagram_text")]),
    ),
    Property(
        "bad signature",
        META,
        _meta_unsigned_cases,
        check_meta_bad_signature,
        test_examples=40,
        bench_examples=500,
        quiet=True,
        must_see=frozenset({(401, "unauthorized")}),
    ),
    _dashboard_property(DASHBOARD_TRIAL, "Bearer key", 100, {(404, "not_found")}),
    _dashboard_property(DASHBOARD_WHITELIST, "Bearer key", 80, set()),
    _dashboard_property(DASHBOARD_MESSAGES, "Bearer key, limit, cursor", 100, {(400, "invalid_limit")}),
    Property(
        "two-way SMS (SNS) texts",
        LOCAL_MO,
        lambda fuzz: gen.local_mo_documents(fuzz.webhook_trial.key),
        check_local_mo,
        test_examples=60,
        bench_examples=1000,
        must_see=frozenset({(200, None)}),
    ),
)


def run(fuzz: FuzzTarget, prop: Property, max_examples: int) -> Tally:
    """Runs `prop` for `max_examples` generated examples (plus its explicit ones); in strict mode a broken rule
    fails with hypothesis' shrunk example."""
    configure_hypothesis()
    fuzz.tally = tally = Tally(prop.name, prop.route)
    strategy = prop.strategy(fuzz)
    if prop.quiet:
        fuzz.settle()

    def example(value: Any) -> None:
        prop.check(fuzz, value)

    test = example
    for value in prop.examples(fuzz):
        test = hypothesis.example(value)(test)
    phases = (Phase.explicit, Phase.generate, Phase.shrink) if fuzz.strict else (Phase.explicit, Phase.generate)
    runner = settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )(given(strategy)(test))
    started = time.perf_counter()
    try:
        runner()
        if prop.quiet:
            fuzz.expect_nothing_written(f"one of the {tally.requests} requests of {prop.route} {prop.name}", full=True)
    finally:
        tally.seconds = time.perf_counter() - started
    return tally
