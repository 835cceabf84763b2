"""Declaring message routes on a view: the one source of truth for dispatch, CDK routes and the gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# API Gateway route keys are at most 128 characters; keys starting with "$" are reserved by API Gateway.
_ROUTE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")
ROUTE_ATTR = "_websocket_route"

#: ``@route(RAW)`` marks the handler of raw frames: every message that is not a JSON object (plain text, base64,
#: JSON arrays and scalars). It is no API Gateway route (such frames reach ``$default``), so it never appears
#: among the view's ``routes``, the CDK routes or the local gateway's.
RAW = "$raw"


@dataclass(frozen=True)
class Route:
    """A message route: ``name`` is what a client sends as ``body[route_selection_key]``."""

    name: str
    method: str
    reply: bool = True  # a two-way route: the handler's response body is sent back to the client
    # RAW only: decode the frame's text as base64 and hand the handler bytes (invalid base64: 400).
    base64: bool = False


def validate_route_name(name: object) -> str:
    if not isinstance(name, str) or not _ROUTE_NAME_RE.match(name):
        raise ValueError(
            f"Invalid WebSocket route name {name!r}: use 1-128 letters, digits and _.:-/ "
            "starting with a letter or digit (API Gateway reserves names starting with '$')."
        )
    return name


def route(name: str, *, reply: bool = True, base64: bool = False) -> Callable[[F], F]:
    """Mark a view method (``def`` or ``async def``) as the handler of the message route ``name``.

    Only methods marked this way can be reached from a message body; every other attribute of the view
    (``dispatch``, ``setup``, ``connect``, private names, ...) is out of reach of clients. ``route(RAW)``
    marks the handler of frames that are not JSON objects (``self.raw`` holds the text, or with
    ``base64=True`` the bytes it encodes).
    """
    if name != RAW:
        validate_route_name(name)
    if base64 and name != RAW:
        raise ValueError("base64=True applies to @route(RAW) only: JSON routes read self.body.")

    def decorator(func: F) -> F:
        setattr(func, ROUTE_ATTR, Route(name=name, method=func.__name__, reply=reply, base64=base64))
        return func

    return decorator


# Methods that must never run from a message body, even if someone decorates them.
RESERVED_METHODS = frozenset({
    "setup", "dispatch", "connect", "disconnect", "default", "missing_headers", "invalid_useragent",
    "route_selection_key_missing", "http_method_not_allowed", "options", "as_view", "join_group",
    "leave_group", "group_names", "can_join_group", "select_subprotocol", "new_connection",
    "handle_exception", "ajoin_group", "aleave_group", "agroup_names", "presence_members", "apresence_members",
    "anonymous_name", "raw",  # "raw": the attribute holding a RAW message
})


def _declared_routes(cls: type) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for klass in reversed(cls.__mro__):
        for attr_name, value in vars(klass).items():
            declared = getattr(value, ROUTE_ATTR, None)
            if isinstance(declared, Route):
                if declared.method != attr_name:
                    declared = replace(declared, method=attr_name)
                if attr_name.startswith("_") or attr_name in RESERVED_METHODS:
                    raise TypeError(f"{cls.__name__}.{attr_name} cannot be a WebSocket route: private names and "
                                    "the view's own handlers are never reachable from a message.")
                routes[declared.name] = declared
    return routes


def collect_routes(cls: type) -> dict[str, Route]:
    """Routes declared on ``cls`` and its bases (a subclass may override a route by name), without the RAW
    handler. A route on a private method or on one of the view's own handlers is a programming error:
    TypeError at class creation."""
    return {name: declared for name, declared in _declared_routes(cls).items() if name != RAW}


def collect_raw_route(cls: type) -> Route | None:
    """The ``@route(RAW)`` handler declared on ``cls`` or its bases, if any."""
    return _declared_routes(cls).get(RAW)


def select_route_key(body: str | bytes, route_names: Iterable[str], selection_key: str = "action") -> str:
    """The routeKey API Gateway picks for a message with route selection expression
    ``$request.body.<selection_key>``: the declared route named there, else ``$default`` (also for a body
    that is not a JSON object)."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        return "$default"
    if isinstance(parsed, dict):
        value = parsed.get(selection_key)
        if isinstance(value, str) and value in set(route_names):
            return value
    return "$default"


def configured_view() -> Any:
    """The ``WebSocketView`` subclass named by ``WEBSOCKETS["VIEW"]``: the single source of routes for the
    view's dispatch, the CDK stack and the local gateway."""
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    from .conf import ws_settings

    dotted: str | None = ws_settings.VIEW
    if not dotted:
        raise ImproperlyConfigured("Set WEBSOCKETS['VIEW'] to the dotted path of your WebSocketView subclass.")
    return import_string(dotted)
