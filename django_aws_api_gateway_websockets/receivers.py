"""Logging out closes the user's sockets."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .conf import ws_settings
from .store import get_store

logger = logging.getLogger("django_aws_api_gateway_websockets")


@receiver(user_logged_out, dispatch_uid="django_aws_api_gateway_websockets.close_on_logout")
def close_connections_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if not ws_settings.CLOSE_ON_LOGOUT or user is None or not getattr(user, "is_authenticated", False):
        return
    store = get_store()
    connections = store.user_connections(str(user.pk))
    for connection in connections:
        store.disconnect(connection.connection_id, reason="logout")
    if connections:
        logger.info("Closing %d WebSocket connection(s) of user %s on logout", len(connections), user.pk)
        from .messaging import close_connections

        close_connections(connections)
