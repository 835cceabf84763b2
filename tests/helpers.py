"""Helpers for HTTP-integration-mode tests: the headers API Gateway sends with each request."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.http import HttpResponse

from tests.settings import TEST_SECRET

__all__ = ["TEST_SECRET", "GatewayPoster", "gateway_headers"]


def gateway_headers(connection_id: str = "Aa1Bb2Cc3Dd=", api_id: str = "testapi01", *, connect: bool = False,
                    **extra: str) -> dict[str, str]:
    headers = {
        "Host": "testserver",
        "X-Real-Ip": "203.0.113.9",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "Connection": "keep-alive",
        "X-Forwarded-Port": "443",
        "X-Amzn-Trace-Id": "Root=1-5f84c7a9-0123456789abcdef01234567",
        "Connectionid": connection_id,
        "User-Agent": f"AmazonAPIGateway_{api_id}",
        "X-Amzn-Apigateway-Api-Id": api_id,
        "X-Websocket-Secret": TEST_SECRET,
    }
    if connect:
        headers.update(
            {
                "Cookie": "",
                "Origin": "https://testserver",
                "Sec-Websocket-Extensions": "permessage-deflate; client_max_window_bits",
                "Sec-Websocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-Websocket-Version": "13",
            }
        )
    headers.update(extra)
    return headers


class GatewayPoster:
    """Posts connect / message / disconnect requests under a URL prefix, as API Gateway's HTTP integration."""

    def __init__(self, client: Client, prefix: str = "/ws/") -> None:
        self.client = client
        self.prefix = prefix

    def post(self, kind_path: str, data: bytes, headers: dict[str, str]) -> HttpResponse:
        # CONTENT_LENGTH is always sent, as API Gateway does, even for an empty body.
        return self.client.post(f"{self.prefix}{kind_path}", data=data, content_type="application/json",
                                headers=headers, CONTENT_LENGTH=str(len(data)))

    def connect(self, connection_id: str = "Aa1Bb2Cc3Dd=", **headers: str) -> HttpResponse:
        return self.post("connect", b"", gateway_headers(connection_id, connect=True, **headers))

    def message(self, body: Any, connection_id: str = "Aa1Bb2Cc3Dd=", **headers: str) -> HttpResponse:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.post("messages", data, gateway_headers(connection_id, **headers))

    def disconnect(self, connection_id: str = "Aa1Bb2Cc3Dd=", **headers: str) -> HttpResponse:
        return self.post("disconnect", b"", gateway_headers(connection_id, **headers))
