"""Reading the WebSocket routes from the Django app itself: one source of truth for the API's routes."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RouteSpec:
    name: str
    reply: bool


@dataclass(frozen=True)
class ApiRoutes:
    selection_key: str
    routes: tuple[RouteSpec, ...]

    @property
    def selection_expression(self) -> str:
        return f"$request.body.{self.selection_key}"


def routes_from_django(settings_module: str = "app.settings") -> ApiRoutes:
    """The routes ``WEBSOCKETS["VIEW"]`` declares with ``@route`` and its ``route_selection_key``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    # Reading the routes needs the settings but no key (app.settings refuses to start without one, DEBUG off).
    os.environ.setdefault("DJANGO_SECRET_KEY", "cdk-synth-reads-the-routes-only")
    import django

    django.setup()
    from django_aws_api_gateway_websockets.routing import configured_view

    view = configured_view()
    specs = tuple(RouteSpec(name, route.reply) for name, route in sorted(view.routes.items()))
    return ApiRoutes(selection_key=view.route_selection_key, routes=specs)
