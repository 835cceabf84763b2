"""System checks for the Channels bridge; they run only when ``WEBSOCKETS["VIEW"]`` is a ChannelsWebSocketView."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from ..conf import ws_settings

_ID = "django_aws_api_gateway_websockets"
_BRIDGE = "django_aws_api_gateway_websockets.channels_compat.views"
LAYER = "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"


def _bridge_configured() -> bool:
    try:
        view = import_string(ws_settings.VIEW) if ws_settings.VIEW else None
    except Exception:
        return False  # the main checks report an unimportable VIEW
    return isinstance(view, type) and any(klass.__module__ == _BRIDGE for klass in view.__mro__)


@register(Tags.compatibility)
def check_channels_bridge(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not _bridge_configured():
        return []
    from .routing import REPLACED_MIDDLEWARE, get_routing

    messages: list[CheckMessage] = []
    try:
        routing = get_routing()
    except Exception as exc:
        return [Error(f"The Channels bridge cannot load your websocket routes: {exc}", id=f"{_ID}.E101",
                      hint="Set ASGI_APPLICATION (or WEBSOCKETS['CHANNELS_APPLICATION']) to your ProtocolTypeRouter.")]
    skipped = [name for name in routing.middleware if name not in REPLACED_MIDDLEWARE]
    if skipped:
        messages.append(Warning(
            f"ASGI middleware not run by the Channels bridge: {', '.join(skipped)}.", id=f"{_ID}.W101",
            hint="The bridge view authenticates (session cookie or connect token), checks the origin and builds "
                 "scope['user'] and scope['session'] itself; move other middleware logic into the consumer or "
                 "a ChannelsWebSocketView subclass."))
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    backend = (layers.get("default") or {}).get("BACKEND") if isinstance(layers, dict) else None
    if backend is None:
        messages.append(Warning(
            "No CHANNEL_LAYERS['default']: consumers get no channel_name and cannot use groups.", id=f"{_ID}.W102",
            hint=f"CHANNEL_LAYERS = {{'default': {{'BACKEND': '{LAYER}'}}}}"))
    else:
        try:
            from .layer import ChannelLayer

            layer_class = import_string(backend)
            ours = isinstance(layer_class, type) and issubclass(layer_class, ChannelLayer)
        except Exception:
            ours = False
        if not ours:
            messages.append(Error(
                f"CHANNEL_LAYERS['default'] uses {backend}: on API Gateway no process listens on its channels, "
                "so group_send and send would reach nobody.", id=f"{_ID}.E102",
                hint=f"Use '{LAYER}' (groups in the connection store, delivery through @connections)."))
    return messages
