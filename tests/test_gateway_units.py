"""Pure parts of the local gateway: address parsing, addresses it advertises, HTTP bridging."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from django_aws_api_gateway_websockets.gateway.config import GatewayConfig
from django_aws_api_gateway_websockets.gateway.http_bridge import to_response
from django_aws_api_gateway_websockets.management.commands.runwsgateway import parse_addr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8000", ("127.0.0.1", 8000)), ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("localhost:1", ("localhost", 1)),
     ("[::1]:8000", ("::1", 8000)), ("127.0.0.1:0", ("127.0.0.1", 0))],
)
def test_parse_addr(value: str, expected: tuple[str, int]) -> None:
    assert parse_addr(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "1.2.3.4:", "host:99999", ":80:80"])
def test_parse_addr_rejects(value: str) -> None:
    with pytest.raises(CommandError):
        parse_addr(value)


@pytest.mark.parametrize(
    ("host", "domain"), [("127.0.0.1", "127.0.0.1:8000"), ("0.0.0.0", "127.0.0.1:8000"), ("::1", "[::1]:8000")]
)
def test_advertised_domain_is_reachable_locally(host: str, domain: str) -> None:
    config = GatewayConfig(handler=lambda e, c: {}, host=host, port=8000)
    assert config.domain_name == domain
    assert config.endpoint_url == f"http://{domain}"


def test_http_response_keeps_every_cookie() -> None:
    response = to_response({"statusCode": 302, "headers": {"location": "/"}, "cookies": ["a=1; Path=/", "b=2"],
                            "body": "", "isBase64Encoded": False})
    assert response.status == 302
    assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]
