"""Logging, metrics and tracing (Powertools), and the masking of personal data in logs.

Log structured fields, never f-strings; e-mail addresses, phone numbers and client IPs go through `mask_*`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

# Cheap to build; the service name comes from POWERTOOLS_SERVICE_NAME per function.
logger = Logger()
metrics = Metrics(namespace="trialgw")


def tracing_enabled() -> bool:
    """Whether this process traces: Powertools' own rule (in Lambda, unless POWERTOOLS_TRACE_DISABLED is true), read
    without building a Tracer, whose construction imports the X-Ray SDK even when tracing is off."""
    return not Tracer._is_tracer_disabled()  # the rule Tracer() itself applies


@cache
def tracer() -> Tracer:
    """The process's Tracer, built (and the X-Ray SDK imported) on first use."""
    return Tracer()


_PHONE_DIGITS = re.compile(r"\d")


def lambda_entry(handler: Handler) -> Handler:
    """Every function's entry point, observed the same way: the invocation's context in each log line (state cleared
    between invocations), a trace that never holds the response (answers carry trial keys: curl examples, wa.me
    links), and the invocation's metrics flushed as it ends. With tracing off (outside Lambda, or
    POWERTOOLS_TRACE_DISABLED) there is no Tracer at all, and no X-Ray SDK import."""
    measured = metrics.log_metrics(handler)
    traced = tracer().capture_lambda_handler(capture_response=False)(measured) if tracing_enabled() else measured
    logged: Handler = logger.inject_lambda_context(clear_state=True)(traced)
    return logged


def mask_email(address: str) -> str:
    """`jane.doe@example.com` → `j***@e***.com`: enough to tell addresses apart, not to use one."""
    local, sep, domain = address.partition("@")
    if not sep:
        return "***"
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***{dot}{tld}" if dot else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def mask_phone(number: str) -> str:
    """`+31612345678` → `+316******78`: country and last two digits stay, for support."""
    digits = _PHONE_DIGITS.findall(number)
    if len(digits) < 6:
        return "***"
    prefix = "+" if number.startswith("+") else ""
    return f"{prefix}{''.join(digits[:3])}{'*' * (len(digits) - 5)}{''.join(digits[-2:])}"


# How much of a client address `mask_ip` keeps: the network a person shares with their neighbours, not their host.
MASKED_IPV4_PREFIX = 24
MASKED_IPV6_PREFIX = 48


def mask_ip(address: str) -> str:
    """`203.0.113.77` → `203.0.113.0/24`, `2001:db8:1:2::5` → `2001:db8:1::/48`: enough to see that sign-ups
    came from one network, not to find the person."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "***"
    prefix = MASKED_IPV4_PREFIX if ip.version == 4 else MASKED_IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
