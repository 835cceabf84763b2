"""Logging out closes the user's sockets; saving or deleting a user makes this process check it again at its next
message."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import connection_cache
from .conf import ws_settings
from .store import get_store

logger = logging.getLogger("django_aws_api_gateway_websockets")


@receiver(user_logged_out, dispatch_uid="django_aws_api_gateway_websockets.close_on_logout")
def close_connections_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if not ws_settings.CLOSE_ON_LOGOUT or user is None or not getattr(user, "is_authenticated", False):
        return
    store = get_store()
    connections = store.user_connections(str(user.pk))
    if connections:
        from .messaging import close_and_forget, close_connections

        ids = [c.connection_id for c in connections]
        # Closed in the store first (later messages are refused at once), presence groups hearing that they left;
        # then API Gateway is asked to close the sockets (their $disconnect finds them closed: no second "left").
        close_and_forget(store, ids, lambda: [store.disconnect(cid, reason="logout") for cid in ids])
        logger.info("Closing %d WebSocket connection(s) of user %s on logout", len(connections), user.pk)
        close_connections(connections)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="django_aws_api_gateway_websockets.revalidate_user")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL,
          dispatch_uid="django_aws_api_gateway_websockets.revalidate_deleted_user")
def revalidate_saved_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A user saved (deactivated, a new password) or deleted in this process is checked again at its sockets' next
    message here; other processes notice within WEBSOCKETS["USER_REVALIDATE_INTERVAL"]."""
    connection_cache.get_cache().forget_user(str(instance.pk))
