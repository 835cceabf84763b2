"""Declaring message routes on a view: the one source of truth for dispatch, CDK routes and the gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# API Gateway route keys are at most 128 characters; keys starting with "$" are reserved by API Gateway.
_ROUTE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")
ROUTE_ATTR = "_websocket_route"


@dataclass(frozen=True)
class Route:
    """A message route: ``name`` is what a client sends as ``body[route_selection_key]``."""

    name: str
    method: str
    reply: bool = True  # a two-way route: the handler's response body is sent back to the client


def validate_route_name(name: object) -> str:
    if not isinstance(name, str) or not _ROUTE_NAME_RE.match(name):
        raise ValueError(
            f"Invalid WebSocket route name {name!r}: use 1-128 letters, digits and _.:-/ "
            "starting with a letter or digit (API Gateway reserves names starting with '$')."
        )
    return name


def route(name: str, *, reply: bool = True) -> Callable[[F], F]:
    """Mark a view method as the handler of the message route ``name``.

    Only methods marked this way can be reached from a message body; every other attribute of the view
    (``dispatch``, ``setup``, ``connect``, private names, ...) is out of reach of clients.
    """
    validate_route_name(name)

    def decorator(func: F) -> F:
        setattr(func, ROUTE_ATTR, Route(name=name, method=func.__name__, reply=reply))
        return func

    return decorator


# Methods that must never run from a message body, even if someone decorates them.
RESERVED_METHODS = frozenset({
    "setup", "dispatch", "connect", "disconnect", "default", "missing_headers", "invalid_useragent",
    "route_selection_key_missing", "http_method_not_allowed", "options", "as_view", "join_group",
    "leave_group", "group_names", "can_join_group", "select_subprotocol", "new_connection",
    "handle_exception",
})


def collect_routes(cls: type) -> dict[str, Route]:
    """Routes declared on ``cls`` and its bases (a subclass may override a route by name). A route on a
    private method or on one of the view's own handlers is a programming error: TypeError at class creation."""
    routes: dict[str, Route] = {}
    for klass in reversed(cls.__mro__):
        for attr_name, value in vars(klass).items():
            declared = getattr(value, ROUTE_ATTR, None)
            if isinstance(declared, Route):
                if declared.method != attr_name:
                    declared = Route(name=declared.name, method=attr_name, reply=declared.reply)
                if attr_name.startswith("_") or attr_name in RESERVED_METHODS:
                    raise TypeError(f"{cls.__name__}.{attr_name} cannot be a WebSocket route: private names and "
                                    "the view's own handlers are never reachable from a message.")
                routes[declared.name] = declared
    return routes


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
