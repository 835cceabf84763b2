"""The reusable construct's options (custom domain, REQUEST authorizer, alarm topic), synthesised once, in
process, with a concrete account."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk import aws_certificatemanager as acm
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from infra.constructs import DjangoWebSocketApi, DjangoWebSocketApiProps
    from infra.routes import ApiRoutes, RouteSpec

    app = cdk.App()
    stack = cdk.Stack(app, "ConstructOptions", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    authorizer = lambda_.Function(stack, "Authorizer", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                  code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"))
    DjangoWebSocketApi(stack, "Chat", DjangoWebSocketApiProps(
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        routes=ApiRoutes("type", (RouteSpec("say", True), RouteSpec("fire", False))),
        stage_name="live", snap_start=False,
        domain_name="ws.example.com", api_mapping_key="chat",
        certificate=acm.Certificate.from_certificate_arn(
            stack, "Cert", "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"),
        authorizer_function=authorizer,
        metrics_namespace="Chat", service_name="chat-live",
        alarm_topic=sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:eu-west-1:123456789012:alarms"),
        broadcast_threshold=500, broadcast_batch_size=5, broadcast_max_concurrency=3, broadcast_max_receive_count=4,
    ))
    return Template.from_stack(stack).to_json()


def of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_custom_domain_mapping_and_the_endpoint_the_function_uses(template: dict[str, Any]) -> None:
    (domain,) = of_type(template, "AWS::ApiGatewayV2::DomainName")
    assert domain["DomainName"] == "ws.example.com"
    (mapping,) = of_type(template, "AWS::ApiGatewayV2::ApiMapping")
    assert mapping["ApiMappingKey"] == "chat"
    (function,) = [f for f in of_type(template, "AWS::Lambda::Function") if "Environment" in f]
    env = function["Environment"]["Variables"]
    # The @connections endpoint of a custom domain is the domain plus its mapping key, not the stage.
    assert env["WEBSOCKETS_ENDPOINT_URL"] == "https://ws.example.com/chat"
    assert env["WEBSOCKETS_API_MAPPING_KEY"] == "chat" and env["DJANGO_ALLOWED_HOSTS"] == "ws.example.com"
    outputs = json.dumps(template["Outputs"])
    assert "wss://ws.example.com/chat" in outputs


def test_request_authorizer_on_connect_only(template: dict[str, Any]) -> None:
    (authorizer,) = of_type(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    routes = {r["RouteKey"]: r for r in of_type(template, "AWS::ApiGatewayV2::Route")}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert all(r.get("AuthorizationType", "NONE") == "NONE" for key, r in routes.items() if key != "$connect")


def test_route_selection_and_one_way_routes(template: dict[str, Any]) -> None:
    (api,) = of_type(template, "AWS::ApiGatewayV2::Api")
    assert api["RouteSelectionExpression"] == "$request.body.type"
    route_ids = {k: r["Properties"]["RouteKey"] for k, r in template["Resources"].items()
                 if r["Type"] == "AWS::ApiGatewayV2::Route"}
    answered = {route_ids[r["RouteId"]["Ref"]] for r in of_type(template, "AWS::ApiGatewayV2::RouteResponse")}
    assert answered == {"say", "$default"}  # "fire" is one-way


def test_environment_config_from_context() -> None:
    from infra.config import EnvironmentConfig

    config = EnvironmentConfig.from_context("prod", {"memorySize": 1536, "logRetentionDays": 90})
    assert (config.stage, config.memory_size) == ("prod", 1536)
    with pytest.raises(ValueError, match="Unknown settings"):
        EnvironmentConfig.from_context("dev", {"memory": 1})
    with pytest.raises(ValueError, match="go together"):
        EnvironmentConfig.from_context("dev", {"domainName": "ws.example.com"})


def test_alarms_notify_the_topic_and_use_the_given_metrics_names(template: dict[str, Any]) -> None:
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 7
    for alarm in alarms:
        assert alarm["AlarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:alarms"]
        assert alarm["OKActions"] == ["arn:aws:sns:eu-west-1:123456789012:alarms"]
    emf = [a for a in alarms if a.get("Namespace") == "Chat"]
    assert {a["MetricName"] for a in emf} == {"ServerErrors", "BroadcastFailed"}
    assert all(a["Dimensions"] == [{"Name": "service", "Value": "chat-live"}] for a in emf)
    (function,) = [f for f in of_type(template, "AWS::Lambda::Function") if "Environment" in f
                   and "POWERTOOLS_SERVICE_NAME" in f["Environment"]["Variables"]]
    env = function["Environment"]["Variables"]
    assert (env["POWERTOOLS_SERVICE_NAME"], env["POWERTOOLS_METRICS_NAMESPACE"]) == ("chat-live", "Chat")


def test_one_invoke_permission_for_every_route(template: dict[str, Any]) -> None:
    permissions = [p for p in of_type(template, "AWS::Lambda::Permission")
                   if p["Principal"] == "apigateway.amazonaws.com" and "ChatLive" in json.dumps(p["FunctionName"])]
    assert len(permissions) == 1
    assert json.dumps(permissions[0]["SourceArn"]).endswith('"/live/*"]]}')


def test_environment_settings_that_moved_say_where() -> None:
    from infra.config import EnvironmentConfig, context_flag

    with pytest.raises(ValueError, match="apiGatewayCloudWatchRole=true"):
        EnvironmentConfig.from_context("dev", {"apiGatewayCloudWatchRole": False})
    assert context_flag("true") and context_flag(True) and not context_flag("false") and not context_flag(None)


def test_the_broadcast_queue_feeds_the_alias_with_partial_batch_failures_and_bounded_concurrency(
        template: dict[str, Any]) -> None:
    (mapping,) = of_type(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["BatchSize"] == 5 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert "ChatLive" in json.dumps(mapping["FunctionName"])  # the alias: the published SnapStart version
    queues = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    (main_key,) = [k for k, q in queues.items() if "RedrivePolicy" in q]
    (dead_key,) = [k for k in queues if k != main_key]
    main, dead = queues[main_key], queues[dead_key]
    assert main["VisibilityTimeout"] == 6 * 29  # AWS: at least six times the function timeout
    assert main["RedrivePolicy"]["maxReceiveCount"] == 4
    assert main["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_key, "Arn"]}
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert main["SqsManagedSseEnabled"] is True and dead["SqsManagedSseEnabled"] is True
    policies = [p for p in of_type(template, "AWS::SQS::QueuePolicy")]
    assert len(policies) == 2 and all('"aws:SecureTransport": "false"' in json.dumps(p) for p in policies)
    statements = [s for p in of_type(template, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]]
    on_main = [s for s in statements if json.dumps(s["Resource"]) == json.dumps({"Fn::GetAtt": [main_key, "Arn"]})]
    actions = {a for s in on_main for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    # The worker sends the recipients still failing after its attempts to the dead-letter queue itself.
    on_dead = [s for s in statements if json.dumps(s["Resource"]) == json.dumps({"Fn::GetAtt": [dead_key, "Arn"]})]
    dead_actions = {a for s in on_dead for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "sqs:SendMessage" in dead_actions and "sqs:ReceiveMessage" not in dead_actions
    (function,) = [f for f in of_type(template, "AWS::Lambda::Function") if "Environment" in f
                   and "POWERTOOLS_SERVICE_NAME" in f["Environment"]["Variables"]]
    env = function["Environment"]["Variables"]
    assert env["WEBSOCKETS_BROADCAST_QUEUE_URL"] == {"Ref": main_key}
    assert env["WEBSOCKETS_BROADCAST_DEAD_LETTER_QUEUE_URL"] == {"Ref": dead_key}
    assert env["WEBSOCKETS_BROADCAST_QUEUE_THRESHOLD"] == "500"


def test_queue_alarms_watch_the_dead_letter_queue_and_the_age_of_the_oldest_chunk(template: dict[str, Any]) -> None:
    alarms = {a["MetricName"]: a for a in of_type(template, "AWS::CloudWatch::Alarm") if a.get("Namespace") == "AWS/SQS"}
    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    assert alarms["ApproximateNumberOfMessagesVisible"]["Threshold"] == 1
    assert alarms["ApproximateAgeOfOldestMessage"]["Threshold"] == 60
    assert alarms["ApproximateAgeOfOldestMessage"]["Period"] == 60
    assert all(a["Statistic"] == "Maximum" for a in alarms.values())


def test_without_the_broadcast_queue_and_bad_queue_settings() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.constructs import DjangoWebSocketApi, DjangoWebSocketApiProps
    from infra.routes import ApiRoutes

    def build(**options: Any) -> dict[str, Any]:
        stack = cdk.Stack(cdk.App(), "NoQueue")
        DjangoWebSocketApi(stack, "Chat", DjangoWebSocketApiProps(
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
            routes=ApiRoutes("action", ()), snap_start=False, **options))
        return Template.from_stack(stack).to_json()

    template = build(broadcast_queue=False)
    assert of_type(template, "AWS::SQS::Queue") == [] and of_type(template, "AWS::Lambda::EventSourceMapping") == []
    assert not any(a.get("Namespace") == "AWS/SQS" for a in of_type(template, "AWS::CloudWatch::Alarm"))
    with pytest.raises(ValueError, match="2-1000"):
        build(broadcast_max_concurrency=1)
