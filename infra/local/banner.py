"""The start-up banner: where everything is, what is real and what is not, and how to stop."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from infra.local.mo import EXAMPLE
from infra.local.resources import Resources
from infra.topology import RouteDef
from trialgw import names
from trialgw.channels import channels
from trialgw.logic.trial_email import humanize_seconds
from trialgw.settings import SignupSettings


def render_banner(
    *,
    base_url: str,
    routes: Iterable[RouteDef],
    resources: Resources,
    overrides: Mapping[str, str],
    moto_endpoint: str,
    webhook_secrets: Mapping[str, str] | None = None,
    pumps: Sequence[tuple[str, str]] = (),
    schedules: Sequence[tuple[str, float]] = (),
    signup: SignupSettings | None = None,
) -> str:
    """`pumps`: (queue name, consuming function) of each running queue pump; `schedules`: (function, seconds between
    runs) of each scheduled function; `signup`: the sign-up limits in force."""
    route_lines = [f"    {r.method:<7} {base_url}{r.path}   ({r.function})" for r in routes]
    override_lines = [f"    {name}={value}" for name, value in sorted(overrides.items())] or ["    (none)"]
    lines = [
        "",
        "trialgw local stack is running",
        "",
        f"  Signup page      {base_url}/",
        f"  End user's phone {base_url}/_local/phone   (send messages as an end user, see the replies)",
        f"  Webhook receiver {base_url}/_local/receiver   (what your trial's webhooks posted, signatures checked)",
        f"                   use {base_url}/_local/receiver/inbound and {base_url}/_local/receiver/status as the",
        "                   dashboard's webhook URLs (add ?status=500 to watch the retries)",
        f"  Gateway (API)    {base_url}",
        f"  Send             POST {base_url}/messaging/messagingtrial/gw/   (CM JSON, key in X-CM-PRODUCTTOKEN)",
        f"  Sign up by API   POST {base_url}/signup",
        f"  Sent e-mail      GET  {base_url}/_local/mail   (?to=<address> to filter)",
        f"  Delivered        GET  {base_url}/_local/deliveries   (?to=<address>: what end users received)",
        *_inbound_lines(base_url, resources, webhook_secrets or {}),
        *_outbound_lines(base_url, resources, pumps),
        *_schedule_lines(schedules),
        "",
        "  Routes:",
        *route_lines,
        "",
        *_signup_lines(signup),
        "  E-mail is captured, never delivered: it is printed here and listed at /_local/mail.",
        f"  Senders verified in SES: {', '.join(resources.senders) or '(none)'}",
        f"  State (tables {', '.join(resources.tables)}, e-mail) lives in memory: it is gone when this stops.",
        f"  AWS services: moto at {moto_endpoint}   (GET {base_url}/_local/aws; trialgw-admin ... --local)",
        "  Settings from your environment:",
        *override_lines,
        "",
        "  Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


def _inbound_lines(base_url: str, resources: Resources, secrets: Mapping[str, str]) -> list[str]:
    """Where end users' messages come in, with the (local, made-up unless set) webhook secrets."""
    cm_secret = secrets.get("cm_webhook_secret", "")
    # The example's channel first, then the rest in registry order.
    example = EXAMPLE["channel"]
    listed = " | ".join([example, *(c.value for c in channels() if c.value != example)])
    lines = [
        "",
        "  Inbound (MO) messages from end users:",
        f"    As an end user   POST {base_url}/_local/mo   " + json.dumps(EXAMPLE),
        f'                     (channel {listed}; "via": cm for CM\'s webhook)',
        f"    CM webhook       POST {base_url}/webhooks/cm/{quote(cm_secret, safe='')}",
        f"    Meta webhook     GET|POST {base_url}/webhooks/meta",
        f"    Meta verify token  {secrets.get('meta_verify_token', '')}",
        f"    Meta app secret    {secrets.get('meta_app_secret', '')}   (signs X-Hub-Signature-256)",
    ]
    carries = {topic.logical: topic.carries for topic in names.TOPICS}
    queues = {topic: queue.local_name for queue in names.QUEUES for topic in queue.topics}
    lines += [
        f"    SNS topic        {topic.name}   ({topic.arn}): {carries[topic.logical]}"
        + (f", to the queue {queues[topic.logical]}" if topic.logical in queues else "")
        for topic in resources.topics
    ]
    return lines


def _outbound_lines(base_url: str, resources: Resources, pumps: Sequence[tuple[str, str]]) -> list[str]:
    """Each queue, the function its pump feeds, and its dead-letter queue (and who consumes that)."""
    consumers = dict(pumps)
    lines = [
        "",
        "  Queues (outbound: accepted sends and replies, each channel's provider delivers, sandbox by default):",
    ]
    for queue in resources.queues:
        peek = f"   GET {base_url}/_local/outbound" if queue.logical == names.OUTBOUND.logical else ""
        lines.append(f"    Queue            {queue.name}{peek}   (waiting, not yet processed)")
        consumer = consumers.get(queue.name)
        lines.append(
            f"    Pump             {queue.name} -> {consumer}   (batches of 10, partial batch failures, as Lambda)"
            if consumer
            else "    Pump             none: nothing consumes this queue"
        )
        dead_consumer = consumers.get(queue.dead_letter_name)
        lines.append(
            f"    Dead letters     {queue.dead_letter_name}   (after {queue.max_receive_count} receives; "
            "TRIALGW_DELIVERY_MAX_ATTEMPTS)" + (f" -> {dead_consumer}" if dead_consumer else "")
        )
    return lines


def _schedule_lines(schedules: Sequence[tuple[str, float]]) -> list[str]:
    if not schedules:
        return []
    return [
        "",
        "  Scheduled (as EventBridge rules):",
        *(f"    {function:<16} every {humanize_seconds(int(seconds))}" for function, seconds in schedules),
    ]


def _signup_lines(signup: SignupSettings | None) -> list[str]:
    """The sign-up limits, and why two of them are loose here."""
    if signup is None:
        return []
    every = humanize_seconds(signup.signup_window_seconds)
    return [
        f"  Sign-up limits: {signup.signup_limit_per_window} per mailbox, {signup.signup_limit_per_ip} per client IP "
        f"and {signup.signup_limit_per_domain} per e-mail domain every {every}; {signup.signup_limit_global} an hour "
        "overall.",
        "    Per IP and per domain are loose here: every request comes from 127.0.0.1 (AWS: docs/security.md).",
    ]
