"""Sign-up: count it against every limit, create the trial, e-mail its key; leave nothing usable behind on failure.

A sign-up e-mails whatever address a stranger typed, so it is limited per mailbox (however it is spelled), per
client network, per e-mail domain and overall; the counts are taken together or not at all, and a sign-up that
fails afterwards gives them back.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from trialgw.errors import DependencyUnavailable, JoinCodeTaken, MailError, RateLimited, StoreError
from trialgw.join_codes import hash_join_code, join_code
from trialgw.keys import hash_key, new_key
from trialgw.logic.trial_email import render_trial_email
from trialgw.mailbox import canonical_mailbox, is_shared_provider, registrable_domain
from trialgw.models import Trial
from trialgw.observability import logger, mask_email, mask_ip
from trialgw.ports import Clock, Mailer, SignupCount, SignupCounter, TrialStore
from trialgw.settings import SignupSettings

if TYPE_CHECKING:
    from trialgw.signup_input import SignupRequest


class SignupDeps(NamedTuple):
    trials: TrialStore
    counter: SignupCounter
    mailer: Mailer
    clock: Clock


class SignupResult(NamedTuple):
    masked_email: str
    expires_at: datetime


class SignupLimit(StrEnum):
    """What a sign-up is counted against, most personal first (the order a refusal is explained in)."""

    MAILBOX = "mailbox"
    NETWORK = "ip"
    DOMAIN = "domain"
    GLOBAL = "global"


# The overall ceiling counts per hour, whatever the per-person window: it protects the mail sender's reputation.
GLOBAL_WINDOW_SECONDS = 3600
# IPv6 hands one subscriber a /64: counting single addresses would give one person 2^64 of them.
IPV6_COUNTED_PREFIX = 64
UNAVAILABLE = "Sign-up is temporarily unavailable. Please try again shortly."
# Keys drawn when a join code is taken: each draw collides with a chance of about 1 in 7 million.
JOIN_CODE_ATTEMPTS = 3


def _hash(text: str) -> str:
    # Counters are keyed by hashes, so their items hold no address.
    return hashlib.sha256(text.encode()).hexdigest()


def client_network(client_ip: str | None) -> str | None:
    """The network one client counts as: its IPv4 address, or its IPv6 /64; None when there is no valid address."""
    if not client_ip:
        return None
    try:
        ip = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return None
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_COUNTED_PREFIX}", strict=False))
    return str(ip)


def signup_counts(
    request: SignupRequest, client_ip: str | None, now: int, settings: SignupSettings
) -> list[SignupCount]:
    """The counters one sign-up is counted in (see `SignupSettings`)."""
    window = settings.signup_window_seconds
    start = now - now % window

    def per(limit: SignupLimit, subject: str, allowed: int) -> SignupCount:
        return SignupCount(limit.value, _hash(subject), start, window, allowed)

    counts = [per(SignupLimit.MAILBOX, canonical_mailbox(request.email), settings.signup_limit_per_window)]
    network = client_network(client_ip)
    if network is not None:
        counts.append(per(SignupLimit.NETWORK, network, settings.signup_limit_per_ip))
    if not is_shared_provider(request.email):
        counts.append(per(SignupLimit.DOMAIN, registrable_domain(request.email), settings.signup_limit_per_domain))
    hour = now - now % GLOBAL_WINDOW_SECONDS
    counts.append(
        SignupCount(SignupLimit.GLOBAL.value, "all", hour, GLOBAL_WINDOW_SECONDS, settings.signup_limit_global)
    )
    return counts


def _wait(seconds: int) -> str:
    """3500 → '59 minutes', 7200 → '2 hours': the wait in words, rounded up."""
    minutes = max(1, -(-seconds // 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    return f"{hours} hours"


def _refusal(full: list[SignupCount], request: SignupRequest, now: int) -> RateLimited:
    """The answer to a sign-up some counters refused: the most personal reason, and the wait until all allow it."""
    retry_after = max(count.window_start + count.window_seconds - now for count in full)
    kinds = {SignupLimit(count.kind) for count in full}
    reason = next(limit for limit in SignupLimit if limit in kinds)
    wait = _wait(retry_after)
    messages = {
        SignupLimit.MAILBOX: f"Too many sign-ups for this e-mail address. Please try again in {wait}, or use the key "
        "we already sent you.",
        SignupLimit.NETWORK: f"Too many sign-ups from your network. Please try again in {wait}.",
        SignupLimit.DOMAIN: f"Too many sign-ups with e-mail addresses at {registrable_domain(request.email)}. "
        f"Please try again in {wait}.",
        SignupLimit.GLOBAL: "The trial is taking no more sign-ups this hour: many developers signed up already. "
        f"Please try again in {wait}.",
    }
    return RateLimited(messages[reason], retry_after_seconds=retry_after, limit=reason.value)


def sign_up(
    request: SignupRequest, settings: SignupSettings, deps: SignupDeps, *, client_ip: str | None = None
) -> SignupResult:
    """Creates a trial and e-mails its key. Raises RateLimited or DependencyUnavailable."""
    now = int(deps.clock())
    masked = mask_email(request.email)
    counts = signup_counts(request, client_ip, now, settings)

    try:
        full = deps.counter.acquire(counts)
    except StoreError as error:
        raise DependencyUnavailable(UNAVAILABLE) from error
    if full:
        refusal = _refusal(full, request, now)
        logger.info(
            "signup rate-limited",
            extra={"email": masked, "limit": refusal.limit, "retry_after": refusal.retry_after_seconds},
        )
        raise refusal

    try:
        key, trial = _create_trial(request, settings, deps, now=now, client_ip=client_ip)
    except StoreError as error:
        _give_back(deps, counts)
        raise DependencyUnavailable(UNAVAILABLE) from error

    try:
        deps.mailer.send(render_trial_email(trial, key, settings))
    except MailError as error:
        _discard_trial(deps, trial, key)
        _give_back(deps, counts)
        raise DependencyUnavailable(
            "We could not send your e-mail right now, so no trial was created. Please try again shortly."
        ) from error

    logger.info("trial created", extra={"email": masked, "expires_at": trial.expires_at})
    return SignupResult(masked_email=masked, expires_at=trial.expires_at_utc)


def _create_trial(
    request: SignupRequest, settings: SignupSettings, deps: SignupDeps, *, now: int, client_ip: str | None
) -> tuple[str, Trial]:
    """A new key and its trial, stored with its join code's lookup item in one write. A code another trial holds
    (1 in millions: trialgw.join_codes) is refused by that write, and another key (so another code) is drawn."""
    for _attempt in range(JOIN_CODE_ATTEMPTS):
        key = new_key()
        trial = Trial(
            key_hash=hash_key(key),
            name=request.name,
            email=request.email,
            company=request.company,
            created_at=now,
            expires_at=now + settings.trial_lifetime_seconds,
            signup_network=mask_ip(client_ip) if client_ip and client_network(client_ip) else None,
        )
        try:
            deps.trials.create(
                trial,
                ttl=trial.expires_at + settings.expired_retention_seconds,
                join_hash=hash_join_code(join_code(key)),
            )
        except JoinCodeTaken:
            logger.warning("a new trial's join code was taken; drawing another key")
            continue
        return key, trial
    raise StoreError("no free join code")


def _discard_trial(deps: SignupDeps, trial: Trial, key: str) -> None:
    try:
        deps.trials.delete(trial.key_hash, join_hash=hash_join_code(join_code(key)))
    except StoreError:
        # Harmless: the key exists nowhere but in the e-mail that was never sent, so nobody can use
        # this trial, and TTL removes it.
        logger.warning("could not discard an unsent trial; TTL will remove it")


def _give_back(deps: SignupDeps, counts: list[SignupCount]) -> None:
    try:
        deps.counter.release(counts)
    except StoreError:
        logger.warning("could not give back a signup count; it expires with its window")


__all__ = ["SignupDeps", "SignupLimit", "SignupResult", "client_network", "sign_up", "signup_counts"]
