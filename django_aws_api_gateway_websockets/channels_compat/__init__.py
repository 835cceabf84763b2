"""Run Django Channels consumers on API Gateway + Lambda, unchanged (``pip install
django-aws-api-gateway-websockets[channels]``).

Settings::

    WEBSOCKETS = {"VIEW": "django_aws_api_gateway_websockets.channels_compat.ChannelsWebSocketView"}
    CHANNEL_LAYERS = {"default": {"BACKEND": "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"}}
    ASGI_APPLICATION = "mysite.asgi.application"  # as Channels has it: its websocket routes are used

Clients connect to the stage URL with the consumer's path as a query parameter:
``wss://<api>.execute-api.<region>.amazonaws.com/<stage>?path=/ws/chat/lobby/``.

Names are imported lazily, so this package (and its system checks) can be imported without Channels.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ChannelLayer", "ChannelsWebSocketView", "channel_name_for", "connection_id_of"]

_EXPORTS = {
    "ChannelLayer": ".layer",
    "ChannelsWebSocketView": ".views",
    "channel_name_for": ".names",
    "connection_id_of": ".names",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
