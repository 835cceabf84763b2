"""Which Hosts the Lambda adapter makes Django accept, and which Origins may open a socket.

A project made by ``startproject`` (DEBUG on, ALLOWED_HOSTS empty: Django then accepts its development hosts)
keeps working once a handler exists; only on Lambda does the adapter accept API Gateway's execute-api hosts,
and no Host the adapter accepts ever makes a web page an allowed Origin. Malformed Origins get 403, never 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from django_aws_api_gateway_websockets.events import Connection
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.security import origin_allowed
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.helpers import GatewayPoster
from tests.urls import CountingView

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]

# What startproject writes (DEBUG = True, ALLOWED_HOSTS = []), and the library's own WEBSOCKETS defaults.
DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]")  # what Django accepts while DEBUG is on and ALLOWED_HOSTS is empty
STARTPROJECT = {"DEBUG": True, "ALLOWED_HOSTS": [], "WEBSOCKETS": {"VIEW": "tests.urls.CountingView"}}
MALFORMED_ORIGINS = ["http://[::1", "https://[", "http://:]", "http://a]b", "http://[", "https://[::1]:99999x",
                     "http://[fe80::1%eth0", "ws://[", "null", "http://a:b:c", "https://user@testserver",
                     "https://testserver/page", "https://testserver?x", "http://\u0000", "http://\udcff"]


def make_handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    return make_websocket_handler(get_wsgi_application(), view=CountingView, url_namespace="base")


@pytest.fixture
def off_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)


@pytest.fixture
def on_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "chat-fn")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


@pytest.fixture
def startproject() -> Iterator[None]:
    with override_settings(**STARTPROJECT):
        yield


def browser(origin: str) -> dict[str, str]:
    return {"Cookie": "theme=dark", "Origin": origin}


def page_event(host: str) -> dict[str, Any]:
    """An HTTP API (v2) request for a page, as the local gateway's HTTP bridge sends it."""
    return {"version": "2.0", "routeKey": "$default", "rawPath": "/nowhere", "rawQueryString": "", "cookies": [],
            "headers": {"host": host}, "isBase64Encoded": False, "body": "",
            "requestContext": {"http": {"method": "GET", "path": "/nowhere", "protocol": "HTTP/1.1",
                                        "sourceIp": "127.0.0.1"}, "domainName": host, "stage": "$default"}}


# Hosts -----------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("off_lambda", "startproject")
def test_a_startproject_project_keeps_its_hosts_once_a_handler_exists() -> None:
    handler = make_handler()
    assert settings.ALLOWED_HOSTS == []  # untouched: Django still accepts its development hosts
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        assert Client(HTTP_HOST=host).get("/nowhere").status_code == 404  # not 400 DisallowedHost
        assert handler(page_event(host), None)["statusCode"] == 404
    # The local gateway's socket: domainName is the gateway's own address, the page's origin is allowed.
    ws = WebSocketTestClient(handler, routes=list(CountingView.routes), route_selection_key="action",
                             domain_name="127.0.0.1:8000", api_id="local", stage="local")
    assert ws.connect(headers=browser("http://127.0.0.1:8000")).status_code == 200
    assert ws.send({"action": "ping"}).json() == {"pong": True, "user": None}
    assert ws.disconnect().status_code == 200
    assert settings.ALLOWED_HOSTS == []


@pytest.mark.usefixtures("off_lambda", "startproject")
def test_a_recorded_execute_api_event_adds_only_its_own_host_and_keeps_the_debug_hosts() -> None:
    handler = make_handler()
    ws = WebSocketTestClient(handler, routes=list(CountingView.routes), route_selection_key="action",
                             api_id="zz99yy88xx", region="ap-southeast-2")
    assert ws.connect(headers=browser("http://localhost:8000")).status_code == 200
    assert settings.ALLOWED_HOSTS == [*DEBUG_HOSTS, "zz99yy88xx.execute-api.ap-southeast-2.amazonaws.com"]
    assert Client(HTTP_HOST="127.0.0.1:8000").get("/nowhere").status_code == 404
    # Neither a host that is not the event's own API nor a foreign domain is trusted.
    for api_id, domain in (("aa11bb22cc", "dd33ee44ff.execute-api.ap-southeast-2.amazonaws.com"),
                           ("zz99yy88xx", "evil.example")):
        response = handler(Connection(api_id=api_id, domain_name=domain).connect_event(browser("http://localhost")), None)
        assert response["statusCode"] == 400 and "error" in json.loads(response["body"])  # DisallowedHost, as JSON
    assert len(settings.ALLOWED_HOSTS) == 4


@pytest.mark.usefixtures("off_lambda")
def test_off_lambda_the_handler_changes_no_settings() -> None:
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["app.example.com"]):
        make_handler()
        assert settings.ALLOWED_HOSTS == ["app.example.com"]


@pytest.mark.usefixtures("on_lambda", "startproject")
def test_on_lambda_the_region_is_trusted_and_the_debug_hosts_stay() -> None:
    handler = make_handler()
    assert settings.ALLOWED_HOSTS == [*DEBUG_HOSTS, ".execute-api.eu-west-1.amazonaws.com"]
    ws = WebSocketTestClient(handler, routes=list(CountingView.routes), route_selection_key="action",
                             api_id="k1k2k3k4k5", region="eu-west-1")
    assert ws.connect(headers=browser("http://localhost")).status_code == 200
    assert handler(page_event("k1k2k3k4k5.execute-api.eu-west-1.amazonaws.com"), None)["statusCode"] == 404
    assert handler(page_event("127.0.0.1"), None)["statusCode"] == 404


@pytest.mark.usefixtures("on_lambda")
def test_on_lambda_with_trust_off_nothing_is_added() -> None:
    with override_settings(ALLOWED_HOSTS=["chat.example.com"],
                           WEBSOCKETS={"VIEW": "tests.urls.CountingView", "TRUST_EXECUTE_API_HOST": False}):
        handler = make_handler()
        assert settings.ALLOWED_HOSTS == ["chat.example.com"]
        response = handler(Connection(api_id="k1k2k3k4k5").connect_event(browser("https://chat.example.com")), None)
        assert response["statusCode"] == 400


# Origins ---------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("on_lambda")
def test_no_execute_api_page_is_an_allowed_origin_by_default() -> None:
    with override_settings(ALLOWED_HOSTS=["chat.example.com"], WEBSOCKETS={"VIEW": "tests.urls.CountingView"}):
        handler = make_handler()
        connection = Connection(api_id="k1k2k3k4k5", region="eu-west-1")
        for origin in ("https://attacker0001.execute-api.eu-west-1.amazonaws.com",  # anybody's API in the region
                       "https://k1k2k3k4k5.execute-api.eu-west-1.amazonaws.com",  # even the event's own host
                       "https://evil.example"):
            connection.connection_id = f"c{abs(hash(origin)) % 10**9}="
            response = handler(connection.connect_event(browser(origin)), None)
            assert (response["statusCode"], json.loads(response["body"])) == (
                403, {"error": "Forbidden: this origin may not open a WebSocket."}), origin
        connection.connection_id = "good0001="
        assert handler(connection.connect_event(browser("https://chat.example.com")), None)["statusCode"] == 200


@pytest.mark.parametrize("pattern", [".execute-api.us-east-1.amazonaws.com", ".us-east-1.amazonaws.com",
                                     ".amazonaws.com", ".AmazonAWS.com."])
def test_a_wildcard_over_aws_domains_in_allowed_hosts_allows_no_origin(pattern: str) -> None:
    with override_settings(ALLOWED_HOSTS=[pattern, "chat.example.com"], WEBSOCKETS={}):
        assert not origin_allowed("https://attacker0001.execute-api.us-east-1.amazonaws.com")
        assert origin_allowed("https://chat.example.com")
    # An exact host of one's own is the project's choice.
    with override_settings(ALLOWED_HOSTS=["mine1234.execute-api.us-east-1.amazonaws.com"], WEBSOCKETS={}):
        assert origin_allowed("https://mine1234.execute-api.us-east-1.amazonaws.com")


def test_debug_hosts_are_allowed_origins_while_allowed_hosts_is_empty() -> None:
    with override_settings(DEBUG=True, ALLOWED_HOSTS=[], WEBSOCKETS={}):
        for origin in ("http://127.0.0.1:8000", "http://localhost:3000", "http://[::1]:8000", "http://app.localhost"):
            assert origin_allowed(origin), origin
        assert not origin_allowed("http://evil.example")
    with override_settings(DEBUG=False, ALLOWED_HOSTS=[], WEBSOCKETS={}):
        assert not origin_allowed("http://127.0.0.1:8000")


@pytest.mark.parametrize("origin", MALFORMED_ORIGINS)
def test_malformed_origins_are_refused_never_raised(origin: str) -> None:
    with override_settings(WEBSOCKETS={}):
        assert origin_allowed(origin) is False
    with override_settings(WEBSOCKETS={"ALLOWED_ORIGINS": ["https://testserver"]}):
        assert origin_allowed(origin) is False


@pytest.mark.parametrize("origin", MALFORMED_ORIGINS[:8])
def test_malformed_origins_get_403_json_through_lambda_and_http_integration(origin: str, client: Client) -> None:
    import lambda_handler

    response = lambda_handler.handler(Connection(api_id="or1gin0001").connect_event({"Origin": origin}), None)
    assert (response["statusCode"], json.loads(response["body"])) == (
        403, {"error": "Forbidden: this origin may not open a WebSocket."})
    integration = GatewayPoster(client, "/base/").connect(Origin=origin)
    assert (integration.status_code, integration.json()) == (
        403, {"error": "Forbidden: this origin may not open a WebSocket."})
