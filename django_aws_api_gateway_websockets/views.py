"""The base WebSocket view: one Django request per API Gateway WebSocket event."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.asyncio import async_unsafe
from django.utils.decorators import classonlymethod
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import connection_cache, presence, ratelimit, signals
from .aio import run_async
from .auth import auth_hash_of, user_for_connection, user_for_message, user_from_cookie, user_from_token
from .conf import ws_settings
from .routing import RAW, Route, collect_raw_route, collect_routes
from .security import (
    ANSWERED_KEY,
    CONNECTION_ID_RE,
    UNTRUSTED_MESSAGE,
    came_through_lambda_adapter,
    client_ip,
    has_header,
    header,
    meta_key,
    origin_allowed,
    request_is_trusted,
)
from .store import Connection, ConnectionStore, get_store
from .store.base import InvalidGroupName, check_group_name
from .store.orm import OrmStore
from .tokens import InvalidConnectToken, consume_connect_token, make_connect_token

logger = logging.getLogger("django_aws_api_gateway_websockets")

CONNECT = "connect"
DISCONNECT = "disconnect"
MESSAGE = "message"
ROUTE_KINDS = (CONNECT, DISCONNECT, MESSAGE)


def route_kind_from_url(url_kwargs: dict[str, Any]) -> str:
    """The kind of event a request carries, from its URL kwargs: ours (``route_kind``, set by
    :func:`~django_aws_api_gateway_websockets.urls.websocket_urls`) or the 1.x-4.x package's
    ``path("ws/<slug:route>", ...)``, where API Gateway posts to ``ws/connect``, ``ws/disconnect`` and
    ``ws/<any other route>`` (a message)."""
    kind = url_kwargs.get("route_kind")
    if kind is not None:
        return str(kind)
    route = str(url_kwargs.get("route", "")).removeprefix("$")
    return route if route in (CONNECT, DISCONNECT) else MESSAGE


def request_context(request: HttpRequest) -> dict[str, Any]:
    """The API Gateway ``requestContext`` of a request the Lambda adapter made from a WebSocket event ({} for
    any other request, HTTP integration mode included)."""
    if not came_through_lambda_adapter(request):
        return {}
    value = request.META.get("apig_wsgi.request_context")
    return value if isinstance(value, dict) else {}


def connect_token(request: HttpRequest) -> JsonResponse:
    """GET: a fresh connect token for the logged-in user (401 otherwise). Pass it as ``?token=`` on connect."""
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Authentication required."}, status=401)
    response = JsonResponse({"token": make_connect_token(request.user), "param": ws_settings.CONNECT_TOKEN_PARAM,
                             "expires_in": int(ws_settings.CONNECT_TOKEN_MAX_AGE)})
    response["Cache-Control"] = "no-store"
    return response


# What a client may send as its request id (echoed in the reply): short, and safe to put in JSON as it is.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}\Z")
_MAX_INT_REQUEST_ID = 2**53 - 1  # the largest integer a JavaScript number holds exactly


def _request_id_json(value: Any) -> bytes | None:
    """``value`` as the JSON to echo when it is a valid request id, else None."""
    if isinstance(value, str) and _REQUEST_ID_RE.match(value):
        return b'"' + value.encode() + b'"'
    if type(value) is int and 0 <= value <= _MAX_INT_REQUEST_ID:
        return str(value).encode()
    return None


def _sync_helper(name: str) -> Any:
    """Refuse the blocking view helper ``name`` in an async handler (SynchronousOnlyOperation, naming the async
    variant): its store calls and announcements would stall the process's shared event loop meanwhile."""
    return async_unsafe(f"self.{name}() blocks the event loop it is called from: in an async handler, "
                        f"await self.a{name}(...) instead.")


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _identity_user_agent(context: dict[str, Any]) -> str:
    identity = context.get("identity")
    value = identity.get("userAgent") if isinstance(identity, dict) else None
    return value if isinstance(value, str) else ""


_META_KEYS: dict[tuple[str, ...], frozenset[str]] = {}


def _meta_keys(names: list[str]) -> frozenset[str]:
    """The ``request.META`` keys of these header names, computed once per list of names (every event checks them)."""
    key = tuple(names)
    found = _META_KEYS.get(key)
    if found is None:
        found = _META_KEYS[key] = frozenset(meta_key(name) for name in names)
    return found


def _depth_within(value: Any, raw: bytes, limit: int) -> bool:
    """True when ``value`` (parsed from ``raw``) nests arrays and objects at most ``limit`` deep. Bodies with
    fewer brackets than the limit cannot exceed it, so most messages skip the walk."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    level: list[Any] = [value]
    for _ in range(limit):  # after round n, `level` holds the containers at depth n + 2
        level = [child for item in level if isinstance(item, (list, dict))
                 for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (list, dict))]
        if not level:
            return True
    return False


class WebSocketView(View):
    """The base WebSocket View for handling messages sent from the client via AWS API Gateway.

    Declare message routes with :func:`~django_aws_api_gateway_websockets.routing.route`; only those can be
    selected by ``body[route_selection_key]``. ``connect`` and ``disconnect`` run only for the connect and
    disconnect URL kinds.
    """

    aws_api_gateway_id: str | None = None
    body: dict[str, Any] = {}
    expected_useragent_prefix: str = "AmazonAPIGateway_"
    model: Any = None
    required_connection_headers: list[str] = [
        "Cookie",
        "Origin",
        "Sec-Websocket-Extensions",
        "Sec-Websocket-Key",
        "Sec-Websocket-Version",
    ]
    required_headers: list[str] = [
        "Host",
        "X-Real-Ip",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "Connection",
        "Content-Length",
        "X-Forwarded-Port",
        "X-Amzn-Trace-Id",
        "Connectionid",
        "User-Agent",
        "X-Amzn-Apigateway-Api-Id",
    ]
    route_selection_key: str = "action"
    # "connect", "disconnect" or "message": set per request by setup() from the URL; the class default lets
    # handlers run on an instance that never went through setup() (as in unit tests).
    route_kind: str = MESSAGE
    http_method_names = ["post"]
    # Refuse the socket (401) when no user is logged in at connect.
    login_required: bool = False
    # WebSocket subprotocols this view speaks, in order of preference; the first one a client offers (in
    # Sec-WebSocket-Protocol) is echoed in the $connect response, which API Gateway puts in the handshake.
    subprotocols: list[str] = []
    # Messages find their connection and user in the per-process cache (``connection_cache``, sized by
    # WEBSOCKETS["CONNECTION_CACHE_SIZE"]) instead of the store; False: a store round trip (and a user lookup)
    # per message, and ``self.connection.data`` always as stored.
    cache_connections: bool = True

    # Deepest nesting of arrays and objects accepted in a message body (deeper: 400). Keeps hostile bodies
    # ("[[[[...") from exhausting the stack in the parser, in route handlers or when a reply is serialised.
    max_json_depth: int = 64
    # Exceptions a handler may raise and the status they answer with ({"error": message}); the most specific
    # class in an exception's MRO wins. Extend it for your own exceptions, or override handle_exception.
    exception_statuses: ClassVar[dict[type[BaseException], int]] = {
        BadRequest: 400,
        SuspiciousOperation: 400,
        PermissionDenied: 403,
        Http404: 404,
        ValidationError: 400,
    }

    # The body key of a client's request id: a string of 1-64 letters, digits and _.:- or an integer
    # 0..2**53-1, echoed in the JSON object replies of its message (errors included) so a client can match
    # replies to requests. Anything else there: 400. None: no request ids.
    request_id_key: str | None = "requestId"

    routes: ClassVar[dict[str, Route]] = {}
    # The @route(RAW) handler: messages that are not JSON objects go to it instead of being refused (400).
    raw_route: ClassVar[Route | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.routes = collect_routes(cls)
        cls.raw_route = collect_raw_route(cls)

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Any:  # type: ignore[override]
        # API Gateway cannot send a CSRF token; the headers, origin and secret checks protect these views. Nor
        # can it follow LoginRequiredMiddleware's redirect to a login page: the view decides about users itself
        # (``login_required``, the session cookie or a connect token at connect, re-checked at every message).
        return login_not_required(csrf_exempt(super().as_view(**initkwargs)))

    # ------------------------------------------------------------------------------------------------
    # Request set-up and dispatch
    # ------------------------------------------------------------------------------------------------
    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        """Converts the request.body string back into a dictionary and assign to the objects body property."""
        super().setup(request, *args, **kwargs)
        self.route_kind = route_kind_from_url(kwargs)
        self.body = {}
        self.body_error: tuple[int, str] | None = None
        # True when body_error only says the body is not a JSON object (not UTF-8, not JSON, another JSON type):
        # a view that takes any frame (the Channels bridge) may ignore it; size and depth errors always stand.
        self.body_not_json = False
        # A message for the RAW handler: its bytes (set by _dispatch_message), then ``self.raw``, its text or the
        # bytes it encodes (set once the connection has been checked).
        self._raw_frame: bytes | None = None
        self.raw: str | bytes | None = None
        self.connection: Connection | None = None
        self.connection_id: str = header(request, "Connectionid")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit: int = ws_settings.MAX_MESSAGE_BYTES
        if length > limit:
            self.body_error = (413, f"Message too large: {length} bytes, the limit is {limit} bytes.")
            return
        try:
            raw = request.body
        except OSError:  # the client went away mid-body (UnreadablePostError)
            self.body_error = (400, "Message body could not be read.")
            return
        if len(raw) > limit:
            self.body_error = (413, f"Message too large: {len(raw)} bytes, the limit is {limit} bytes.")
            return
        if not raw.strip():
            return
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self.body_error, self.body_not_json = (400, "Message body is not valid UTF-8."), True
            return
        except ValueError:
            self.body_error, self.body_not_json = (400, "Message body is not valid JSON."), True
            return
        except RecursionError:
            self.body_error = (400, f"Message body is nested too deeply (at most {self.max_json_depth} levels).")
            return
        if not _depth_within(parsed, raw, self.max_json_depth):
            self.body_error = (400, f"Message body is nested too deeply (at most {self.max_json_depth} levels).")
            return
        if not isinstance(parsed, dict):
            self.body_error, self.body_not_json = (400, "Message body must be a JSON object."), True
            return
        self.body = parsed

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Determine the correct method to call. The method will map to the route_selection_key or default.

        Checks that the request came from API Gateway, the expected headers, the user agent and the API id;
        then connect and disconnect run for their URL kinds, and a message runs the declared route named by
        ``body[route_selection_key]``, or ``default`` when no declared route has that name. Whatever a handler
        raises is answered as JSON by :meth:`handle_exception`.
        """
        try:
            response = self._dispatch(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(request, exc)
        if self.route_kind == MESSAGE:
            response = self._with_request_id(response)
        request.META[ANSWERED_KEY] = True
        return response

    def _with_request_id(self, response: HttpResponse) -> HttpResponse:
        """The reply with the client's request id added to its JSON object (the handler's own key wins)."""
        key = self.request_id_key
        value = _request_id_json(self.body.get(key)) if key and isinstance(self.body, dict) else None
        if value is None or getattr(response, "streaming", False):
            return response
        if not response.get("Content-Type", "").startswith("application/json"):
            return response
        content = response.content.lstrip()
        if not content.startswith(b"{"):
            return response
        rest = content[1:].lstrip()
        head = b"{" + json.dumps(key).encode() + b": " + value
        # Put first: JSON parsers keep the last of duplicate keys, so a key the handler set itself wins.
        response.content = head + rest if rest.startswith(b"}") else head + b", " + rest
        return response

    def _call(self, handler: Callable[..., Any], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Run a handler, sync or async: a coroutine it returns runs on the process's one shared event loop
        (:func:`~django_aws_api_gateway_websockets.aio.run_async`) while this thread serves its
        ``sync_to_async`` calls; whatever it raises reaches :meth:`handle_exception`."""
        response = handler(request, *args, **kwargs)
        if not isinstance(response, HttpResponseBase) and inspect.isawaitable(response):
            response = run_async(_awaited, response)
        return response  # type: ignore[no-any-return]

    def handle_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        """The JSON answer ``{"error": ...}`` for an exception raised while handling a WebSocket request.

        Exceptions in :attr:`exception_statuses` answer with their status and message (a
        ``SuspiciousOperation`` with a plain "Bad request.", logged on ``django.security.*`` as Django does);
        anything else is logged with its traceback and answered 500 "Internal server error.". Never a
        debug page, whatever ``DEBUG`` says. Override to map your own exceptions and call ``super()`` for the
        rest.
        """
        status = next((self.exception_statuses[k] for k in type(exc).__mro__ if k in self.exception_statuses), None)
        if status is None:
            logger.error("WebSocket handler error (%s, %s)", *self._log_ids(), exc_info=exc)
            return JsonResponse({"error": "Internal server error."}, status=500)
        if isinstance(exc, SuspiciousOperation):
            logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc)[:500])
            return self._error(status, "Bad request.")
        if isinstance(exc, ValidationError):
            message = "; ".join(str(m) for m in exc.messages)
        else:
            message = str(exc)
        default = {403: "Permission denied.", 404: "Not found."}.get(status, "Bad request.")
        return self._error(status, message or default)

    def _dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method is None or request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        if not request_is_trusted(request):
            return self._error(403, UNTRUSTED_MESSAGE.format(header=ws_settings.SHARED_SECRET_HEADER))
        meta = request.META
        keys = _meta_keys(self.required_headers)
        if self.route_kind == CONNECT:
            keys |= _meta_keys(self.required_connection_headers)
        if not meta.keys() >= keys:  # every required header is there (one set comparison, in C)
            return self.missing_headers(request, *args, **kwargs)
        if not header(request, "User-Agent").startswith(self.expected_useragent_prefix):
            return self.invalid_useragent(request, *args, **kwargs)
        if self.aws_api_gateway_id and header(request, "X-Amzn-Apigateway-Api-Id") != self.aws_api_gateway_id:
            return self._error(403, "Forbidden: request from an unexpected API Gateway API.")
        if not self.connection_id and self.route_kind != DISCONNECT:
            return self._return_bad_request("Missing connection id.")
        if self.connection_id and not CONNECTION_ID_RE.match(self.connection_id):
            return self._return_bad_request("Invalid connection id.")

        if self.route_kind == CONNECT:
            return self._dispatch_connect(request, *args, **kwargs)
        if self.route_kind == DISCONNECT:
            return self._call(self.disconnect, request, *args, **kwargs)
        if self.route_kind == MESSAGE:
            return self._dispatch_message(request, *args, **kwargs)
        return self._return_bad_request("Unknown route kind.")

    def _dispatch_connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        origin = request.META.get(meta_key("Origin"))
        if origin is not None and not origin_allowed(origin):
            return self._error(403, "Forbidden: this origin may not open a WebSocket.")
        ip = client_ip(request) or "unknown"
        cache: str = ws_settings.RATE_LIMIT_CACHE
        if not ratelimit.hit("ip", ip, ws_settings.CONNECT_RATE_LIMIT_PER_IP, cache):
            return self._error(429, "Too many connection attempts from this address; try again later.")
        # "claims" mode has no user database: only a connect token can name a user.
        user: Any = AnonymousUser() if ws_settings.TOKEN_USERS == "claims" else user_from_cookie(request)
        token = request.GET.get(ws_settings.CONNECT_TOKEN_PARAM)
        if not user.is_authenticated and token:
            try:
                claims = consume_connect_token(token)
            except InvalidConnectToken as exc:
                return self._error(401, f"Invalid connect token: {exc}.")
            user = user_from_token(claims)
            if user is None:
                return self._error(401, "Invalid connect token: the user can no longer log in.")
        request.user = user
        if user.is_authenticated and not ratelimit.hit(
            "user", str(user.pk), ws_settings.CONNECT_RATE_LIMIT_PER_USER, cache
        ):
            return self._error(429, "Too many connection attempts for this user; try again later.")
        if self.login_required and not user.is_authenticated:
            return self._error(401, "Authentication required.")
        return self._call(self.connect, request, *args, **kwargs)

    def _open_message(self, request: HttpRequest) -> HttpResponse | None:
        """The checks every message passes before its handler: a readable body, an open connection (counted),
        a user who may still send. Sets ``self.connection`` and ``request.user``; a response refuses.

        With :attr:`cache_connections`, the connection and its user come from this process's cache while it is
        fresh (see ``connection_cache``): no store round trip and no user lookup for most messages."""
        if self.body_error is not None:
            status, message = self.body_error
            return self._error(status, message)
        if self.cache_connections:
            connection, validated = connection_cache.open_connection(lambda: self.store, self.connection_id)
            user = None if connection is None else user_for_message(connection, validated)
        else:
            connection = self.store.touch(self.connection_id)
            user = None if connection is None else user_for_connection(connection)
        if connection is None:
            return self._error(403, "Unknown or disconnected connection.")
        if user is None:
            from .messaging import close_and_forget  # (messaging's imports stay off the view's import path)

            store = self.store
            close_and_forget(store, [connection.connection_id], lambda: store.disconnect(
                connection.connection_id, reason="credentials changed"))
            return self._error(401, "The user of this connection is no longer authenticated.")
        request.user = user  # type: ignore[assignment]  # any user object, not only the project's User
        self.connection = connection
        return None

    def _dispatch_message(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.raw_route is not None and (self.body_not_json or (self.body_error is None and not request.body.strip())):
            # Not a JSON object (or empty): the RAW handler's, once the connection is checked.
            self.body_error, self._raw_frame = None, request.body
        refused = self._open_message(request)
        if refused is not None:
            return refused
        connection = self.connection
        assert connection is not None
        if self._raw_frame is not None:
            return self._dispatch_raw(request, *args, **kwargs)
        key = self.request_id_key
        if key and key in self.body and _request_id_json(self.body[key]) is None:
            return self._return_bad_request(f"'{key}' must be a string of 1-64 letters, digits or _.:- "
                                            "or a non-negative integer.")

        if self.route_selection_key not in self.body:
            return self.route_selection_key_missing(request, *args, **kwargs)
        name = self.body[self.route_selection_key]
        if not isinstance(name, str):
            return self._return_bad_request(f"'{self.route_selection_key}' must be a string.")
        declared = self.routes.get(name)
        signals.websocket_message_received.send(
            sender=type(self), request=request, connection=connection, route=name, body=self.body
        )
        if declared is None:
            return self._call(self.default, request, *args, **kwargs)
        return self._call(getattr(self, declared.method), request, *args, **kwargs)

    def _dispatch_raw(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        declared, frame = self.raw_route, self._raw_frame
        assert declared is not None and frame is not None
        if declared.base64:
            try:
                self.raw = base64.b64decode(frame.strip(), validate=True)
            except (binascii.Error, ValueError):
                return self._return_bad_request("Message is not valid base64.")
        else:
            try:
                self.raw = frame.decode("utf-8")
            except UnicodeDecodeError:  # an event API Gateway delivered base64-encoded (binary)
                self.raw = frame
        signals.websocket_message_received.send(
            sender=type(self), request=request, connection=self.connection, route=RAW, body=self.body
        )
        return self._call(getattr(self, declared.method), request, *args, **kwargs)

    # ------------------------------------------------------------------------------------------------
    # Handlers
    # ------------------------------------------------------------------------------------------------
    def connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse | HttpResponseBadRequest:
        """Handle the connection route in a standard way that ensures the User to Connectionid mapping persists"""
        connection = self.new_connection(request)
        self.store.connect(connection)
        connection_cache.connection_opened(connection.connection_id)
        self.connection = connection
        logger.info("WebSocket connected: %s (user %s)", connection.connection_id, connection.user_id)
        signals.websocket_connected.send(sender=type(self), request=request, connection=connection)
        response = JsonResponse({"connected": True})
        protocol = self.select_subprotocol(request)
        if protocol:
            response["Sec-WebSocket-Protocol"] = protocol
        return response

    def new_connection(self, request: HttpRequest) -> Connection:
        """What the store keeps about the connection a ``$connect`` request opens (not yet stored)."""
        context = request_context(request)
        user = getattr(request, "user", None)
        return Connection(
            connection_id=self.connection_id,
            api_id=context.get("apiId") or header(request, "X-Amzn-Apigateway-Api-Id"),
            stage=str(context.get("stage") or ""),
            domain_name=str(context.get("domainName") or request.get_host()),
            user_id=str(user.pk) if user is not None and user.is_authenticated else None,
            user_name=user.get_username() if user is not None and user.is_authenticated else self.anonymous_name(request),
            auth_hash=auth_hash_of(user) if user is not None else "",
            client_ip=client_ip(request),
            user_agent=_identity_user_agent(context) or header(request, "User-Agent"),
        )

    def anonymous_name(self, request: HttpRequest) -> str:
        """The name stored at connect for a connection without a user (shown by presence); authenticated
        connections store the username. Override to name guests; the default is ``""``."""
        return ""

    def select_subprotocol(self, request: HttpRequest) -> str | None:
        offered = [p.strip() for p in header(request, "Sec-Websocket-Protocol").split(",") if p.strip()]
        return next((p for p in self.subprotocols if p in offered), None)

    def disconnect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        """Using connectionId update websocket table to show as disconnected"""
        context = request_context(request)
        status_code = context.get("disconnectStatusCode")
        reason = context.get("disconnectReason")
        valid_code = type(status_code) is int and 0 <= status_code <= 65535
        if self.connection_id:  # what this process counted is written first; later messages are refused here
            connection_cache.connections_closed([self.connection_id], self.store)
        store = self.store
        # Presence groups the connection was in hear that it left, whyever it went (a dropped socket too).
        changed = presence.close_and_announce(store, [self.connection_id], lambda: store.disconnect(
            self.connection_id,
            status_code=status_code if valid_code else None,
            reason=reason if isinstance(reason, str) else "",
        ))
        if changed:
            connection = self.store.get(self.connection_id)
            logger.info("WebSocket disconnected: %s (%s)", self.connection_id, status_code)
            signals.websocket_disconnected.send(sender=type(self), request=request, connection=connection)
        return JsonResponse({"disconnected": True})

    def default(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        """Overload this method if you want to have a default message handler"""
        return JsonResponse({"error": "Unknown route.", "routes": sorted(self.routes)}, status=400)

    def missing_headers(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBadRequest:
        """Method for handling missing headers"""
        required = list(self.required_headers)
        if self.route_kind == CONNECT:
            required += self.required_connection_headers
        missing = [name for name in required if not has_header(request, name)]
        return self._return_bad_request(f"Missing required headers: {', '.join(missing)}")

    def invalid_useragent(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBadRequest:
        """Method for handling unexpected useragents"""
        return self._return_bad_request("Invalid User-Agent.")

    def route_selection_key_missing(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBadRequest:
        """Method for handling missing route_selection_key"""
        return self._return_bad_request(f"Missing route selection key '{self.route_selection_key}'.")

    # ------------------------------------------------------------------------------------------------
    # Helpers for route handlers
    # ------------------------------------------------------------------------------------------------
    @property
    def store(self) -> ConnectionStore:
        if self.model is not None:
            return OrmStore(model=self.model)
        return get_store()

    def can_join_group(self, request: HttpRequest, group: str) -> bool:
        """Permission hook for :meth:`join_group`; by default ``WEBSOCKETS["GROUP_JOIN_PERMISSION"]``."""
        permission: str | None = ws_settings.GROUP_JOIN_PERMISSION
        if permission is None:
            return True
        user = getattr(request, "user", None)
        return bool(user is not None and user.has_perm(permission))

    @_sync_helper("join_group")
    def join_group(self, group: str) -> None:
        """Add this connection to ``group``; PermissionDenied (403) when :meth:`can_join_group` says no. In a
        presence group the members (this connection included) are told that it joined."""
        group = self._checked_group(group)
        if not self.can_join_group(self.request, group):
            raise PermissionDenied(f"Not allowed to join group {group!r}.")
        store = self.store
        announce = presence.has_presence(group) and group not in store.groups_of(self.connection_id)
        store.join(self.connection_id, group)
        if announce:
            self._announce(presence.JOINED, group)

    @_sync_helper("leave_group")
    def leave_group(self, group: str) -> None:
        """Remove this connection from ``group``; in a presence group the other members are told."""
        group = self._checked_group(group)
        store = self.store
        announce = presence.has_presence(group) and group in store.groups_of(self.connection_id)
        store.leave(self.connection_id, group)
        if announce:
            self._announce(presence.LEFT, group)

    @_sync_helper("group_names")
    def group_names(self) -> list[str]:
        return self.store.groups_of(self.connection_id)

    @_sync_helper("presence_members")
    def presence_members(self, group: str, *, limit: int | None = None, after: str | None = None) -> presence.MemberPage:
        """A page of the members of ``group`` (:class:`~.presence.MemberPage`: ``members``, each
        ``{"connectionId", "userId", "name"}`` as stored at connect, ordered by connection id, and ``next``, the
        cursor for the following page, to pass as ``after``); at most ``limit`` (100 by default, 1,000 at most)
        and 64 KB of JSON. A ``limit`` or ``after`` that is not valid (as from a client's message) is a 400."""
        group = self._checked_group(group)
        try:
            limit, after = presence.check_page(limit, after)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        return presence.members(group, self.store, limit=limit, after=after)

    # For async handlers: the same helpers, their store calls run off the event loop.
    async def ajoin_group(self, group: str) -> None:
        await sync_to_async(self.join_group)(group)

    async def aleave_group(self, group: str) -> None:
        await sync_to_async(self.leave_group)(group)

    async def agroup_names(self) -> list[str]:
        return await sync_to_async(self.group_names)()

    async def apresence_members(self, group: str, *, limit: int | None = None,
                                after: str | None = None) -> presence.MemberPage:
        return await sync_to_async(self.presence_members)(group, limit=limit, after=after)

    def _announce(self, event: str, group: str) -> None:
        connection = self.connection or self.store.get(self.connection_id)
        if connection is not None:
            presence.announce(event, group, connection)

    @staticmethod
    def _checked_group(group: object) -> str:
        try:
            return check_group_name(group)
        except InvalidGroupName as exc:
            raise BadRequest(str(exc)) from exc

    def _return_bad_request(self, message: str) -> HttpResponseBadRequest:
        """Log a warning and return a 400 with a JSON error body (never echoing request headers)."""
        logger.warning("WebSocket bad request (%s, %s): %s", *self._log_ids(), message)
        return HttpResponseBadRequest(json.dumps({"error": message}), content_type="application/json")

    def _error(self, status: int, message: str) -> JsonResponse:
        logger.warning("WebSocket refused %s (%s, %s): %s", status, *self._log_ids(), message)
        return JsonResponse({"error": message}, status=status)

    def _log_ids(self) -> tuple[str, str]:
        return getattr(self, "route_kind", "-"), getattr(self, "connection_id", "") or "-"
