"""Finding the consumer for a path in the project's Channels routing.

The websocket application is read from ``WEBSOCKETS["CHANNELS_APPLICATION"]`` or ``settings.ASGI_APPLICATION``:
a ``ProtocolTypeRouter`` (its ``"websocket"`` entry is used), a ``URLRouter``, or a plain list of websocket URL
patterns. Middleware around the router (``AllowedHostsOriginValidator``, ``AuthMiddlewareStack``, your own) is
looked through, not run: what Channels' own middleware provides (the origin check, ``scope["cookies"]``,
``scope["session"]``, ``scope["user"]``) the bridge view already provides, and a system check names any other
middleware it finds (``django_aws_api_gateway_websockets.W101``).

Paths are matched the way ``URLRouter`` matches them: the leading ``/`` is dropped, each route's Django
pattern is tried in order, a nested ``URLRouter`` continues with what its prefix left, and
``url_route`` collects the ``args`` and ``kwargs`` of every level, with each route's default kwargs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..conf import ws_settings

# Channels middleware whose work the bridge view does itself (so not running it changes nothing).
REPLACED_MIDDLEWARE = frozenset({"CookieMiddleware", "SessionMiddleware", "AuthMiddleware", "OriginValidator"})
_WRAPPED_ATTRIBUTES = ("inner", "application", "app")
_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Resolved:
    """The consumer application (what ``Consumer.as_asgi()`` returned) for a path, and the scope keys routing adds."""

    app: Any
    url_route: dict[str, Any]
    path_remaining: str = ""
    # Channels OriginValidator instances around this route (outermost first): their check runs at connect.
    validators: tuple[Any, ...] = ()

    @property
    def consumer_class(self) -> type | None:
        return getattr(self.app, "consumer_class", None)


@dataclass
class Routing:
    """The websocket routes of the configured application and the middleware found around them."""

    routes: Sequence[Any]
    middleware: list[str] = field(default_factory=list)
    validators: list[Any] = field(default_factory=list)
    _cache: dict[str, Resolved | None] = field(default_factory=dict)

    def resolve(self, path: str) -> Resolved | None:
        """The consumer for ``path`` (for example ``/ws/chat/lobby/``), or None when no route matches."""
        if path in self._cache:
            return self._cache[path]
        found = _match(self.routes, path.lstrip("/"), (), {}, [], tuple(self.validators))
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[path] = found
        return found


def _unwrap(app: Any, middleware: list[str], validators: list[Any] | None = None) -> Any:
    """Look through middleware (objects wrapping an application as ``inner``, ``application`` or ``app``),
    noting their class names and any origin validators."""
    seen = 0
    while app is not None and seen < 32:
        if hasattr(app, "consumer_class") or hasattr(app, "routes") or isinstance(app, (list, tuple)):
            return app
        mapping = getattr(app, "application_mapping", None)
        if isinstance(mapping, dict):  # ProtocolTypeRouter
            app = mapping.get("websocket")
            continue
        inner = next((getattr(app, name) for name in _WRAPPED_ATTRIBUTES if getattr(app, name, None) is not None),
                     None)
        if inner is None:
            return app
        name = type(app).__name__
        if name not in middleware:
            middleware.append(name)
        if validators is not None and callable(getattr(app, "valid_origin", None)):
            validators.append(app)
        app, seen = inner, seen + 1
    return app


def _match(routes: Sequence[Any], path: str, args: tuple[Any, ...], kwargs: dict[str, Any],
           middleware: list[str], validators: tuple[Any, ...]) -> Resolved | None:
    for route in routes:
        pattern = getattr(route, "pattern", None)
        if pattern is None:
            continue
        match = pattern.match(path)
        if not match:
            continue
        remaining, route_args, route_kwargs = match
        collected_args = args + tuple(route_args)
        collected_kwargs = {**kwargs, **route_kwargs, **getattr(route, "default_args", {})}
        found_validators: list[Any] = []
        target = _unwrap(route.callback, middleware, found_validators)
        route_validators = validators + tuple(found_validators)
        nested = getattr(target, "routes", None)
        if nested is not None and not hasattr(target, "consumer_class"):
            found = _match(nested, remaining, collected_args, collected_kwargs, middleware, route_validators)
            if found is not None:
                return found
            continue
        return Resolved(app=target, url_route={"args": collected_args, "kwargs": collected_kwargs},
                        path_remaining=remaining, validators=route_validators)
    return None


def _collect_middleware(routes: Sequence[Any], middleware: list[str], depth: int = 0) -> None:
    """Every middleware class name wrapped around any route, at any nesting level."""
    for route in routes:
        target = _unwrap(getattr(route, "callback", None), middleware)
        nested = getattr(target, "routes", None)
        if nested is not None and depth < 16 and not hasattr(target, "consumer_class"):
            _collect_middleware(nested, middleware, depth + 1)


_lock = threading.Lock()
_routing: dict[str, Routing] = {}


def application_path() -> str:
    dotted: str | None = ws_settings.CHANNELS_APPLICATION or getattr(settings, "ASGI_APPLICATION", None)
    if not dotted:
        raise ImproperlyConfigured(
            "The Channels bridge needs your websocket routes: set ASGI_APPLICATION (as Channels does) or "
            "WEBSOCKETS['CHANNELS_APPLICATION'] to the dotted path of your ProtocolTypeRouter, URLRouter or "
            "websocket_urlpatterns.")
    return dotted


def get_routing() -> Routing:
    """The configured websocket routing, loaded once per dotted path."""
    dotted = application_path()
    routing = _routing.get(dotted)
    if routing is None:
        with _lock:
            routing = _routing.get(dotted)
            if routing is None:
                routing = load_routing(import_string(dotted), dotted)
                _routing[dotted] = routing
    return routing


def load_routing(application: Any, name: str = "the application") -> Routing:
    middleware: list[str] = []
    validators: list[Any] = []
    target = _unwrap(application, middleware, validators)
    routes = target if isinstance(target, (list, tuple)) else getattr(target, "routes", None)
    if routes is None:
        raise ImproperlyConfigured(
            f"{name} has no websocket URLRouter: the Channels bridge needs a ProtocolTypeRouter with a "
            "'websocket' entry, a URLRouter, or a list of websocket URL patterns.")
    _collect_middleware(routes, middleware)
    return Routing(routes=routes, middleware=middleware, validators=validators)


def reset_routing() -> None:
    """Forget loaded routing (tests, settings changes)."""
    with _lock:
        _routing.clear()
