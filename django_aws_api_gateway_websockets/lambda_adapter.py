"""Running API Gateway WebSocket events through a Django WSGI app with apig-wsgi (and SQS broadcast chunks through
the broadcast worker, :mod:`.fanout`).

apig-wsgi understands REST (v1), HTTP API (v2) and ALB events but not WebSocket events. The handler made by
:func:`make_websocket_handler` rewrites each WebSocket event into a REST-v1-shaped POST to the view's URL for
its route kind, with the headers the view requires synthesised from the trusted ``requestContext`` (any value
a client put in its own headers is overwritten), and hands every other event to apig-wsgi unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from collections.abc import Callable
from typing import Any

from apig_wsgi import make_lambda_handler
from django.conf import settings
from django.http.request import validate_host
from django.urls import reverse

from .conf import region, ws_settings
from .events import CONNECT, DISCONNECT, EVENT_TYPES, MESSAGE, is_sqs_event, is_websocket_event
from .fanout import handle_sqs_event
from .security import ADAPTER_HOSTS, ANSWERED_KEY, CONNECTION_ID_RE, DEBUG_HOSTS, EVENT_TYPE_KEY

logger = logging.getLogger("django_aws_api_gateway_websockets")

Handler = Callable[[Any, Any], dict[str, Any]]

_KIND_OF = {CONNECT: "connect", DISCONNECT: "disconnect", MESSAGE: "message"}
# Headers the adapter always sets itself (lower-case); a client's own values for them are dropped.
_SYNTHESISED = (
    "host",
    "connectionid",
    "x-amzn-apigateway-api-id",
    "user-agent",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-port",
    "content-length",
    "content-type",
    "connection",
)
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]{1,253}(:\d{1,5})?\Z|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")
_TRACE_RE = re.compile(r"^[A-Za-z0-9=;:_.-]{1,256}\Z")
# API Gateway's own values: ids of letters and digits, stage names of letters, digits, "-" and "_".
_API_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_STAGE_RE = re.compile(r"^\$?[A-Za-z0-9_-]{1,128}\Z")


class BadEvent(ValueError):
    """The event cannot be a WebSocket event API Gateway sent."""


def _response(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}


def _bad_request(message: str) -> dict[str, Any]:
    logger.warning("Refused Lambda event: %s", message)
    return _response(400, json.dumps({"error": message}))


def _str_field(context: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = context.get(name)
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise BadEvent(f"requestContext.{name} must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise BadEvent(f"requestContext.{name} is not a valid value")
    return value


def _check_optional_fields(context: dict[str, Any]) -> None:
    """The requestContext fields the view reads besides the required ones: odd types are not API Gateway's."""
    identity = context.get("identity")
    if identity is not None and not isinstance(identity, dict):
        raise BadEvent("requestContext.identity must be an object")
    code = context.get("disconnectStatusCode")
    if code is not None and (type(code) is not int or not 0 <= code <= 65535):
        raise BadEvent("requestContext.disconnectStatusCode must be an integer from 0 to 65535")
    reason = context.get("disconnectReason")
    if reason is not None and not isinstance(reason, str):
        raise BadEvent("requestContext.disconnectReason must be a string")


def _client_headers(event: dict[str, Any]) -> dict[str, str]:
    """The client's own handshake headers (Cookie, Origin, Sec-WebSocket-*, ...), minus the synthesised ones."""
    headers: dict[str, str] = {}
    multi = event.get("multiValueHeaders")
    single = event.get("headers")
    if isinstance(multi, dict) and multi:
        for key, values in multi.items():
            if isinstance(key, str) and isinstance(values, list) and all(isinstance(v, str) for v in values):
                headers[key] = ", ".join(values) if key.lower() != "cookie" else "; ".join(values)
    elif isinstance(single, dict):
        headers = {k: v for k, v in single.items() if isinstance(k, str) and isinstance(v, str)}
    # Compared as a WSGI server would see them ("X_Forwarded_For" is X-Forwarded-For), so a client cannot
    # smuggle a value for a header the adapter sets.
    return {k: v for k, v in headers.items() if _normalised(k) not in _SYNTHESISED}


def _body(event: dict[str, Any]) -> tuple[str, bool, int]:
    """The message body as apig-wsgi takes it (text, is-base64) and its length in bytes."""
    body = event.get("body")
    if body is None:
        return "", False, 0
    if not isinstance(body, str):
        raise BadEvent("body must be a string")
    if event.get("isBase64Encoded") is True:
        try:
            return body, True, len(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise BadEvent("body is not valid base64") from exc
    try:
        return body, False, len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise BadEvent("body is not valid UTF-8 text") from exc


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-")


class WebSocketEventTranslator:
    """Turns one WebSocket event into the REST-v1 event apig-wsgi understands."""

    def __init__(self, useragent_prefix: str, paths: dict[str, str]) -> None:
        self.useragent_prefix = useragent_prefix
        self.paths = paths

    def translate(self, event: dict[str, Any]) -> dict[str, Any]:
        context = event["requestContext"]
        event_type = context.get("eventType")
        if event_type not in EVENT_TYPES:
            raise BadEvent("requestContext.eventType must be CONNECT, DISCONNECT or MESSAGE")
        connection_id = _str_field(context, "connectionId", CONNECTION_ID_RE)
        api_id = _str_field(context, "apiId", _API_ID_RE)
        domain = _str_field(context, "domainName")
        if not _HOST_RE.match(domain):
            raise BadEvent("requestContext.domainName is not a host name")
        execute_api = _EXECUTE_API_RE.match(domain)
        if execute_api and execute_api.group(1) == api_id and ws_settings.TRUST_EXECUTE_API_HOST:
            # API Gateway's own host for this API: the Host Django must accept for the event. Checked per event
            # (a list lookup): settings can change under tests, and a recorded event replayed locally (or the
            # test client's) names an API of its own.
            trust_host(domain)
        _str_field(context, "stage", _STAGE_RE)
        _check_optional_fields(context)
        identity = context.get("identity")
        source_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
        source_ip = source_ip if isinstance(source_ip, str) and len(source_ip) <= 64 else ""

        body, is_base64, length = _body(event) if event_type == MESSAGE else ("", False, 0)
        headers = _client_headers(event) if event_type == CONNECT else {}
        trace = headers.get("X-Amzn-Trace-Id") or ""
        if not trace or not _TRACE_RE.match(trace):
            request_id = context.get("requestId")
            trace = f"Root=1-{request_id}" if isinstance(request_id, str) and _TRACE_RE.match(request_id) else "Root=1-0"
        headers = {k: v for k, v in headers.items() if _normalised(k) != "x-amzn-trace-id"}
        headers.update(
            {
                "Host": domain,
                "Connectionid": connection_id,
                "X-Amzn-Apigateway-Api-Id": api_id,
                "User-Agent": f"{self.useragent_prefix}{api_id}",
                "X-Forwarded-For": source_ip,
                "X-Real-Ip": source_ip,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Port": "443",
                "X-Amzn-Trace-Id": trace,
                "Content-Length": str(length),
                "Content-Type": "application/json",
                "Connection": "Upgrade" if event_type == CONNECT else "keep-alive",
            }
        )
        translated: dict[str, Any] = {
            "httpMethod": "POST",
            "path": self.paths[_KIND_OF[event_type]],
            "headers": headers,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_base64,
        }
        if event_type == CONNECT:
            multi_query = event.get("multiValueQueryStringParameters")
            query = event.get("queryStringParameters")
            if isinstance(multi_query, dict) and multi_query:
                translated["multiValueQueryStringParameters"] = {
                    k: [v for v in vs if isinstance(v, str)] for k, vs in multi_query.items()
                    if isinstance(k, str) and isinstance(vs, list)
                }
            elif isinstance(query, dict):
                translated["queryStringParameters"] = {
                    k: v for k, v in query.items() if isinstance(k, str) and isinstance(v, str)
                }
        return translated


_EXECUTE_API_RE = re.compile(r"^([a-z0-9]{1,32})\.execute-api\.([a-z0-9-]{1,32})\.amazonaws\.com$")


def on_lambda() -> bool:
    """True inside an AWS Lambda function (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def trust_host(pattern: str) -> None:
    """Add ``pattern`` to ALLOWED_HOSTS unless it is accepted already. Under DEBUG with an empty ALLOWED_HOSTS,
    Django's own development hosts (``.localhost``, ``127.0.0.1``, ``[::1]``) are kept: adding one entry must not
    take away the hosts Django accepted before. The pattern is remembered as the adapter's
    (:data:`~django_aws_api_gateway_websockets.security.ADAPTER_HOSTS`), so it never makes an Origin allowed."""
    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts or pattern in hosts or (not pattern.startswith(".") and validate_host(pattern, hosts)):
        return
    if not hosts and settings.DEBUG:
        hosts = list(DEBUG_HOSTS)
    ADAPTER_HOSTS.add(pattern)
    settings.ALLOWED_HOSTS = [*hosts, pattern]
    logger.info("Added %s to ALLOWED_HOSTS for API Gateway events", pattern)


def trust_execute_api_host(region_name: str) -> None:
    """On Lambda, accept every ``<api id>.execute-api.<region_name>.amazonaws.com`` Host
    (``WEBSOCKETS["TRUST_EXECUTE_API_HOST"]``).

    There only API Gateway (and a function URL or load balancer the project set up) can send requests, and it
    sets that Host on the events: accepting it spares guessing the API's host before the first deploy, for
    WebSocket events and for pages an HTTP API serves from the same function. Elsewhere (the local gateway,
    ``runserver``, tests) nothing changes: settings stay the project's own, and a recorded execute-api event
    gets only its own host, when it arrives (:meth:`WebSocketEventTranslator.translate`).
    """
    if on_lambda() and ws_settings.TRUST_EXECUTE_API_HOST:
        trust_host(f".execute-api.{region_name}.amazonaws.com")


def make_websocket_handler(wsgi_app: Any, *, view: Any = None, url_namespace: str = "websockets") -> Handler:
    """A Lambda handler serving API Gateway WebSocket events (through ``view``'s URLs, by default
    ``WEBSOCKETS["VIEW"]`` included under the ``websockets`` namespace) and, through apig-wsgi unchanged,
    REST v1, HTTP API v2 and ALB events. Call it once, at import (cold start)."""
    from .routing import configured_view

    view_class = view or configured_view()
    paths = {kind: reverse(f"{url_namespace}:{kind}") for kind in _KIND_OF.values()}
    translator = WebSocketEventTranslator(view_class.expected_useragent_prefix, paths)
    # Two apig-wsgi handlers: WebSocket events run through an app that marks them as trusted (an environ key
    # no HTTP client can set); every other event (HTTP API, REST, ALB) runs through the app unchanged.
    websocket_handler = make_lambda_handler(_marked(wsgi_app), binary_support=True)
    apig_handler = make_lambda_handler(wsgi_app, binary_support=True)
    trust_execute_api_host(region())

    def handler(event: Any, context: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            return _bad_request(f"event must be a JSON object, not {type(event).__name__}")
        if is_sqs_event(event):  # broadcast chunks from the queue (its own error handling: batch item failures)
            return handle_sqs_event(event, context)
        try:
            if is_websocket_event(event):
                return _websocket_response(websocket_handler(translator.translate(event), context))
            return apig_handler(event, context)
        except BadEvent as exc:
            return _bad_request(str(exc))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # apig-wsgi meets an event shape it cannot read: the event is malformed, not our bug.
            return _bad_request(f"malformed event ({type(exc).__name__}: {exc})")
        except Exception:
            logger.exception("Unhandled error while handling a Lambda event")
            return _response(500, '{"error": "Internal server error."}')

    return handler


def _marked(wsgi_app: Any) -> Any:
    """``wsgi_app`` with the request marked as made from an API Gateway WebSocket event
    (:data:`~django_aws_api_gateway_websockets.security.EVENT_TYPE_KEY`). Only the adapter calls it, only with
    events it translated itself."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        context = environ.get("apig_wsgi.request_context")
        environ[EVENT_TYPE_KEY] = context.get("eventType") if isinstance(context, dict) else None
        started: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers, exc_info]
            return lambda data: None  # Django never uses write()

        result = wsgi_app(environ, capture)
        status, headers, exc_info = started
        if environ.get(ANSWERED_KEY):  # the view's own answer (every event that reached it)
            start_response(status, headers, exc_info)
            return result
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        code = int(status[:3])
        if code >= 400 and content_type.startswith("application/json"):
            logger.warning("WebSocket event answered %s before reaching the WebSocket view", status)
            start_response(status, headers, exc_info)
            return result
        # Django or a middleware answered before the view ran: a socket gets a JSON error, never a page (a
        # refused Host, with DEBUG a technical page) and never a redirect, which API Gateway cannot follow
        # (PREPEND_WWW, LoginRequiredMiddleware without the view's exemption, a middleware of the project's).
        if hasattr(result, "close"):
            result.close()
        if code < 400:
            location = next((v for k, v in headers if k.lower() == "location"), "")
            logger.error("WebSocket event answered %s%s by a middleware before reaching the WebSocket view: API "
                         "Gateway cannot follow it, the event fails. Exempt the WebSocket URLs from that "
                         "middleware (check PREPEND_WWW, SECURE_SSL_REDIRECT, LoginRequiredMiddleware).",
                         status, f" (Location: {location[:200]})" if location else "")
            status, message = "500 Internal Server Error", "Internal server error."
        else:
            logger.warning("WebSocket event answered %s before reaching the WebSocket view", status)
            message = status[4:] or "Error"
        body = json.dumps({"error": message}).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _websocket_response(response: dict[str, Any]) -> dict[str, Any]:
    """apig-wsgi's response, as API Gateway WebSocket expects it: statusCode, plain headers and a text body."""
    body = response.get("body", "")
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(body)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"statusCode": response["statusCode"], "headers": response.get("headers", {}),
                    "body": body, "isBase64Encoded": True}
    headers = response.get("headers")
    if headers is None:
        headers = {k: v[-1] for k, v in response.get("multiValueHeaders", {}).items() if v}
    return {"statusCode": response["statusCode"], "headers": headers, "body": body}
