"""``DjangoWebSocketApi``: an API Gateway WebSocket API whose every route runs a Django Lambda.

Reusable in any CDK app::

    DjangoWebSocketApi(self, "Chat", DjangoWebSocketApiProps(code=..., routes=routes_from_django(), ...))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import jsii
from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from django_aws_api_gateway_websockets.observability import DEFAULT_NAMESPACE

from ..routes import ApiRoutes
from .monitoring import WebSocketMonitoring, WebSocketMonitoringProps

# The variables AWS documents for WebSocket API access logs ("Configure logging for WebSocket APIs in API
# Gateway"): the integration's own status and error, not only the route's.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId",
    "connectionId": "$context.connectionId", "eventType": "$context.eventType", "routeKey": "$context.routeKey",
    "status": "$context.status", "requestTime": "$context.requestTime", "sourceIp": "$context.identity.sourceIp",
    "error": "$context.error.message", "errorType": "$context.error.responseType",
    "integrationStatus": "$context.integration.status",
    "integrationServiceStatus": "$context.integration.integrationStatus",
    "integrationError": "$context.integration.error", "integrationLatency": "$context.integration.latency",
    "integrationRequestId": "$context.integration.requestId",
})


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)


class _LambdaProxy(apigwv2.WebSocketRouteIntegration):
    """A Lambda proxy integration shared by every route, granting nothing itself: the construct adds one
    permission for the whole stage (CDK's WebSocketLambdaIntegration adds one per route)."""

    def __init__(self, integration_id: str, target: lambda_.IFunction) -> None:
        super().__init__(integration_id)
        self._target = target

    def bind(self, *, route: apigwv2.IWebSocketRoute, scope: Construct) -> apigwv2.WebSocketRouteIntegrationConfig:
        uri = (f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/"
               f"{self._target.function_arn}/invocations")
        return apigwv2.WebSocketRouteIntegrationConfig(type=apigwv2.WebSocketIntegrationType.AWS_PROXY, uri=uri)


@dataclass
class DjangoWebSocketApiProps:
    code: lambda_.Code
    routes: ApiRoutes
    handler: str = "lambda_handler.handler"
    # The Django settings the function runs with (DJANGO_SETTINGS_MODULE); the demo's by default.
    settings_module: str = "app.settings"
    stage_name: str = "prod"
    memory_size: int = 1024
    timeout: Duration = field(default_factory=lambda: Duration.seconds(29))
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    throttle_rate: float = 500
    throttle_burst: int = 1000
    environment: dict[str, str] = field(default_factory=dict)
    # The connection store (DynamoDB) and SECRET_KEY; both optional for users bringing their own.
    table: dynamodb.ITable | None = None
    secret: secretsmanager.ISecret | None = None
    # Custom domain: name, certificate and API mapping key (base path).
    domain_name: str | None = None
    certificate: acm.ICertificate | None = None
    api_mapping_key: str = ""
    # Optional Lambda REQUEST authorizer on $connect (by default Django authenticates at connect).
    authorizer_function: lambda_.IFunction | None = None
    authorizer_identity_source: list[str] = field(default_factory=lambda: ["route.request.querystring.token"])
    snap_start: bool = True
    # Observability: the EMF namespace and service the function's metrics use (service: the stack's name by
    # default), and an optional SNS topic the alarms notify.
    metrics_namespace: str = DEFAULT_NAMESPACE
    service_name: str | None = None
    alarm_topic: sns.ITopic | None = None
    # Big broadcasts: send_to_group on a group of more than broadcast_threshold members queues recipient chunks on
    # an SQS queue that this function consumes (event source mapping with ReportBatchItemFailures, at most
    # broadcast_max_concurrency invocations at once); a chunk still failing after broadcast_max_receive_count
    # deliveries goes to the dead-letter queue. False: no queue, every broadcast is posted by its caller.
    broadcast_queue: bool = True
    broadcast_threshold: int = 1000
    broadcast_batch_size: int = 10
    broadcast_max_concurrency: int = 10
    broadcast_max_receive_count: int = 5


class DjangoWebSocketApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: DjangoWebSocketApiProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.props = props
        self.service_name = props.service_name or stack.stack_name

        self.log_group = logs.LogGroup(self, "FunctionLogs", retention=props.log_retention,
                                       removal_policy=RemovalPolicy.DESTROY)
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=props.handler,
            code=props.code,
            memory_size=props.memory_size,
            timeout=props.timeout,
            log_group=self.log_group,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if props.snap_start else None,
            description="Django behind an API Gateway WebSocket API (django-aws-api-gateway-websockets)",
            environment={"DJANGO_SETTINGS_MODULE": props.settings_module, "DJANGO_DEBUG": "0",
                         "DJANGO_DB_PATH": "/tmp/db.sqlite3", "POWERTOOLS_SERVICE_NAME": self.service_name,
                         "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace, **props.environment},
        )
        # SnapStart snapshots published versions only: API Gateway invokes the alias, never $LATEST.
        self.alias = lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)

        integration = _LambdaProxy("Django", self.alias)
        authorizer = None
        if props.authorizer_function is not None:
            authorizer = authorizers.WebSocketLambdaAuthorizer(
                "ConnectAuthorizer", props.authorizer_function, identity_source=props.authorizer_identity_source)
        self.api = apigwv2.WebSocketApi(
            self, "Api",
            api_name=f"{stack.stack_name}-websockets",
            route_selection_expression=props.routes.selection_expression,
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=integration, authorizer=authorizer),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
            # $default answers too, so clients see the error for an unknown route or a non-JSON frame.
            default_route_options=apigwv2.WebSocketRouteOptions(integration=integration, return_response=True),
        )
        for spec in props.routes.routes:
            self.api.add_route(spec.name, integration=integration, return_response=spec.reply)

        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=props.log_retention,
                                         removal_policy=RemovalPolicy.DESTROY)
        self.stage = apigwv2.WebSocketStage(
            self, "Stage", web_socket_api=self.api, stage_name=props.stage_name, auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=props.throttle_rate, burst_limit=props.throttle_burst),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )
        # One permission for every route of this stage.
        self.alias.add_permission(
            "ApiGatewayInvoke", principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:{self.api.api_id}/"
                       f"{props.stage_name}/*")

        # Where the function posts: execute-api + stage, or the custom domain + its mapping key.
        self.connections_url = self.stage.callback_url
        domain_settings: dict[str, str] = {}
        if props.domain_name:
            if props.certificate is None:
                raise ValueError("A custom domain needs a certificate")
            domain = apigwv2.DomainName(self, "Domain", domain_name=props.domain_name, certificate=props.certificate)
            apigwv2.ApiMapping(self, "Mapping", api=self.api, domain_name=domain, stage=self.stage,
                               api_mapping_key=props.api_mapping_key or None)
            base = f"{props.domain_name}/{props.api_mapping_key}".rstrip("/")
            self.connections_url = f"https://{base}"
            self.url = f"wss://{base}"
            self.custom_domain_target = domain.regional_domain_name
            domain_settings = {"WEBSOCKETS_API_MAPPING_KEY": props.api_mapping_key,
                               "DJANGO_ALLOWED_HOSTS": props.domain_name}
        else:
            self.url = self.stage.url
        self.function.add_environment("WEBSOCKETS_ENDPOINT_URL", self.connections_url)
        for key, value in domain_settings.items():
            self.function.add_environment(key, value)

        # Least privilege: manage connections on this stage only; read/write the table; read the secret.
        self.function.add_to_role_policy(iam.PolicyStatement(
            actions=["execute-api:ManageConnections"], resources=[self._connections_arn()]))
        if props.table is not None:
            props.table.grant_read_write_data(self.function)
            self.function.add_environment("WEBSOCKETS_STORE",
                                          "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore")
            self.function.add_environment("WEBSOCKETS_DYNAMODB_TABLE", props.table.table_name)
            self.function.add_environment("WEBSOCKETS_TOKEN_USERS", "claims")
            # Connect rate limits shared by every container (counters in the table, expiring by TTL).
            self.function.add_environment("WEBSOCKETS_RATE_LIMITER",
                                          "django_aws_api_gateway_websockets.ratelimit.DynamoDBRateLimiter")
        if props.secret is not None:
            props.secret.grant_read(self.function)
            self.function.add_environment("DJANGO_SECRET_KEY_SECRET_ID", props.secret.secret_name)

        self.broadcast_queue: sqs.Queue | None = None
        self.broadcast_dead_letters: sqs.Queue | None = None
        if props.broadcast_queue:
            self._broadcast_queue(props)

        self.monitoring = WebSocketMonitoring(self, "Monitoring", WebSocketMonitoringProps(
            function=self.function, api=self.api, stage_name=props.stage_name, routes=props.routes,
            namespace=props.metrics_namespace, service=self.service_name, alarm_topic=props.alarm_topic,
            broadcast_queue=self.broadcast_queue, broadcast_dead_letters=self.broadcast_dead_letters))

        self._acknowledge_findings()

        CfnOutput(self, "WebSocketUrl", value=self.url, description="wscat -c <this URL>")
        CfnOutput(self, "ConnectionsUrl", value=self.connections_url, description="@connections endpoint")
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name,
                  description="CloudWatch dashboard of the API and the function")
        if props.domain_name:
            CfnOutput(self, "DomainTarget", value=self.custom_domain_target,
                      description="Point the custom domain's DNS (CNAME/alias) here")

    def _broadcast_queue(self, props: DjangoWebSocketApiProps) -> None:
        """The broadcast queue, its dead-letter queue and the event source mapping that feeds chunks to the function
        (through the alias: the published, SnapStart version)."""
        if not 2 <= props.broadcast_max_concurrency <= 1000 or not 1 <= props.broadcast_batch_size <= 10:
            raise ValueError("broadcast_max_concurrency must be 2-1000 (SQS event sources) and broadcast_batch_size "
                             "1-10")
        self.broadcast_dead_letters = sqs.Queue(
            self, "BroadcastDeadLetters", retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        self.broadcast_queue = sqs.Queue(
            self, "Broadcasts",
            # AWS: at least six times the function's timeout, so a batch throttled by Lambda is not redelivered
            # while it waits, and above the timeout (the event source mapping refuses less).
            visibility_timeout=Duration.seconds(6 * props.timeout.to_seconds()),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=props.broadcast_max_receive_count,
                                                  queue=self.broadcast_dead_letters))
        self.alias.add_event_source(event_sources.SqsEventSource(
            self.broadcast_queue, batch_size=props.broadcast_batch_size, report_batch_item_failures=True,
            max_concurrency=props.broadcast_max_concurrency))
        self.broadcast_queue.grant_send_messages(self.function)
        # The worker queues a chunk's retryable failures again (above), and puts the recipients still failing after
        # BROADCAST_MAX_ATTEMPTS deliveries straight on the dead-letter queue.
        self.broadcast_dead_letters.grant_send_messages(self.function)
        self.function.add_environment("WEBSOCKETS_BROADCAST_QUEUE_URL", self.broadcast_queue.queue_url)
        self.function.add_environment("WEBSOCKETS_BROADCAST_DEAD_LETTER_QUEUE_URL",
                                      self.broadcast_dead_letters.queue_url)
        self.function.add_environment("WEBSOCKETS_BROADCAST_QUEUE_THRESHOLD", str(props.broadcast_threshold))

    def _connections_arn(self) -> str:
        """``execute-api:ManageConnections`` on this stage's ``@connections/*``, built from CloudFormation's
        pseudo parameters: it renders the same whether or not the stack has a concrete account and region, so
        the acknowledgement of its wildcard below matches in both."""
        return (f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:{self.api.api_id}/"
                f"{self.props.stage_name}/*/@connections/*")

    def _acknowledge_findings(self) -> None:
        """The security-check findings this construct's design accepts, each with its reason (CDK's native
        acknowledgement mechanism, which cdk-nag's AwsSolutions checks read)."""
        stack = Stack.of(self)
        api_id = stack.resolve(stack.get_logical_id(self.api.node.default_child))  # type: ignore[arg-type]
        connections = (f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api_id}>/"
                       f"{self.props.stage_name}/*/@connections/*")
        findings = {
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{connections}]":
                "execute-api:ManageConnections on @connections/* of this one stage: connection ids are only "
                "known at run time.",
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "The AWS-managed minimal policy for writing the function's logs.",
            "AwsSolutions::AwsSolutions-L1": "Pinned to Python 3.13: the bundled wheels and bytecode are built for "
                                             "cp313, and the project is tested on CPython 3.13.",
            "Annotation::@aws-cdk/aws-lambda:snapStartRequirePublish":
                "A version is published (current_version) and API Gateway invokes it through the 'live' alias.",
        }
        if self.props.authorizer_function is None:
            findings["AwsSolutions::AwsSolutions-APIG4"] = (
                "Django authenticates at $connect (session cookie or single-use signed connect token; a 401 "
                "refuses the socket), and later routes only run for connections accepted there.")
        else:
            findings["AwsSolutions::AwsSolutions-APIG4"] = (
                "The REQUEST authorizer guards $connect, where API Gateway authorizes a WebSocket; later routes "
                "only run on connections it accepted (API Gateway has no per-message authorizers).")
        Validations.of(self).acknowledge(*(Acknowledgment(id=f, reason=r) for f, r in findings.items()))
