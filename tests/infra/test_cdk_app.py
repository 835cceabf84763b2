"""The CDK app synthesized env-agnostic, every environment at once, through the pinned CLI: template
assertions, cfn-lint and cdk-nag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from django_aws_api_gateway_websockets import observability as emf
from django_aws_api_gateway_websockets.store import dynamodb_schema as schema
from tests.infra.conftest import ENVIRONMENTS, Assembly

pytestmark = pytest.mark.infra

DECLARED_ROUTES = {"echo", "join", "leave", "members", "ping", "post", "whoami"}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = list(resources(template, kind).values())
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]["Properties"]


def django_function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [r["Properties"] for r in resources(template, "AWS::Lambda::Function").values()
                   if r["Properties"]["Handler"] == "lambda_handler.handler"]
    return function


def test_every_environment_synthesizes_without_an_account(assembly: Assembly) -> None:
    stacks = assembly.stacks()
    assert set(stacks) == {f"DjangoWebSockets-{env}-{kind}" for env in ENVIRONMENTS for kind in ("Stateful", "App")}
    # No account anywhere (the CLI still passes its default region, us-east-1, when it finds none).
    assert {s["environment"].rsplit("/", 1)[0] for s in stacks.values()} == {"aws://unknown-account"}
    # One bundling for all six stacks; jsii's Node banner is silenced by the app itself.
    assert assembly.output.count("Bundling asset") == 1, assembly.output
    assert "end-of-life" not in assembly.output.lower()
    assert len(assembly.asset_dirs()) == 1


def test_routes_come_from_the_django_app(assembly: Assembly) -> None:
    from app.websocket_views import ChatView

    assert set(ChatView.routes) == DECLARED_ROUTES
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in resources(assembly.app(), "AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == DECLARED_ROUTES | {"$connect", "$disconnect", "$default"}
    api = only(assembly.app(), "AWS::ApiGatewayV2::Api")
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == f"$request.body.{ChatView.route_selection_key}"
    # Two-way routes answer the client: a route response for each two-way route (not the one-way "ping") and for
    # $default.
    responses = resources(assembly.app(), "AWS::ApiGatewayV2::RouteResponse")
    assert len(responses) == len(DECLARED_ROUTES - {"ping"}) + 1
    assert not ChatView.routes["ping"].reply


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_integration_and_one_permission_for_the_whole_stage(assembly: Assembly, environment: str) -> None:
    template = Template.from_json(assembly.app(environment))
    template.resource_count_is("AWS::ApiGatewayV2::Integration", 1)
    template.has_resource_properties("AWS::ApiGatewayV2::Integration", {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": Match.object_like({"Fn::Join": Match.array_with([Match.array_with([
            Match.object_like({"Ref": Match.string_like_regexp("WebSocketsLive")})])])}),
    })
    template.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    permissions = list(resources(assembly.app(environment), "AWS::Lambda::Permission").values())
    (invoke,) = [p["Properties"] for p in permissions if "WebSocketsLive" in json.dumps(p["Properties"]["FunctionName"])]
    assert invoke["Action"] == "lambda:InvokeFunction" and invoke["Principal"] == "apigateway.amazonaws.com"
    assert json.dumps(invoke["SourceArn"]).endswith(f'"/{environment}/*"]]}}')
    # staging's authorizer function has the only other permission (API Gateway invoking the authorizer).
    assert len(permissions) == (2 if environment == "staging" else 1)


def test_stage_auto_deploys_with_throttling_and_the_websocket_access_log_variables(assembly: Assembly) -> None:
    stage = only(assembly.app(), "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "dev" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100}
    access = stage["AccessLogSettings"]
    fields = json.loads(access["Format"])
    assert fields["connectionId"] == "$context.connectionId"
    assert fields["integrationStatus"] == "$context.integration.status"
    assert fields["integrationError"] == "$context.integration.error"
    assert "$context.integrationStatus" not in access["Format"]  # an HTTP API variable, not a WebSocket one
    assert set(access["DestinationArn"]["Fn::GetAtt"][1:]) == {"Arn"}
    retention = {g["Properties"].get("RetentionInDays") for g in resources(assembly.app(), "AWS::Logs::LogGroup").values()}
    assert retention == {14}


def test_function_runtime_snapstart_and_environment(assembly: Assembly) -> None:
    function = django_function(assembly.app())
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["MemorySize"] == 1024 and function["Timeout"] == 29
    env = function["Environment"]["Variables"]
    assert env["DJANGO_SETTINGS_MODULE"] == "app.settings" and env["DJANGO_DEBUG"] == "0"
    assert env["WEBSOCKETS_STORE"].endswith("DynamoDBStore")
    assert env["WEBSOCKETS_DYNAMODB_TABLE"] == "DjangoWebSockets-dev-Stateful-connections"
    assert env["DJANGO_SECRET_KEY_SECRET_ID"] == "DjangoWebSockets-dev-Stateful/django-secret-key"
    assert env["WEBSOCKETS_TOKEN_USERS"] == "claims"
    assert env["POWERTOOLS_SERVICE_NAME"] == "DjangoWebSockets-dev-App"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == emf.DEFAULT_NAMESPACE
    assert env["WEBSOCKETS_RATE_LIMITER"].endswith("DynamoDBRateLimiter")  # shared by every container
    assert "Ref" in env["WEBSOCKETS_BROADCAST_QUEUE_URL"] and env["WEBSOCKETS_BROADCAST_QUEUE_THRESHOLD"] == "1000"
    (mapping,) = resources(assembly.app(), "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 10}
    endpoint = json.dumps(env["WEBSOCKETS_ENDPOINT_URL"])
    assert "execute-api" in endpoint and "/dev" in endpoint and "https://" in endpoint
    assert len(resources(assembly.app(), "AWS::Lambda::Version")) == 1
    assert django_function(assembly.app("prod"))["MemorySize"] == 1536


def test_no_plaintext_secret_anywhere(assembly: Assembly) -> None:
    from app import settings

    for environment in ENVIRONMENTS:
        for template in (assembly.app(environment), assembly.stateful(environment)):
            text = json.dumps(template)
            assert "DJANGO_SECRET_KEY\"" not in text
            assert settings.SECRET_KEY not in text
    secret = only(assembly.stateful(), "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" in secret and "SecretString" not in secret


def test_least_privilege_permissions(assembly: Assembly) -> None:
    statements = [s for p in resources(assembly.app(), "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    manage = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert len(manage) == 1
    resource = json.dumps(manage[0]["Resource"])
    assert "/dev/*/@connections/*" in resource  # this stage only
    dynamo = [s for s in statements if "dynamodb:Query" in json.dumps(s["Action"])]
    (dynamo_statement,) = dynamo
    assert "dynamodb:DeleteTable" not in json.dumps(dynamo_statement["Action"])
    table_arns = json.dumps(dynamo_statement["Resource"])
    # The table and its indexes (the store queries the users' index), nothing else.
    assert "table/DjangoWebSockets-dev-Stateful-connections\"" in table_arns
    assert "table/DjangoWebSockets-dev-Stateful-connections/index/*" in table_arns
    assert all(s["Resource"] != "*" for s in statements)
    secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
    assert secret_reads and "django-secret-key" in json.dumps(secret_reads[0]["Resource"])


def test_stateful_stack_uses_the_backends_key_schema_and_is_retained_and_protected(assembly: Assembly) -> None:
    table_resource = next(iter(resources(assembly.stateful(), "AWS::DynamoDB::GlobalTable").values()))
    table = table_resource["Properties"]
    assert table_resource["DeletionPolicy"] == "Retain" and table_resource["UpdateReplacePolicy"] == "Retain"
    assert [r.get("DeletionProtectionEnabled") for r in table["Replicas"]] == [True]
    assert table["KeySchema"] == [{"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
                                  {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == schema.USER_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == [schema.USER_INDEX_PARTITION_KEY,
                                                                 schema.USER_INDEX_SORT_KEY]
    secret = next(iter(resources(assembly.stateful(), "AWS::SecretsManager::Secret").values()))
    assert secret["DeletionPolicy"] == "Retain"
    # The application stack imports nothing by CloudFormation export: it can be replaced freely.
    assert "Fn::ImportValue" not in json.dumps(assembly.app())


def test_the_account_level_api_gateway_role_is_in_no_environment_stack(assembly: Assembly) -> None:
    for environment in ENVIRONMENTS:
        for template in (assembly.app(environment), assembly.stateful(environment)):
            assert not resources(template, "AWS::ApiGateway::Account")
            assert "AmazonAPIGatewayPushToCloudWatchLogs" not in json.dumps(template)


def test_staging_has_the_custom_domain_the_authorizer_and_the_alarm_topic(assembly: Assembly) -> None:
    template = assembly.app("staging")
    assert only(template, "AWS::ApiGatewayV2::DomainName")["DomainName"] == "ws.staging.example.com"
    assert only(template, "AWS::ApiGatewayV2::ApiMapping")["ApiMappingKey"] == "chat"
    env = django_function(template)["Environment"]["Variables"]
    assert env["WEBSOCKETS_ENDPOINT_URL"] == "https://ws.staging.example.com/chat"
    assert env["WEBSOCKETS_ALLOWED_ORIGINS"] == "https://staging.example.com"
    authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    # The authorizer is the same asset's lambda_handler.authorize, reading the same secret.
    functions = [r["Properties"] for r in resources(template, "AWS::Lambda::Function").values()]
    by_handler = {f["Handler"]: f for f in functions}
    assert set(by_handler) == {"lambda_handler.handler", "lambda_handler.authorize"}
    assert by_handler["lambda_handler.authorize"]["Code"] == by_handler["lambda_handler.handler"]["Code"]
    assert by_handler["lambda_handler.authorize"]["Environment"]["Variables"]["DJANGO_SECRET_KEY_SECRET_ID"] == \
        env["DJANGO_SECRET_KEY_SECRET_ID"]
    subscription = only(template, "AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == "alerts@example.com"
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]
    assert not resources(assembly.app("dev"), "AWS::SNS::Topic")  # the topic is optional


def test_alarms_and_dashboard(assembly: Assembly) -> None:
    template = assembly.app()
    alarms = {k: r["Properties"] for k, r in resources(template, "AWS::CloudWatch::Alarm").items()}
    by_metric: dict[str, dict[str, Any]] = {}
    for alarm in alarms.values():
        if "MetricName" in alarm:
            by_metric[alarm["MetricName"]] = alarm
        else:  # the metric-math alarm over API Gateway's two integration error metrics
            names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
            assert names == {"ExecutionError", "IntegrationError"}
            by_metric["IntegrationErrors"] = alarm
    assert set(by_metric) == {"Errors", "Throttles", "IntegrationErrors", emf.SERVER_ERRORS, emf.BROADCAST_FAILED,
                              "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}  # the queues
    assert by_metric["ApproximateAgeOfOldestMessage"]["Namespace"] == "AWS/SQS"
    for name in (emf.SERVER_ERRORS, emf.BROADCAST_FAILED):
        assert by_metric[name]["Namespace"] == emf.DEFAULT_NAMESPACE
        assert by_metric[name]["Dimensions"] == [{"Name": "service", "Value": "DjangoWebSockets-dev-App"}]
    assert by_metric["Errors"]["Namespace"] == "AWS/Lambda"
    assert all(a["TreatMissingData"] == "notBreaching" for a in alarms.values())
    body = json.dumps(only(template, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for name in (emf.CONNECTS, emf.DISCONNECTS, emf.MESSAGES, emf.CLIENT_ERRORS, emf.SERVER_ERRORS, emf.THROTTLES,
                 emf.BROADCAST_SENT, emf.BROADCAST_GONE, emf.BROADCAST_FAILED, "ConnectCount", "IntegrationError",
                 emf.QUEUE_CHUNKS, emf.QUEUE_CHUNK_FAILURES, "ApproximateAgeOfOldestMessage"):
        assert f'\\"{name}\\"' in body, name
    for route in DECLARED_ROUTES:  # messages by route: one line per declared route
        assert f'\\"route\\",\\"{route}\\"' in body, route


def test_outputs(assembly: Assembly) -> None:
    outputs = assembly.app()["Outputs"]
    urls = {k: json.dumps(v["Value"]) for k, v in outputs.items()}
    assert any("wss://" in v for v in urls.values())
    assert any("https://" in v and "execute-api" in v for v in urls.values())
    assert any(k.startswith("WebSocketsDashboardName") for k in outputs)


def test_cfn_lint_finds_no_errors(assembly: Assembly) -> None:
    templates = sorted(str(p) for p in assembly.path.glob("*.template.json"))
    assert len(templates) == 6
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable", *templates],
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], result.stdout
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr  # warnings/info only


def test_cdk_nag_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    plugin = assembly.nag_report
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    suppressed = plugin["suppressedViolations"]
    rules = {finding["ruleName"] for finding in suppressed}
    assert any(rule.startswith("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:") for rule in rules)
    for finding in suppressed:
        assert len(finding["reason"]) >= 40, finding["ruleName"]
