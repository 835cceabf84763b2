"""The CDK app, proven by synthesis: template assertions, the bundled asset, cfn-lint and cdk-nag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from django_aws_api_gateway_websockets.store import dynamodb_schema as schema
from tests.infra.conftest import Assembly

pytestmark = pytest.mark.infra

DECLARED_ROUTES = {"echo", "join", "leave", "members", "post", "whoami"}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = list(resources(template, kind).values())
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]["Properties"]


def test_routes_come_from_the_django_app(assembly: Assembly) -> None:
    from app.websocket_views import ChatView

    assert set(ChatView.routes) == DECLARED_ROUTES
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources(assembly.app, "AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == DECLARED_ROUTES | {"$connect", "$disconnect", "$default"}
    api = only(assembly.app, "AWS::ApiGatewayV2::Api")
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == f"$request.body.{ChatView.route_selection_key}"
    # Two-way routes answer the client: a route response for each declared route and for $default.
    responses = resources(assembly.app, "AWS::ApiGatewayV2::RouteResponse")
    assert len(responses) == len(DECLARED_ROUTES) + 1


def test_every_route_is_a_lambda_proxy_to_the_live_alias(assembly: Assembly) -> None:
    template = Template.from_json(assembly.app)
    template.resource_count_is("AWS::ApiGatewayV2::Integration", 1)
    template.has_resource_properties("AWS::ApiGatewayV2::Integration", {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": Match.object_like({"Fn::Join": Match.array_with([Match.array_with([
            Match.object_like({"Ref": Match.string_like_regexp("WebSocketsLive")})])])}),
    })
    template.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com"})


def test_stage_auto_deploys_with_throttling_and_access_logs(assembly: Assembly) -> None:
    stage = only(assembly.app, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "dev" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100}
    access = stage["AccessLogSettings"]
    assert "connectionId" in json.loads(access["Format"])
    assert set(access["DestinationArn"]["Fn::GetAtt"][1:]) == {"Arn"}
    retention = {g["Properties"].get("RetentionInDays") for g in resources(assembly.app, "AWS::Logs::LogGroup").values()}
    assert retention == {14}


def test_function_runtime_snapstart_and_environment(assembly: Assembly) -> None:
    function = only(assembly.app, "AWS::Lambda::Function")
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    assert function["Handler"] == "lambda_handler.handler"
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["MemorySize"] == 1024 and function["Timeout"] == 29
    env = function["Environment"]["Variables"]
    assert env["DJANGO_SETTINGS_MODULE"] == "app.settings" and env["DJANGO_DEBUG"] == "0"
    assert env["WEBSOCKETS_STORE"].endswith("DynamoDBStore")
    assert env["WEBSOCKETS_DYNAMODB_TABLE"] == "DjangoWebSockets-dev-Stateful-connections"
    assert env["DJANGO_SECRET_KEY_SECRET_ID"] == "DjangoWebSockets-dev-Stateful/django-secret-key"
    assert env["WEBSOCKETS_TOKEN_USERS"] == "claims"
    endpoint = json.dumps(env["WEBSOCKETS_ENDPOINT_URL"])
    assert "execute-api" in endpoint and "/dev" in endpoint and "https://" in endpoint
    assert len(resources(assembly.app, "AWS::Lambda::Version")) == 1


def test_no_plaintext_secret_anywhere(assembly: Assembly) -> None:
    from app import settings

    for template in (assembly.app, assembly.stateful):
        text = json.dumps(template)
        assert "DJANGO_SECRET_KEY\"" not in text
        assert settings.SECRET_KEY not in text
    secret = only(assembly.stateful, "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" in secret and "SecretString" not in secret


def test_least_privilege_permissions(assembly: Assembly) -> None:
    statements = [s for p in resources(assembly.app, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    manage = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert len(manage) == 1
    resource = json.dumps(manage[0]["Resource"])
    assert "/dev/*/@connections/*" in resource  # this stage only
    dynamo_actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
                      if a.startswith("dynamodb:")}
    assert "dynamodb:Query" in dynamo_actions and "dynamodb:DeleteTable" not in dynamo_actions
    assert all(s["Resource"] != "*" for s in statements if "execute-api" in json.dumps(s["Action"]))
    secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
    assert secret_reads and "django-secret-key" in json.dumps(secret_reads[0]["Resource"])


def test_stateful_stack_uses_the_backends_key_schema_and_is_retained(assembly: Assembly) -> None:
    table_resource = next(iter(resources(assembly.stateful, "AWS::DynamoDB::GlobalTable").values()))
    table = table_resource["Properties"]
    assert table_resource["DeletionPolicy"] == "Retain" and table_resource["UpdateReplacePolicy"] == "Retain"
    assert table["KeySchema"] == [{"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
                                  {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == schema.USER_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == [schema.USER_INDEX_PARTITION_KEY,
                                                                 schema.USER_INDEX_SORT_KEY]
    secret = next(iter(resources(assembly.stateful, "AWS::SecretsManager::Secret").values()))
    assert secret["DeletionPolicy"] == "Retain"
    # The application stack imports nothing by CloudFormation export: it can be replaced freely.
    assert "Fn::ImportValue" not in json.dumps(assembly.app)


def test_outputs(assembly: Assembly) -> None:
    outputs = assembly.app["Outputs"]
    urls = {k: json.dumps(v["Value"]) for k, v in outputs.items()}
    assert any("wss://" in v for v in urls.values())
    assert any("https://" in v and "execute-api" in v for v in urls.values())


def test_asset_holds_django_and_the_app_but_not_boto3(assembly: Assembly) -> None:
    asset = assembly.asset_dir()
    for present in ("django", "apig_wsgi", "aiohttp", "django_aws_api_gateway_websockets", "app", "lambda_handler.py"):
        assert (asset / present).exists(), present
    for absent in ("boto3", "botocore", "tests", "infra", "node_modules", ".venv"):
        assert not (asset / absent).exists(), absent
    wheels = {p.name for p in asset.glob("*.dist-info")}
    assert any(name.startswith("Django-5.2") or name.startswith("django-5.2") for name in wheels)
    # Compiled extensions are for the Lambda platform: aarch64, CPython 3.13.
    compiled = [p.name for p in asset.rglob("*.so")]
    assert compiled and all("aarch64" in name or "abi3" in name for name in compiled)
    assert any("cpython-313" in name for name in compiled)


def test_cfn_lint_finds_no_errors(assembly: Assembly) -> None:
    templates = [str(assembly.path / f"DjangoWebSockets-dev-{s}.template.json") for s in ("App", "Stateful")]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable", *templates],
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], result.stdout
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr  # warnings/info only


def test_cdk_nag_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    report = json.loads((assembly.path / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    suppressed = plugin["suppressedViolations"]
    assert suppressed, "the checks ran and found what the design accepts"
    for finding in suppressed:
        assert len(finding["reason"]) >= 40, finding["ruleName"]
