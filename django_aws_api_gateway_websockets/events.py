"""Building API Gateway WebSocket events exactly as AWS sends them to a Lambda proxy integration.

One builder shared by the local gateway, the test client and the benchmarks, so what runs locally is what
runs on AWS. Shapes follow the events API Gateway delivers for ``$connect`` (headers, multiValueHeaders,
optional query string, no body), messages (body, no headers) and ``$disconnect`` (a few headers, the close
code and reason).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

CONNECT = "CONNECT"
DISCONNECT = "DISCONNECT"
MESSAGE = "MESSAGE"
EVENT_TYPES = (CONNECT, DISCONNECT, MESSAGE)

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_connection_id() -> str:
    """An id shaped like API Gateway's: 12 base64-ish characters ending in '='."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(11)) + "="


def _request_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(14)) + "="


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


@dataclass
class Connection:
    """The per-socket facts API Gateway repeats in every event's requestContext."""

    api_id: str = "abcdef1234"
    stage: str = "prod"
    domain_name: str = ""
    region: str = "us-east-1"
    source_ip: str = "203.0.113.10"
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64)"
    connection_id: str = field(default_factory=new_connection_id)
    connected_at: int = field(default_factory=_now_ms)

    def __post_init__(self) -> None:
        if not self.domain_name:
            self.domain_name = f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    def request_context(self, route_key: str, event_type: str, **extra: Any) -> dict[str, Any]:
        now = _now_ms()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": _request_id(),
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": self.connected_at,
            "requestTimeEpoch": now,
            "identity": {"userAgent": self.user_agent, "sourceIp": self.source_ip},
            "requestId": _request_id(),
            "domainName": self.domain_name,
            "connectionId": self.connection_id,
            "apiId": self.api_id,
        }
        context.update(extra)
        return context

    # The three event kinds ------------------------------------------------------------------------------
    def connect_event(
        self,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        *,
        raw_headers: Sequence[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """A ``$connect`` event. ``raw_headers`` is a real handshake's header list (the local gateway);
        otherwise a browser-like handshake is made up and ``headers`` are merged over it."""
        if raw_headers is None:
            made_up: dict[str, str] = {
                "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
                "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
                "Sec-WebSocket-Version": "13",
                "User-Agent": self.user_agent,
            }
            made_up.update(headers or {})
            raw_headers = list(made_up.items())
        # What API Gateway adds or replaces on the way in.
        added = {"Host": self.domain_name, "X-Amzn-Trace-Id": _trace_id(), "X-Forwarded-For": self.source_ip,
                 "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}
        multi: dict[str, list[str]] = {}
        for key, value in raw_headers:
            if key.lower() not in {k.lower() for k in added}:
                multi.setdefault(key, []).append(value)
        for key, value in added.items():
            multi[key] = [value]
        event: dict[str, Any] = {
            "headers": {key: values[-1] for key, values in multi.items()},
            "multiValueHeaders": multi,
            "requestContext": self.request_context("$connect", CONNECT),
            "isBase64Encoded": False,
        }
        if query:
            multi_query = {k: (list(v) if isinstance(v, list) else [v]) for k, v in query.items()}
            # A parameter with no value at all is not in the query string: API Gateway omits it.
            multi_query = {k: v for k, v in multi_query.items() if v}
            if multi_query:
                event["queryStringParameters"] = {k: v[-1] for k, v in multi_query.items()}
                event["multiValueQueryStringParameters"] = multi_query
        return event

    def message_event(self, body: str | bytes, route_key: str = "$default", binary: bool = False) -> dict[str, Any]:
        context = self.request_context(route_key, MESSAGE, messageId=_request_id())
        if binary or isinstance(body, bytes):
            raw = body if isinstance(body, bytes) else body.encode()
            return {"requestContext": context, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
        return {"requestContext": context, "body": body, "isBase64Encoded": False}

    def disconnect_event(self, status_code: int = 1000, reason: str = "") -> dict[str, Any]:
        headers = {"Host": self.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
        return {
            "headers": headers,
            "multiValueHeaders": {key: [value] for key, value in headers.items()},
            "requestContext": self.request_context(
                "$disconnect", DISCONNECT, disconnectStatusCode=status_code, disconnectReason=reason
            ),
            "isBase64Encoded": False,
        }


def is_sqs_event(event: object) -> bool:
    """True for the events Lambda's SQS event source mapping sends (``Records`` from ``aws:sqs``)."""
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (isinstance(records, list) and bool(records) and isinstance(records[0], dict)
            and records[0].get("eventSource") == "aws:sqs")


def is_websocket_event(event: object) -> bool:
    """True for events API Gateway's WebSocket APIs send (they carry ``requestContext.eventType``)."""
    if not isinstance(event, dict):
        return False
    context = event.get("requestContext")
    return isinstance(context, dict) and "eventType" in context and "connectionId" in context
