"""``WebSocketMonitoring``: a CloudWatch dashboard and alarms for a Django WebSocket API.

Alarms (each notifies ``alarm_topic`` when given, on alarm and back to OK):

- ``FunctionErrors``: the function raised or timed out (Lambda ``Errors``);
- ``FunctionThrottles``: Lambda refused invocations for lack of concurrency (``Throttles``);
- ``IntegrationErrors``: API Gateway could not call the integration (``ExecutionError``) or got an error
  answer from it (``IntegrationError``: every 4xx/5xx, so its threshold is a rate, not one);
- ``ServerErrors``: Django answered 5xx (the function's EMF metric);
- ``MessagingFailures``: posts to @connections that failed after their retries (EMF ``BroadcastFailed``);
- with a broadcast queue, ``BroadcastDeadLetters``: chunks in the dead-letter queue (they failed
  ``maxReceiveCount`` times: redrive them once the cause is fixed), and ``BroadcastQueueAge``: the oldest queued
  chunk waited longer than ``broadcast_queue_age`` (the function is not keeping up, or is failing).

The EMF metrics are those :mod:`django_aws_api_gateway_websockets.observability` writes, in ``namespace``
with the dimension ``service``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from django_aws_api_gateway_websockets import observability as emf

from ..routes import ApiRoutes

FIVE_MINUTES = Duration.minutes(5)


@dataclass
class WebSocketMonitoringProps:
    function: lambda_.IFunction
    api: apigwv2.IWebSocketApi
    stage_name: str
    routes: ApiRoutes
    namespace: str
    service: str
    alarm_topic: sns.ITopic | None = None
    # Alarm thresholds, per 5 minutes.
    function_errors: int = 1
    function_throttles: int = 1
    integration_errors: int = 50
    server_errors: int = 1
    messaging_failures: int = 10
    # The broadcast queue (fanout) and its dead-letter queue, when the construct has them.
    broadcast_queue: sqs.IQueue | None = None
    broadcast_dead_letters: sqs.IQueue | None = None
    broadcast_dead_letter_messages: int = 1
    broadcast_queue_age: Duration = field(default_factory=lambda: Duration.minutes(1))


class WebSocketMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: WebSocketMonitoringProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        fn = props.function

        def gateway(name: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name, label=label, statistic="Sum",
                                     period=FIVE_MINUTES,
                                     dimensions_map={"ApiId": props.api.api_id, "Stage": props.stage_name})

        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._alarm("FunctionErrors", fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"), props.function_errors,
                    "The Django function raised or timed out")
        self._alarm("FunctionThrottles", fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                    props.function_throttles, "Lambda throttled the Django function (concurrency)")
        integration = cloudwatch.MathExpression(
            expression="execution + integration", label="API Gateway integration errors", period=FIVE_MINUTES,
            using_metrics={"execution": gateway("ExecutionError", "ExecutionError"),
                           "integration": gateway("IntegrationError", "IntegrationError")})
        self._alarm("IntegrationErrors", integration, props.integration_errors,
                    "API Gateway failed to call the function or got 4xx/5xx answers from it")
        self._alarm("ServerErrors", self.emf(emf.SERVER_ERRORS), props.server_errors, "Django answered 5xx")
        self._alarm("MessagingFailures", self.emf(emf.BROADCAST_FAILED), props.messaging_failures,
                    "Posts to the @connections API failed after their retries")
        queue_widgets: list[cloudwatch.IWidget] = []
        if props.broadcast_queue is not None and props.broadcast_dead_letters is not None:
            dead = props.broadcast_dead_letters.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum")
            age = props.broadcast_queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum")
            self._alarm("BroadcastDeadLetters", dead, props.broadcast_dead_letter_messages,
                        "Broadcast chunks reached the dead-letter queue (posting them kept failing)")
            self._alarm("BroadcastQueueAge", age, int(props.broadcast_queue_age.to_seconds()),
                        "A queued broadcast chunk has waited too long (seconds)", period="1 minute")
            dead = dead.with_(label="dead-lettered chunks")
            age = age.with_(label="oldest queued chunk (s)")
            queue_widgets = [
                cloudwatch.GraphWidget(title="Broadcast queue", width=12, left=[
                    props.broadcast_queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(1), statistic="Maximum", label="queued chunks"), dead],
                    right=[age]),
                cloudwatch.GraphWidget(title="Broadcast chunks (worker)", width=12, left=[
                    self.emf(emf.QUEUE_CHUNKS), self.emf(emf.QUEUE_CHUNK_FAILURES)]),
            ]

        routes = ["$default", *(spec.name for spec in props.routes.routes)]
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Connections and messages (API Gateway)", width=12, left=[
                gateway("ConnectCount", "connects"), gateway("MessageCount", "messages")]),
            cloudwatch.GraphWidget(title="API Gateway errors", width=12, left=[
                gateway("ClientError", "client errors"), gateway("IntegrationError", "integration errors"),
                gateway("ExecutionError", "execution errors")]),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Events (Django)", width=12, left=[
                self.emf(emf.CONNECTS), self.emf(emf.DISCONNECTS), self.emf(emf.CLIENT_ERRORS),
                self.emf(emf.SERVER_ERRORS), self.emf(emf.THROTTLES)]),
            cloudwatch.GraphWidget(title="Messages by route", width=12, left=[
                self.emf(emf.MESSAGES, route=name, label=name) for name in routes]),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Broadcasts (@connections)", width=12, left=[
                self.emf(emf.BROADCAST_SENT), self.emf(emf.BROADCAST_GONE), self.emf(emf.BROADCAST_FAILED)]),
            cloudwatch.GraphWidget(title="Function", width=12, left=[
                fn.metric_invocations(period=FIVE_MINUTES), fn.metric_errors(period=FIVE_MINUTES),
                fn.metric_throttles(period=FIVE_MINUTES), self.emf(emf.COLD_START)],
                right=[fn.metric_duration(period=FIVE_MINUTES, statistic="p99")]),
        )
        if queue_widgets:
            self.dashboard.add_widgets(*queue_widgets)
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", width=24,
                                                                alarms=list(self.alarms.values())))

    def emf(self, name: str, *, route: str | None = None, label: str | None = None) -> cloudwatch.Metric:
        """One of the function's EMF metrics (Sum over 5 minutes)."""
        dimensions = {"service": self.props.service}
        if route is not None:
            dimensions["route"] = route
        return cloudwatch.Metric(namespace=self.props.namespace, metric_name=name, dimensions_map=dimensions,
                                 statistic="Sum", period=FIVE_MINUTES, label=label)

    def _alarm(self, name: str, metric: cloudwatch.IMetric, threshold: int, description: str,
               period: str = "5 minutes") -> None:
        alarm = cloudwatch.Alarm(
            self, name, metric=metric, threshold=threshold, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{description} ({self.props.service}): >= {threshold} in {period}")
        if self.props.alarm_topic is not None:
            alarm.add_alarm_action(actions.SnsAction(self.props.alarm_topic))
            alarm.add_ok_action(actions.SnsAction(self.props.alarm_topic))
        self.alarms[name] = alarm
