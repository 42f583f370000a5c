"""Load on one machine: the local stack (`python -m infra.local`) driven over loopback by many threads.

Trials are run as pipelines that overlap, so sign-ups, whitelisting webhooks and sends are always in flight
together. Each trial:

1. signs up (`POST /signup`) and reads its key from the captured e-mail (`/_local/mail`);
2. whitelists one recipient per channel (four signed webhooks at once: Meta for WhatsApp, Messenger and
   Instagram, CM's MO webhook for SMS), so every channel has someone to send to;
3. storms the 10-recipient edge: more new senders than free slots plus a few seeds repeating their key, all at
   once; exactly the free slots are won, the rest are told the whitelist is full, a repeat takes no slot;
4. sends on every channel, all at once: quota + `over_quota` messages to its whitelisted recipients and
   `strangers` to recipients that never sent the key.

Afterwards it waits until the delivery queue is empty and proves, from the stack's own answers (the status
endpoint, the dashboard's whitelist and messages), that each trial accepted exactly its quota per channel,
holds exactly 10 recipients (the ones the webhooks said won), that every accepted message was recorded once
with its reference and delivered, and that every refusal was the documented one (429 / 102 past the quota,
403 / 302 for a recipient not whitelisted), with nothing else answered, no 5xx above all.

The run is bounded: no new trial starts after `duration_seconds` or when the next one would exceed
`max_requests`; the trials in flight then finish. The capacity breaker's limit is raised so it never trips.

What "concurrent" means here: the clients are concurrent, the stack much less. It runs one warm instance per
function, the API's functions one call at a time between them (`infra.local.invoke`), next to the delivery
function fed by the queue's pump, and it serves moto one request at a time (moto's conditional writes are not
atomic otherwise). Requests therefore queue in the stack, and the latencies include that queueing (they are
mostly `workers` / throughput). Races between truly parallel instances are covered by
`tests/integration/test_send_concurrency.py` and `tests/integration/test_whitelist_store.py`.
"""

from __future__ import annotations

import functools
import http.client
import itertools
import json
import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from infra.local.mo import CM, META, CompanyAddresses, MoRequest, cm_request, company_addresses, meta_request
from tests.conftest import TRIAL_KEY, start_local_stack
from trialgw.gateway import answers
from trialgw.models import Channel
from trialgw.settings import MoWebhookSettings, SendSettings, env_var
from trialgw.urls import GATEWAY_PATH

DEFAULT_DURATION_SECONDS = 60.0
DEFAULT_MAX_REQUESTS = 40_000
# How long the delivery queue may take to empty after the load, and a request at most.
DRAIN_TIMEOUT_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 60.0
STATUS_PATH = "/messaging/messagingtrial/status"
DELIVERED = frozenset({"sent", "delivered", "read"})
CM_SECRET = "load-cm-secret"
META_SECRET = "load-meta-secret"
SMS_SENDER = "TrialLoad"
# Messages per dashboard page: the most the API gives.
PAGE_SIZE = 200
# Examples of unexpected answers kept for the report (all are counted).
MAX_EXAMPLES = 20

# Operations whose latency is reported, in this order.
SIGNUP, MAIL = "signup", "read key e-mail (/_local/mail)"
MO_WON, MO_REFUSED = "webhook: whitelisted", "webhook: full or repeat"
SEND_OK, SEND_QUOTA, SEND_STRANGER = "send: accepted", "send: 429 quota used up", "send: 403 not whitelisted"
STATUS, DASHBOARD = "status (proof)", "dashboard API (proof)"
OPERATIONS = (SIGNUP, MAIL, MO_WON, MO_REFUSED, SEND_OK, SEND_QUOTA, SEND_STRANGER, STATUS, DASHBOARD)
# The ones that are the load; the rest is set-up or proof.
LOAD_OPERATIONS = (SIGNUP, MO_WON, MO_REFUSED, SEND_OK, SEND_QUOTA, SEND_STRANGER)


@dataclass(frozen=True)
class LoadConfig:
    """The shape of the load. Quotas left at None keep the product's defaults (SMS 10, WhatsApp 10, others 30)."""

    trials_in_flight: int = 4
    workers: int = 8
    # New senders racing for the slots left after the four seeds (6 by default): more than there are.
    storm_senders: int = 12
    # Seeds sending their key again during the storm: answered "already whitelisted", no second slot.
    repeats: int = 2
    over_quota: int = 3
    strangers: int = 1
    quota_sms: int | None = None
    quota_whatsapp: int | None = None
    quota_other: int | None = None

    def environment(self) -> dict[str, str]:
        env = {
            env_var("capacity_limit"): str(10**9),
            env_var("cm_webhook_secret"): CM_SECRET,
            env_var("meta_app_secret"): META_SECRET,
        }
        for name in ("quota_sms", "quota_whatsapp", "quota_other"):
            value = getattr(self, name)
            if value is not None:
                env[env_var(name)] = str(value)
        return env


@dataclass(frozen=True)
class OpStats:
    name: str
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class LoadResult:
    duration_seconds: float
    max_requests: int
    trials: int
    # The load phase: from the first sign-up to the last send's answer.
    seconds: float
    requests: int
    drain_seconds: float
    proof_requests: int
    operations: list[OpStats]
    # What was answered, e.g. "send 200", "webhook whitelist_full"; and what the proof expected in total.
    answers: Counter[str]
    expected: Counter[str]
    # Undocumented answers and failed proofs: empty when the run proved everything.
    unexpected: int
    problems: list[str]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.unexpected == 0 and not self.problems and self.trials > 0

    def op(self, name: str) -> OpStats | None:
        return next((o for o in self.operations if o.name == name), None)


class Client:
    """Keep-alive HTTP/1.1 on loopback, one connection per thread; never retries (a send is not idempotent)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.hostname != "127.0.0.1":
            raise ValueError(f"load runs on loopback only, not {base_url}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._local = threading.local()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=REQUEST_TIMEOUT_SECONDS)
            self._local.connection = connection
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._local.connection = None
            raise


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (not empty)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Recorder:
    """Latency samples per operation and every answer, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.answers: Counter[str] = Counter()
        self.unexpected = 0
        self.examples: list[str] = []

    def sample(self, operation: str, seconds: float, answer: str) -> None:
        with self._lock:
            self.samples[operation].append(seconds)
            self.answers[answer] += 1

    def surprise(self, text: str) -> None:
        with self._lock:
            self.unexpected += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(text)

    def stats(self) -> list[OpStats]:
        with self._lock:
            return [
                OpStats(
                    name,
                    len(self.samples[name]),
                    percentile(self.samples[name], 0.50) * 1000,
                    percentile(self.samples[name], 0.99) * 1000,
                    max(self.samples[name]) * 1000,
                )
                for name in OPERATIONS
                if self.samples.get(name)
            ]


class Addresses:
    """Fresh addresses, unique within the run: Dutch mobile numbers, and numeric Messenger/Instagram ids."""

    def __init__(self) -> None:
        self._numbers = itertools.count(random.randrange(10**7))
        self._lock = threading.Lock()

    def new(self, channel: Channel) -> str:
        with self._lock:
            n = next(self._numbers)
        if channel in (Channel.SMS, Channel.WHATSAPP):
            return f"+316{n % 10**8:08d}"
        return f"{7 * 10**15 + n}"


@dataclass
class TrialRun:
    """One trial's pipeline and everything the proof needs: who won a slot, what each send was answered."""

    index: int
    email: str
    key: str = ""
    seeds: dict[Channel, str] = field(default_factory=dict)
    # Who the webhooks answered "whitelisted", and how many repeats were answered "already whitelisted".
    winners: set[tuple[Channel, str]] = field(default_factory=set)
    repeats: int = 0
    accepted: dict[Channel, set[str]] = field(default_factory=lambda: defaultdict(set))
    refused_quota: Counter[Channel] = field(default_factory=Counter)
    refused_stranger: Counter[Channel] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class Load:
    """Drives one running stack; `run_trials` is the load, `drain` and `prove` come after it."""

    def __init__(self, base_url: str, config: LoadConfig) -> None:
        self.client = Client(base_url)
        self.config = config
        self.settings = SendSettings.from_env(config.environment())
        mo = MoWebhookSettings.from_env(config.environment())
        self.company: CompanyAddresses = company_addresses(mo.whatsapp_number, mo.sms_numbers)
        free_slots = self.settings.max_recipients - len(Channel)
        if config.storm_senders <= free_slots:
            raise ValueError(f"storm_senders must be more than the {free_slots} slots left after the seeds")
        self.recorder = Recorder()
        self.addresses = Addresses()
        self.trials: list[TrialRun] = []
        self._pool = ThreadPoolExecutor(config.workers, thread_name_prefix="load")
        self._done = threading.Condition()
        self._in_flight = 0
        self._requests = 0

    # --- the load ----------------------------------------------------------------------------

    def requests_per_trial(self) -> int:
        sends = sum(self.quota(c) + self.config.over_quota + self.config.strangers for c in Channel)
        return 2 + len(Channel) + self.config.storm_senders + self.config.repeats + sends

    def quota(self, channel: Channel) -> int:
        return self.settings.quota_for(channel)

    def run_trials(self, duration_seconds: float, max_requests: int) -> float:
        """Starts trials until the time or the request budget is spent (at least one); returns the load's seconds."""
        started = time.perf_counter()
        deadline = started + duration_seconds
        per_trial = self.requests_per_trial()
        for index in itertools.count():
            with self._done:
                while self._in_flight >= self.config.trials_in_flight:
                    self._done.wait()
                spent = time.perf_counter() >= deadline or self._requests + per_trial > max_requests
                if index > 0 and spent:
                    break
                self._in_flight += 1
                self._requests += per_trial
            trial = TrialRun(index=index, email=f"load-{uuid.uuid4().hex[:12]}@example.com")
            self.trials.append(trial)
            self._pool.submit(self._guarded(trial, functools.partial(self._sign_up, trial)))
        with self._done:
            while self._in_flight:
                self._done.wait()
        return time.perf_counter() - started

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _guarded(self, trial: TrialRun, step: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                step()
            except Exception as error:  # a failed request ends the trial, and is reported
                self._problem(trial, f"{type(error).__name__}: {error}")
                self._finish(trial)

        return run

    def _fan_out(self, trial: TrialRun, steps: list[Callable[[], None]], then: Callable[[], None]) -> None:
        """Runs `steps` at once on the pool; the last to finish runs `then` (the trial's next phase)."""
        if not steps:
            self._guarded(trial, then)()
            return
        left = [len(steps)]
        lock = threading.Lock()
        failed = [False]

        def one(step: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    step()
                except Exception as error:  # reported; the trial still finishes its phase
                    failed[0] = True
                    self._problem(trial, f"{type(error).__name__}: {error}")
                with lock:
                    left[0] -= 1
                    last = left[0] == 0
                if last:
                    if failed[0]:
                        self._finish(trial)
                    else:
                        self._guarded(trial, then)()

            return run

        for step in random.sample(steps, len(steps)):
            self._pool.submit(one(step))

    def _finish(self, _trial: TrialRun) -> None:
        with self._done:
            self._in_flight -= 1
            self._done.notify_all()

    def _problem(self, trial: TrialRun, text: str) -> None:
        with trial.lock:
            trial.problems.append(f"trial {trial.index}: {text}")

    def _timed(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        status, raw = self.client.request(method, path, body, headers)
        return time.perf_counter() - started, status, raw

    def _surprise(self, operation: str, status: int, raw: bytes) -> None:
        self.recorder.surprise(f"{operation}: {status} {raw[:300].decode('utf-8', 'replace')}")

    def _sign_up(self, trial: TrialRun) -> None:
        body = json.dumps({"name": f"Load {trial.index}", "email": trial.email}).encode()
        elapsed, status, raw = self._timed("POST", "/signup", body, {"Content-Type": "application/json"})
        self.recorder.sample(SIGNUP, elapsed, f"signup {status}")
        if status != 202:
            self._surprise(SIGNUP, status, raw)
            raise RuntimeError(f"sign-up answered {status}")
        elapsed, status, raw = self._timed("GET", "/_local/mail?to=" + quote(trial.email))
        self.recorder.sample(MAIL, elapsed, f"mail {status}")
        mails = _json(raw) if status == 200 else None
        keys = {k for mail in mails or [] for k in TRIAL_KEY.findall(mail.get("text", ""))}
        if len(keys) != 1:
            raise RuntimeError(f"expected one key in the e-mail to {trial.email}, found {len(keys)}")
        trial.key = keys.pop()
        trial.seeds = {channel: self.addresses.new(channel) for channel in Channel}
        steps = [self._webhook_step(trial, c, a, {"whitelisted"}) for c, a in trial.seeds.items()]
        self._fan_out(trial, steps, lambda: self._storm(trial))

    def _storm(self, trial: TrialRun) -> None:
        channels = list(Channel)
        new = [random.choice(channels) for _ in range(self.config.storm_senders)]
        steps = [self._webhook_step(trial, c, self.addresses.new(c), {"whitelisted", "whitelist_full"}) for c in new]
        repeated = [random.choice(channels) for _ in range(self.config.repeats)]
        steps += [self._webhook_step(trial, c, trial.seeds[c], {"already_whitelisted"}) for c in repeated]
        self._fan_out(trial, steps, lambda: self._sends(trial))

    def _webhook_step(self, trial: TrialRun, channel: Channel, sender: str, allowed: set[str]) -> Callable[[], None]:
        return lambda: self._webhook(trial, channel, sender, allowed)

    def _webhook(self, trial: TrialRun, channel: Channel, sender: str, allowed: set[str]) -> None:
        """The end user's message with the key, as its provider posts it: Meta signed, or CM's MO JSON for SMS."""
        via = CM if channel is Channel.SMS else META
        mo = MoRequest(channel=channel, raw_sender=sender, sender=sender, text=f"key {trial.key}", via=via)
        now = time.time()
        if via == CM:
            request = cm_request(mo, self.company, secret=CM_SECRET, reference=str(uuid.uuid4()), now=now)
        else:
            message_id = f"wamid.LOAD{uuid.uuid4().hex}" if channel is Channel.WHATSAPP else f"m_load{uuid.uuid4().hex}"
            request = meta_request(mo, self.company, app_secret=META_SECRET, message_id=message_id, now=now)
        started = time.perf_counter()
        status, raw = self.client.request("POST", request.target, request.body, dict(request.headers))
        elapsed = time.perf_counter() - started
        answer = _json(raw)
        outcomes = answer.get("outcomes") if isinstance(answer, dict) else None
        outcome = outcomes[0] if status == 200 and isinstance(outcomes, list) and len(outcomes) == 1 else None
        self.recorder.sample(MO_WON if outcome == "whitelisted" else MO_REFUSED, elapsed, f"webhook {outcome}")
        if outcome not in allowed:
            self._surprise(f"webhook ({channel.value}, expected {'/'.join(sorted(allowed))})", status, raw)
            return
        with trial.lock:
            if outcome == "whitelisted":
                trial.winners.add((channel, sender))
            elif outcome == "already_whitelisted":
                trial.repeats += 1

    def _sends(self, trial: TrialRun) -> None:
        steps: list[Callable[[], None]] = []
        for channel in Channel:
            recipients = sorted(a for c, a in trial.winners if c is channel)
            if not recipients:
                self._problem(trial, f"no recipient whitelisted on {channel.value}")
                continue
            for n in range(self.quota(channel) + self.config.over_quota):
                steps.append(self._send_step(trial, channel, recipients[n % len(recipients)], whitelisted=True))
            for _ in range(self.config.strangers):
                steps.append(self._send_step(trial, channel, self.addresses.new(channel), whitelisted=False))
        self._fan_out(trial, steps, lambda: self._finish(trial))

    def _send_step(self, trial: TrialRun, channel: Channel, to: str, *, whitelisted: bool) -> Callable[[], None]:
        return lambda: self._send(trial, channel, to, whitelisted=whitelisted)

    def _send(self, trial: TrialRun, channel: Channel, to: str, *, whitelisted: bool) -> None:
        reference = uuid.uuid4().hex
        message = {
            "allowedChannels": [channel.value],
            "from": SMS_SENDER,
            "to": [{"number": to}],
            "body": {"type": "auto", "content": f"Load test {reference[:8]}"},
            "reference": reference,
        }
        body = json.dumps({"messages": {"authentication": {"producttoken": trial.key}, "msg": [message]}}).encode()
        started = time.perf_counter()
        status, raw = self.client.request("POST", GATEWAY_PATH, body, {"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        answer = _json(raw)
        kind = _send_answer(status, answer, channel, reference)
        operation = {"accepted": SEND_OK, "quota": SEND_QUOTA, "stranger": SEND_STRANGER}.get(kind or "", SEND_OK)
        self.recorder.sample(operation, elapsed, f"send {status}")
        if kind is None or (kind == "stranger") == whitelisted:
            self._surprise(f"send ({channel.value}, {'whitelisted' if whitelisted else 'stranger'})", status, raw)
            return
        with trial.lock:
            if kind == "accepted":
                trial.accepted[channel].add(reference)
            elif kind == "quota":
                trial.refused_quota[channel] += 1
            else:
                trial.refused_stranger[channel] += 1

    # --- after the load ----------------------------------------------------------------------

    def drain(self, timeout: float = DRAIN_TIMEOUT_SECONDS) -> float:
        """Waits until the delivery queue is empty (nothing queued, in flight or backing off)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            status, raw = self.client.request("GET", "/_local/outbound")
            if status == 200 and _json(raw) == []:
                return time.perf_counter() - started
            time.sleep(0.25)
        self.recorder.surprise(f"the delivery queue was not empty {timeout:.0f} s after the load")
        return time.perf_counter() - started

    def prove(self) -> list[str]:
        """Every trial's exact counts, from the stack's own answers; the list of what does not hold."""
        problems: list[str] = []
        futures = [self._pool.submit(self._prove, trial) for trial in self.trials]
        for trial, future in zip(self.trials, futures, strict=True):
            problems += trial.problems
            problems += future.result()
        return problems

    def expected(self) -> Counter[str]:
        """What every answer should have been, in total over the trials that ran."""
        trials = len(self.trials)
        limit, seeds = self.settings.max_recipients, len(Channel)
        sends = {c: self.quota(c) + self.config.over_quota for c in Channel}
        return Counter(
            {
                "signup 202": trials,
                "webhook whitelisted": trials * limit,
                "webhook whitelist_full": trials * (self.config.storm_senders - (limit - seeds)),
                "webhook already_whitelisted": trials * self.config.repeats,
                "send 200": trials * sum(self.quota(c) for c in Channel),
                "send 429": trials * sum(sends[c] - self.quota(c) for c in Channel),
                "send 403": trials * self.config.strangers * len(Channel),
            }
        )

    def _get(self, operation: str, path: str, headers: Mapping[str, str]) -> Any:
        started = time.perf_counter()
        status, raw = self.client.request("GET", path, None, headers)
        self.recorder.sample(operation, time.perf_counter() - started, f"proof {status}")
        if status != 200:
            raise RuntimeError(f"GET {path.partition('?')[0]} answered {status}: {raw[:200]!r}")
        return _json(raw)

    def _prove(self, trial: TrialRun) -> list[str]:
        if not trial.key:
            return []
        name = f"trial {trial.index}"
        limit = self.settings.max_recipients
        found: list[str] = []

        def check(holds: bool, what: str) -> None:
            if not holds:
                found.append(f"{name}: {what}")

        winners = {(c.value, a) for c, a in trial.winners}
        check(len(winners) == limit, f"{len(winners)} webhooks answered whitelisted, not {limit}")
        check(trial.repeats == self.config.repeats, f"{trial.repeats} repeats answered already whitelisted")
        for channel in Channel:
            quota = self.quota(channel)
            accepted = len(trial.accepted[channel])
            check(accepted == quota, f"{accepted} sends accepted on {channel.value}, quota {quota}")
            over = trial.refused_quota[channel]
            check(over == self.config.over_quota, f"{over} sends refused 429 on {channel.value}")
            strangers = trial.refused_stranger[channel]
            check(strangers == self.config.strangers, f"{strangers} sends refused 403 on {channel.value}")

        status = self._get(STATUS, STATUS_PATH, {"X-CM-PRODUCTTOKEN": trial.key})
        for row in status["channels"]:
            channel = Channel(row["channel"])
            quota = self.quota(channel)
            check(row["quota"] == quota, f"status quota {row['quota']} on {channel.value}, expected {quota}")
            check(row["sent"] == quota and row["remaining"] == 0, f"status {row} on {channel.value}")
        listed = {(r["channel"], r["recipient"]) for r in status["whitelist"]["recipients"]}
        check(listed == winners, f"status whitelist {sorted(listed)} is not the winners {sorted(winners)}")

        bearer = {"Authorization": f"Bearer {trial.key}"}
        whitelist = self._get(DASHBOARD, "/dashboard-api/whitelist", bearer)
        shown = {(r["channel"], r["recipient"]) for r in whitelist["recipients"]}
        check(shown == winners and whitelist["max"] == limit, f"dashboard whitelist {sorted(shown)}")

        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        pages: list[tuple[int, str | None]] = []
        while True:
            query = f"?limit={PAGE_SIZE}" + ("" if cursor is None else "&cursor=" + quote(cursor))
            page = self._get(DASHBOARD, "/dashboard-api/messages" + query, bearer)
            messages += page["messages"]
            pages.append((len(page["messages"]), cursor))
            cursor = page.get("next")
            if not cursor:
                break
        # Every message on exactly one page: pages neither overlap nor skip (the counts below find a gap).
        repeated = sorted(i for i, n in Counter(m["id"] for m in messages).items() if n > 1)
        check(not repeated, f"{len(repeated)} messages on more than one page {pages}, e.g. {repeated[:3]}")
        messages = list({m["id"]: m for m in messages}.values())
        inbound = [m for m in messages if m["direction"] == "inbound"]
        # Whitelisting and repeated keys are recorded; a sender the full whitelist turned away is not.
        check(len(inbound) == limit + trial.repeats, f"{len(inbound)} inbound messages recorded")
        for channel in Channel:
            _check_listed(messages, trial, channel, check)
        return found


def _check_listed(
    messages: list[dict[str, Any]], trial: TrialRun, channel: Channel, check: Callable[[bool, str], None]
) -> None:
    """The dashboard's outbound messages on `channel`: every accepted send, delivered, and every refused one (issue
    17: listed as `refused` with its answer's errorCode, never as sent)."""
    listed = [m for m in messages if m["direction"] == "outbound" and m["channel"] == channel.value]
    outbound = [m for m in listed if m["status"] != "refused"]
    refused = Counter(m["errorCode"] for m in listed if m["status"] == "refused")
    expected = Counter({answers.CODE_BALANCE: trial.refused_quota[channel]})
    expected[answers.CODE_INVALID_TO] += trial.refused_stranger[channel]
    check(+refused == +expected, f"refused sends listed on {channel.value}: {dict(refused)}, not {dict(expected)}")
    references = [m["json"]["messages"]["msg"][0].get("reference") for m in outbound]
    check(
        sorted(references) == sorted(trial.accepted[channel]),
        f"{len(outbound)} messages recorded on {channel.value} for {len(trial.accepted[channel])} accepted",
    )
    undelivered = Counter(m["status"] for m in outbound if m["status"] not in DELIVERED)
    check(not undelivered, f"messages on {channel.value} not delivered: {dict(undelivered)}")


def _send_answer(status: int, answer: Any, channel: Channel, reference: str) -> str | None:
    """`accepted`, `quota` (row 13) or `stranger` (row 12) when the answer is exactly the documented one, else None."""
    if not isinstance(answer, dict) or not isinstance(answer.get("messages"), list):
        return None
    first = answer["messages"][0] if answer["messages"] else {}
    if status == 200 and answer.get("errorCode") == answers.CODE_OK and answer.get("details") == answers.CREATED_ONE:
        return "accepted" if first.get("status") == "Accepted" and first.get("reference") == reference else None
    quota_text = answers.QUOTA_USED_UP.replace("[channel]", channel.value)
    if status == 429 and answer.get("errorCode") == answers.CODE_BALANCE and answer.get("details") == quota_text:
        return "quota"
    if status == 403 and answer.get("errorCode") == answers.CODE_INVALID_TO and first.get("status") == "Rejected":
        return "stranger" if "is not whitelisted" in str(answer.get("details")) else None
    return None


def run(
    duration_seconds: float = DEFAULT_DURATION_SECONDS,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    config: LoadConfig | None = None,
) -> LoadResult:
    """Starts a local stack of its own, runs the load against it, proves the counts, stops the stack."""
    config = config or LoadConfig()
    try:
        with start_local_stack(config.environment()) as stack:
            load = Load(stack.url, config)
            try:
                seconds = load.run_trials(duration_seconds, max_requests)
                # The API's requests: the local helper that reads the e-mail is not one.
                requests = sum(len(load.recorder.samples[name]) for name in LOAD_OPERATIONS)
                drain_seconds = load.drain()
                problems = load.prove()
                proof_requests = sum(len(load.recorder.samples[name]) for name in (STATUS, DASHBOARD))
            finally:
                load.close()
    except pytest.fail.Exception as error:
        # The stack did not start (the fixture helper reports it the pytest way).
        raise RuntimeError(str(error)) from error
    recorder = load.recorder
    answered = Counter({k: v for k, v in recorder.answers.items() if not k.startswith(("mail", "proof"))})
    expected = load.expected()
    for name, count in expected.items():
        if answered[name] != count:
            problems.append(f"{answered[name]} answers '{name}', expected {count}")
    for name in sorted(set(answered) - set(expected)):
        problems.append(f"{answered[name]} undocumented answers '{name}'")
    return LoadResult(
        duration_seconds=duration_seconds,
        max_requests=max_requests,
        trials=len(load.trials),
        seconds=seconds,
        requests=requests,
        drain_seconds=drain_seconds,
        proof_requests=proof_requests,
        operations=recorder.stats(),
        answers=answered,
        expected=expected,
        unexpected=recorder.unexpected,
        problems=[*recorder.examples, *problems],
    )


def print_result(result: LoadResult) -> None:
    print(
        f"\nLoad: local stack on loopback, {result.trials} trials in {result.seconds:.1f} s "
        f"({result.requests} requests, {result.throughput:.0f} requests/s; delivery queue drained "
        f"{result.drain_seconds:.1f} s later; {os.cpu_count()} cores shared by client and stack)"
    )
    print(f"{'operation':<34}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for op in result.operations:
        print(f"{op.name:<34}{op.count:>10}{op.p50_ms:>9.1f}{op.p99_ms:>9.1f}{op.max_ms:>9.1f}")
    shown = ", ".join(f"{name} {result.answers[name]}/{count}" for name, count in sorted(result.expected.items()))
    print(f"answers (got/expected): {shown}")
    verdict = "proved exact" if result.ok else f"NOT PROVED ({result.unexpected} unexpected answers)"
    print(f"quotas and whitelist: {verdict}")
    for problem in result.problems[:MAX_EXAMPLES]:
        print(f"  - {problem}")


def report(duration_seconds: float = DEFAULT_DURATION_SECONDS) -> list[dict[str, object]]:
    result = run(duration_seconds)
    print_result(result)
    rows: list[dict[str, object]] = [
        {
            "name": "all API requests",
            "requests": result.requests,
            "seconds": round(result.seconds, 2),
            "requests_per_second": round(result.throughput, 1),
            "trials": result.trials,
            "drain_seconds": round(result.drain_seconds, 2),
            "proved": result.ok,
            "unexpected": result.unexpected,
            "problems": result.problems[:MAX_EXAMPLES],
            "answers": dict(result.answers),
            "expected": dict(result.expected),
        }
    ]
    rows += [
        {
            "name": op.name,
            "requests": op.count,
            "p50_ms": round(op.p50_ms, 1),
            "p99_ms": round(op.p99_ms, 1),
            "max_ms": round(op.max_ms, 1),
        }
        for op in result.operations
    ]
    return rows


def _main(argv: Iterable[str]) -> int:
    args = list(argv)
    result = run(float(args[0]) if args else DEFAULT_DURATION_SECONDS)
    print_result(result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
