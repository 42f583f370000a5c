"""Starts and stops the local stack: moto, the environment, the resources, the HTTP server, the queue pumps.

Order matters: the HTTP port is bound first (a busy port fails fast), boto3 is pointed at moto and
every function's environment is set before any handler is imported, and requests are served only
once the resources exist (the server's backlog holds early connections until then). The schedules and the
pumps (SQS event sources) stop first, so no invocation is cut off by moto going away under it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from infra.local.banner import render_banner
from infra.local.environment import (
    REGION,
    EnvironmentConflict,
    apply_aws_environment,
    overrides,
    process_environment,
    table_names,
    webhook_secret_defaults,
)
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.mo import MoSimulator, company_addresses
from infra.local.moto_backend import MotoBackend
from infra.local.pump import Pumps, pumps_for
from infra.local.resources import Resources, provision
from infra.local.sandbox_statuses import SandboxStatuses
from infra.local.schedule import Schedules, schedules_for
from infra.local.server import LocalAws, LocalGateway, LocalHttpServer
from infra.local.static import StaticSite
from infra.site_rules import trial_rules
from infra.topology import FUNCTIONS, ROUTES, WEB_DIR
from trialgw import names
from trialgw.providers.sandbox.delivery import DELIVERIES
from trialgw.settings import MoWebhookSettings, SignupSettings, TrialSettings

HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _say(text: str) -> None:
    print(text, flush=True)


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError(f"PORT must be 0-65535, got {port}")
    return port


def _install_signal_handlers(stop: threading.Event) -> None:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            # A second Ctrl-C while stopping: the user wants out now.
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _mo_simulator(functions: FunctionHost, resources: Resources, moto: MotoBackend) -> MoSimulator:
    """`/_local/mo`, signing and addressing with the same settings the MO function reads; two-way SMS published to
    its topic, whose queue's consumer answers."""
    import boto3

    settings = MoWebhookSettings.from_env(os.environ)
    outbound = resources.queue(names.OUTBOUND.logical)
    topic = resources.topic(names.TWO_WAY_SMS.logical)
    sms_queue = next(queue.logical for queue in names.QUEUES if topic.logical in queue.topics)
    sns = boto3.client("sns")
    return MoSimulator(
        company=company_addresses(settings.whatsapp_number, settings.sms_numbers),
        cm_webhook_secret=settings.cm_webhook_secret or "",
        meta_app_secret=settings.meta_app_secret or "",
        publish=lambda message: sns.publish(TopicArn=topic.arn, Message=message),
        listen=functions.listen,
        sms_consumer=next((f.name for f in FUNCTIONS if sms_queue in f.consumes), None),
        peek=lambda: moto.peek(outbound.name),
    )


def main() -> int:
    from pydantic import ValidationError

    try:
        port = _port(os.environ.get("PORT", str(DEFAULT_PORT)))
    except ValueError as error:
        print(f"trialgw local: {error}", file=sys.stderr)
        return 2
    try:
        http = LocalHttpServer(HOST, port)
    except OSError as error:
        print(
            f"trialgw local: cannot listen on {HOST}:{port} ({error.strerror}); set PORT to a free port.",
            file=sys.stderr,
        )
        return 1
    base_url = f"http://{HOST}:{http.port}"
    # What the tester set, read before the stack fills in every default.
    user_settings = overrides(os.environ)
    stop = threading.Event()
    _install_signal_handlers(stop)
    outbox = MailOutbox(echo=_say)
    moto = MotoBackend(outbox, host=HOST)
    serving: threading.Thread | None = None
    pumps: Pumps | None = None
    schedules = Schedules(())
    try:
        moto_endpoint = moto.start()
        apply_aws_environment(os.environ, moto_endpoint)
        os.environ.update(webhook_secret_defaults(os.environ))
        os.environ.update(process_environment(FUNCTIONS, base_url))
        resources = provision(FUNCTIONS, os.environ)
        # Queue URLs exist only now; handlers read them on first use, after this.
        os.environ.update(resources.environment())
        functions = FunctionHost(FUNCTIONS)
        outbound_queue = resources.queue(names.OUTBOUND.logical).name
        http.gateway = LocalGateway(
            routes=ROUTES,
            functions=functions,
            site=StaticSite(WEB_DIR),
            outbox=outbox,
            base_url=base_url,
            mo=_mo_simulator(functions, resources, moto),
            outbound=lambda: moto.peek(outbound_queue),
            deliveries=DELIVERIES.entries,
            statuses=SandboxStatuses(
                DELIVERIES.entries,
                table_names(os.environ)[names.MESSAGES.logical],
                webhook_events_queue_url=resources.queue(names.WEBHOOK_EVENTS.logical).url,
            ),
            aws=LocalAws(endpoint=moto_endpoint, region=REGION, tables=table_names(os.environ)),
            trial=trial_rules(TrialSettings.from_env(os.environ)),
        )
        serving = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.2}, name="http")
        serving.start()
        # Like each SQS event source mapping: the consuming function gets the queue's batches.
        pumps = pumps_for(FUNCTIONS, resources, functions.invoke)
        pumps.start()
        # Like each EventBridge schedule.
        schedules = schedules_for(FUNCTIONS, functions.invoke)
        schedules.start()
        _say(
            render_banner(
                base_url=base_url,
                routes=ROUTES,
                resources=resources,
                pumps=[(pump.queue.name, pump.function) for pump in pumps],
                schedules=[(schedule.function, schedule.interval_seconds) for schedule in schedules.schedules],
                overrides=user_settings,
                moto_endpoint=moto_endpoint,
                signup=SignupSettings.from_env(os.environ),
                webhook_secrets={
                    name: value or ""
                    for name, value in MoWebhookSettings.from_env(os.environ)
                    .model_dump(include={"cm_webhook_secret", "meta_app_secret", "meta_verify_token"})
                    .items()
                },
            )
        )
        # Polling keeps the main thread free to run the signal handler.
        while not stop.wait(0.5):
            pass
    except (ValidationError, EnvironmentConflict) as error:
        print(f"trialgw local: invalid settings in the environment:\n{error}", file=sys.stderr)
        return 2
    finally:
        schedules.stop()
        if pumps is not None:
            pumps.stop()
        if serving is not None:
            http.shutdown()
            serving.join(timeout=5)
        http.server_close()
        moto.stop()
    _say("trialgw local stack stopped.")
    return 0
