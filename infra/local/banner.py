"""The start-up banner: where everything is, what is real and what is not, and how to stop."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infra.local.resources import Resources
from infra.topology import RouteDef


def render_banner(
    *,
    base_url: str,
    routes: Iterable[RouteDef],
    resources: Resources,
    overrides: Mapping[str, str],
    moto_endpoint: str,
) -> str:
    route_lines = [f"    {r.method:<7} {base_url}{r.path}   ({r.function})" for r in routes]
    override_lines = [f"    {name}={value}" for name, value in sorted(overrides.items())] or ["    (none)"]
    lines = [
        "",
        "trialgw local stack is running",
        "",
        f"  Signup page      {base_url}/",
        f"  Gateway (API)    {base_url}",
        f"  Sign up by API   POST {base_url}/signup",
        f"  Sent e-mail      GET  {base_url}/_local/mail   (?to=<address> to filter)",
        "",
        "  Routes:",
        *route_lines,
        "",
        "  E-mail is captured, never delivered: it is printed here and listed at /_local/mail.",
        f"  Senders verified in SES: {', '.join(resources.senders) or '(none)'}",
        f"  State (tables {', '.join(resources.tables)}, e-mail) lives in memory: it is gone when this stops.",
        f"  AWS services: moto at {moto_endpoint}",
        "  Settings from your environment:",
        *override_lines,
        "",
        "  Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)
