"""The Channels ``scope`` of a connection: built from the ``$connect`` request, its essentials kept in the store,
and rebuilt from them for every later event (a message, a group message, the disconnect).

Keys, as Daphne and Channels' middleware give them: ``type``, ``asgi``, ``http_version``, ``scheme``,
``server``, ``client``, ``root_path``, ``path``, ``raw_path``, ``query_string``, ``headers``, ``subprotocols``,
``cookies``, ``session``, ``user``, then ``url_route`` and ``path_remaining`` from routing. One key is the
bridge's own: ``connection_state``, a dict kept in the store between events.

What the store keeps (``Connection.data["channels_scope"]``) leaves out credentials: no ``Cookie`` or
``Authorization`` header, so ``scope["cookies"]`` is only filled at connect. The session key is kept (as
Django's session table keeps it) so ``scope["session"]`` is the same session at every event.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, parse_cookie
from django.utils.functional import SimpleLazyObject

from ..auth import user_for_connection
from ..conf import ws_settings
from ..store import Connection
from ..views import request_context

SCOPE_KEY = "channels_scope"
STATE_KEY = "channels_state"
PENDING_KEY = "channels_pending"
ATTRS_KEY = "channels_attributes"  # the consumer instance's JSON-able attributes, put back at every event
OPEN_KEY = "channels_open"  # present from connect until the consumer has seen its disconnect (exactly once)

# Headers the Lambda adapter or API Gateway's HTTP integration adds for the view, not sent by the client.
_NOT_CLIENT = {"connectionid", "x-amzn-apigateway-api-id", "content-length", "content-type", "x-real-ip"}
# Credentials: present in the connect scope, never written to the store.
_NOT_STORED = {"cookie", "authorization"}
_MAX_HEADER_VALUE = 2048
_MAX_STORED_HEADERS_BYTES = 8 * 1024


def client_headers(request: HttpRequest) -> list[tuple[str, str]]:
    secret_header = str(ws_settings.SHARED_SECRET_HEADER).lower()
    identity = request_context(request).get("identity")
    user_agent = identity.get("userAgent") if isinstance(identity, dict) else None
    headers: list[tuple[str, str]] = []
    for key, value in request.META.items():
        if not key.startswith("HTTP_") or not isinstance(value, str):
            continue
        name = key[5:].lower().replace("_", "-")
        if name in _NOT_CLIENT or name == secret_header:
            continue
        if name == "user-agent" and isinstance(user_agent, str):
            value = user_agent  # the adapter puts API Gateway's own agent in User-Agent; the client's is here
        headers.append((name, value))
    return headers


def _query_string(request: HttpRequest) -> str:
    """The query string the client sent, less the bridge's route parameter and the single-use connect token."""
    drop = {ws_settings.CHANNELS_PATH_PARAM, ws_settings.CONNECT_TOKEN_PARAM}
    pairs = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k not in drop])


def connect_essentials(request: HttpRequest, path: str) -> dict[str, Any]:
    """What is kept in the store at connect to rebuild the scope at every later event (JSON)."""
    headers = client_headers(request)
    stored, size = [], 0
    for name, value in headers:
        if name in _NOT_STORED:
            continue
        value = value[:_MAX_HEADER_VALUE]
        size += len(name) + len(value)
        if size > _MAX_STORED_HEADERS_BYTES:
            break
        stored.append([name, value])
    offered = request.META.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "")
    cookies = parse_cookie(request.META.get("HTTP_COOKIE", ""))
    host = request.META.get("HTTP_HOST", "")
    proto = request.META.get("HTTP_X_FORWARDED_PROTO", "https")
    try:
        port = int(request.META.get("HTTP_X_FORWARDED_PORT") or (443 if proto == "https" else 80))
    except ValueError:
        port = 443
    return {
        "path": path,
        "query": _query_string(request),
        "headers": stored,
        "subprotocols": [p.strip() for p in offered.split(",") if p.strip()],
        "session_key": cookies.get(settings.SESSION_COOKIE_NAME) or None,
        "client": request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR") or "",
        "scheme": "wss" if proto == "https" else "ws",
        "server": [host.rsplit(":", 1)[0] if host.count(":") == 1 else host, port],
    }


def _session(session_key: str | None) -> Any:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key)  # lazy: loads on first access


def build_scope(essentials: dict[str, Any], *, user: Any, state: dict[str, Any],
                connect_headers: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The scope for one event. ``connect_headers`` are the full handshake headers (with cookies), at connect."""
    headers = connect_headers if connect_headers is not None else [tuple(h) for h in essentials.get("headers", [])]
    cookie_header = next((v for k, v in headers if k == "cookie"), "")
    path = str(essentials.get("path") or "/")
    server = essentials.get("server") or [None, None]
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": essentials.get("scheme", "wss"),
        "server": (server[0], server[1]),
        "client": (essentials.get("client") or "", 0),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": str(essentials.get("query", "")).encode(),
        "headers": [(k.encode("latin-1", "replace"), v.encode("latin-1", "replace")) for k, v in headers],
        "subprotocols": list(essentials.get("subprotocols", [])),
        "cookies": parse_cookie(cookie_header) if cookie_header else {},
        "session": _session(essentials.get("session_key")),
        "user": user,
        "connection_state": state,
    }


def event_scope(connection: Connection, user: Any = None) -> dict[str, Any] | None:
    """The scope of an event of a stored connection (None if it was not opened through the bridge). Without
    ``user``, the user is looked up only if the consumer reads ``scope["user"]`` (group fan-out)."""
    essentials = connection.data.get(SCOPE_KEY)
    if not isinstance(essentials, dict):
        return None
    if user is None:
        user = SimpleLazyObject(lambda: user_for_connection(connection) or AnonymousUser())
    state = connection.data.get(STATE_KEY)
    return build_scope(essentials, user=user, state=dict(state) if isinstance(state, dict) else {})


def canonical(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def encode_state(state: Any, what: str = "scope['connection_state']") -> str:
    """Per-connection state as stored: canonical JSON within ``CHANNELS_STATE_MAX_BYTES``; else a clear error."""
    if not isinstance(state, dict):
        raise TypeError(f"{what} must stay a dict, not {type(state).__name__}")
    try:
        text = json.dumps(state, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable: {exc}") from exc
    limit = int(ws_settings.CHANNELS_STATE_MAX_BYTES)
    if len(text.encode()) > limit:
        raise ValueError(f"{what} is {len(text.encode())} bytes of JSON; the limit is {limit} "
                         "(WEBSOCKETS['CHANNELS_STATE_MAX_BYTES']). Keep large data in your own models.")
    return text
