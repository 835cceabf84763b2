"""URLs for API Gateway's HTTP integration (and the Lambda adapter): the path carries the route kind.

Either include this module, with ``WEBSOCKETS["VIEW"]`` naming your view::

    path("ws/", include("django_aws_api_gateway_websockets.urls"))

or build the patterns for a view yourself::

    path("ws/", include(websocket_urls(ChatView)))

Both give ``POST ws/connect``, ``POST ws/disconnect`` and ``POST ws/messages`` in the ``websockets``
namespace, and ``GET ws/token`` (a connect token for the logged-in user).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils.module_loading import import_string

from .conf import ws_settings

app_name = "websockets"

# Messages first: Django tries the patterns in order, and most events are messages.
KIND_PATHS = {"message": "messages", "connect": "connect", "disconnect": "disconnect"}


def websocket_urls(view_class: Any, **initkwargs: Any) -> tuple[list[URLPattern], str]:
    """URL patterns for ``view_class`` and the app name, ready for ``include()``."""
    from .views import connect_token

    view = view_class.as_view(**initkwargs)
    patterns = [path(sub, view, {"route_kind": kind}, name=kind) for kind, sub in KIND_PATHS.items()]
    patterns.append(path("token", connect_token, name="token"))
    return patterns, app_name


def _configured_patterns() -> list[URLPattern]:
    dotted: str | None = ws_settings.VIEW
    if not dotted:
        return []
    return websocket_urls(import_string(dotted))[0]


urlpatterns = _configured_patterns()
