"""The REST API (regional): one method per `topology.ROUTES` entry, each a Lambda proxy integration."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import api_errors
from infra.constructs import acknowledge, acknowledge_scan
from infra.topology import RouteDef, RouteGroup
from trialgw.http import CORS_ALLOW_HEADERS, CORS_MAX_AGE_SECONDS

Field = apigateway.AccessLogField
# One JSON object per request. Deliberately absent: headers (the trial key may ride in
# X-CM-PRODUCTTOKEN or Authorization), bodies, query strings, and $context.path, which would
# carry the CM webhook's path secret; `resourcePath` is the route template instead.
ACCESS_LOG_FORMAT = {
    "requestId": Field.context_request_id(),
    "requestTime": Field.context_request_time(),
    "ip": Field.context_identity_source_ip(),
    "userAgent": Field.context_identity_user_agent(),
    "httpMethod": Field.context_http_method(),
    "resourcePath": Field.context_resource_path(),
    "protocol": Field.context_protocol(),
    "status": Field.context_status(),
    "responseLength": Field.context_response_length(),
    "responseLatency": Field.context_response_latency(),
    "integrationStatus": Field.context_integration_status(),
    "integrationLatency": Field.context_integration_latency(),
    "errorMessage": Field.context_error_message(),
    "wafResponseCode": Field.context_waf_response_code(),
    "xrayTraceId": Field.context_xray_trace_id(),
}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# What every method of the stage gets besides its throttling: errors only, never request/response data
# (bodies carry trial keys), metrics. A method's own MethodSettings entry repeats them, so giving a
# method its route group's throttling changes nothing else about it.
LOGGING_LEVEL = apigateway.MethodLoggingLevel.ERROR
DATA_TRACE_ENABLED = False
METRICS_ENABLED = True


def method_throttling(
    routes: Sequence[RouteDef], throttling: Mapping[RouteGroup, apigateway.ThrottleSettings]
) -> dict[str, apigateway.MethodDeploymentOptions]:
    """The stage's per-method settings (`/<path>/<METHOD>`): each route's method gets its group's figures.

    API Gateway keeps one token bucket per method of a stage, and a method's own setting replaces the
    stage default for it, so a flood on one route uses up only its own bucket, never another route's.
    """
    options: dict[str, apigateway.MethodDeploymentOptions] = {}
    for route in routes:
        if route.group is None:
            raise ValueError(f"route {route.method} {route.path} has no throttling group (topology.ROUTES)")
        figures = throttling[route.group]
        options[f"{route.path.rstrip('/')}/{route.method}"] = apigateway.MethodDeploymentOptions(
            throttling_rate_limit=figures.rate_limit,
            throttling_burst_limit=figures.burst_limit,
            logging_level=LOGGING_LEVEL,
            data_trace_enabled=DATA_TRACE_ENABLED,
            metrics_enabled=METRICS_ENABLED,
        )
    return options


class Api(Construct):
    """The API and its stage: throttled per route group, access-logged, not traced (see `tracing_enabled`).

    `origin` and `url` are built from the API's id (or its custom domain) rather than taken from the
    stage, so functions can name the API (for the curl examples they show) without depending on the
    deployment that in turn depends on them. `routes` are known from the start (their throttling is a
    stage setting); their methods are added by `add_routes` once the functions exist.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        routes: Sequence[RouteDef],
        throttle_rate_limit: float,
        throttle_burst_limit: int,
        route_throttling: Mapping[RouteGroup, apigateway.ThrottleSettings],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (domain_name is None) != (certificate_arn is None):
            raise ValueError("a custom domain needs both its name and its certificate's ARN")
        self.stage_name = stage_name
        self.routes = tuple(routes)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            description="trialgw: signup, the trial gateway, webhooks and the dashboard API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # API Gateway writes to CloudWatch Logs (access and execution logs) only through the
            # account's API Gateway CloudWatch role; kept on delete, other APIs may rely on it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=stage_name,
                # The default of every method without one of its own: the CORS preflights (OPTIONS).
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
                method_options=method_throttling(self.routes, route_throttling),
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
                logging_level=LOGGING_LEVEL,
                data_trace_enabled=DATA_TRACE_ENABLED,
                metrics_enabled=METRICS_ENABLED,
                # Off: API Gateway's trace segments record the full request URL, and the CM webhooks
                # carry their secret in the path (/webhooks/cm/{secret}). The functions still trace
                # (Lambda active tracing and Powertools); a Lambda segment carries no request URL.
                tracing_enabled=False,
            ),
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, the "
            "AWS managed policy made for exactly this role; it only creates and writes log groups.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                self.rest_api,
                rule,
                "The API is public by design: signup is anonymous, the gateway authenticates the trial key "
                "in the CM-compatible body or header, webhooks verify signatures or path secrets, the "
                "dashboard API checks the Bearer trial key; all in code, CORS preflights need none.",
            )
        # CDK's default "Endpoint" output ends in a slash; the stack outputs `url` as ApiUrl instead.
        self.rest_api.node.try_remove_child("Endpoint")
        self.stage = self.rest_api.deployment_stage
        acknowledge_scan(
            self.stage,
            "CKV_AWS_73",
            "X-Ray tracing is off on the stage on purpose: API Gateway's trace segments record the full request URL, "
            "and the CM webhooks carry their secret in the path (/webhooks/cm/{secret}). The functions trace when the "
            "operator turns the `tracing` knob on; a Lambda segment carries no request URL.",
        )
        acknowledge_scan(
            self.stage,
            "CKV_AWS_120",
            "Nothing here may be cached: every answer is per trial key (sends, status, dashboard) or a one-time "
            "effect (sign-up, webhooks); a cache would serve one trial's data to another or replay an answer.",
        )
        # API Gateway creates its execution log group on first use, without a retention; creating it
        # first (named as API Gateway names it) gives it one and ties it to the stack.
        execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{stage_name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.stage.node.add_dependency(execution_logs)
        self.request_validator = self.rest_api.add_request_validator(
            "RequestParameters", validate_request_parameters=True, validate_request_body=False
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "API Gateway validates required path parameters; bodies are validated by the handlers, "
            "because rejections must carry CM's exact error envelope and texts (and the signup "
            "page's field errors), which API Gateway's validator cannot produce.",
        )
        stack = Stack.of(self)
        self.domain: apigateway.DomainName | None = None
        if domain_name is not None and certificate_arn is not None:
            # The stage mapped at the domain's root: https://<domain>/messaging/... with no stage in the path.
            self.domain = apigateway.DomainName(
                self,
                "Domain",
                domain_name=domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn),
                endpoint_type=apigateway.EndpointType.REGIONAL,
                security_policy=apigateway.SecurityPolicy.TLS_1_2,
            )
            self.domain.add_base_path_mapping(self.rest_api, stage=self.stage)
            self.origin = f"https://{domain_name}"
            self.url = self.origin
        else:
            self.origin = f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"
            self.url = f"{self.origin}/{stage_name}"

    def add_routes(self, *, functions: Mapping[str, lambda_.IFunction], allowed_origin: str) -> None:
        """A method per route, CORS preflights allowing only `allowed_origin` (the site), and gateway
        error answers (throttling, WAF, bad requests) the site's pages can read."""
        methods_by_path: dict[str, list[str]] = {}
        for route in self.routes:
            resource = self.rest_api.root.resource_for_path(route.path.rstrip("/") or "/")
            resource.add_method(
                route.method,
                # The test-invoke permission serves only the console's test button.
                apigateway.LambdaIntegration(functions[route.function], allow_test_invoke=False),
                request_parameters={
                    f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(route.path)
                },
                request_validator=self.request_validator,
            )
            methods_by_path.setdefault(resource.path, []).append(route.method)
        for path, methods in methods_by_path.items():
            self.rest_api.root.resource_for_path(path).add_cors_preflight(
                allow_origins=[allowed_origin],
                allow_methods=[*methods, "OPTIONS"],
                allow_headers=list(CORS_ALLOW_HEADERS),
                max_age=Duration.seconds(CORS_MAX_AGE_SECONDS),
            )
        # API Gateway's own answers, in JSON that says what to do (infra.api_errors; the local router gives the same).
        # An undefined path or method is MISSING_AUTHENTICATION_TOKEN, a 403 by default: 404 here, with the routes.
        # Each carries the site's CORS headers, so the site's pages can read them (a specific response type replaces
        # DEFAULT_4XX entirely, headers included).
        gateway_errors = {
            "Default4xx": (apigateway.ResponseType.DEFAULT_4_XX, None, api_errors.OWN_ERROR_TEMPLATE),
            "Default5xx": (apigateway.ResponseType.DEFAULT_5_XX, None, api_errors.OWN_ERROR_TEMPLATE),
            "NoRoute": (
                apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
                str(api_errors.NO_ROUTE_STATUS),
                api_errors.no_route_body(),
            ),
        }
        for name, (response_type, status_code, template) in gateway_errors.items():
            self.rest_api.add_gateway_response(
                f"{name}Cors",
                type=response_type,
                status_code=status_code,
                response_headers={
                    "Access-Control-Allow-Origin": f"'{allowed_origin}'",
                    "Vary": "'Origin'",
                },
                templates={"application/json": template},
            )
