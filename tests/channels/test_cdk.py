"""A Channels project on the same CDK construct: its routes come from its view (no @route: $connect,
$disconnect and a two-way $default), every route on the one Django function. Synthesised once, in process,
with a concrete account."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.constructs import DjangoWebSocketApi, DjangoWebSocketApiProps
    from infra.routes import routes_from_django

    with override_settings(WEBSOCKETS={"VIEW": "django_aws_api_gateway_websockets.channels_compat.ChannelsWebSocketView"}):
        routes = routes_from_django()
    assert routes.routes == () and routes.selection_key == "action"
    app = cdk.App()
    stack = cdk.Stack(app, "ChannelsTutorial", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    DjangoWebSocketApi(stack, "Chat", DjangoWebSocketApiProps(
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), routes=routes,
        snap_start=False, environment={"DJANGO_SETTINGS_MODULE": "mysite.settings"}))
    return Template.from_stack(stack).to_json()


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def test_a_channels_project_gets_connect_disconnect_and_a_two_way_default(template: dict[str, Any]) -> None:
    routes = of_type(template, "AWS::ApiGatewayV2::Route")
    assert sorted(r["RouteKey"] for r in routes.values()) == ["$connect", "$default", "$disconnect"]
    integrations = {str(r["Target"]) for r in routes.values()}
    assert len(integrations) == 1 and len(of_type(template, "AWS::ApiGatewayV2::Integration")) == 1
    (response,) = of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    (default_id,) = [k for k, r in routes.items() if r["RouteKey"] == "$default"]
    assert response["RouteId"] == {"Ref": default_id}  # the consumer's last frame can be the route's reply
    (api,) = of_type(template, "AWS::ApiGatewayV2::Api").values()
    assert api["ProtocolType"] == "WEBSOCKET"


def test_the_function_runs_the_project_with_its_settings_and_may_post_to_connections(template: dict[str, Any]) -> None:
    functions = [f for f in of_type(template, "AWS::Lambda::Function").values() if "Environment" in f]
    (function,) = functions
    env = function["Environment"]["Variables"]
    assert env["DJANGO_SETTINGS_MODULE"] == "mysite.settings" and function["Handler"] == "lambda_handler.handler"
    assert "WEBSOCKETS_ENDPOINT_URL" in env  # where the channel layer posts
    policies = str(of_type(template, "AWS::IAM::Policy"))
    assert "execute-api:ManageConnections" in policies
