"""Connection sessions stored by the default (Django ORM) connection store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from .messaging import SendResult


class WebSocketSessionQuerySet(models.QuerySet["WebSocketSession"]):
    def connected(self) -> WebSocketSessionQuerySet:
        return self.filter(connected=True)

    def in_group(self, group: str) -> WebSocketSessionQuerySet:
        return self.filter(memberships__group=group)

    def send_message(self, data: Any, *, message_id: str | bool | None = None) -> SendResult:
        """Send ``data`` (JSON-serialisable) to every connected session of this queryset."""
        from .messaging import broadcast

        return broadcast(list(self.connected()), data, message_id=message_id)


class WebSocketSession(models.Model):
    """One WebSocket connection through API Gateway."""

    connection_id = models.CharField(max_length=128, unique=True)
    api_id = models.CharField(max_length=64, blank=True, default="")
    stage = models.CharField(max_length=128, blank=True, default="")
    domain_name = models.CharField(max_length=253, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="websocket_sessions",
    )
    user_name = models.CharField(max_length=150, blank=True, default="")
    # The user's session auth hash at connect: a changed password stops later messages.
    auth_hash = models.CharField(max_length=128, blank=True, default="", editable=False)
    connected = models.BooleanField(default=True, db_index=True)
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(default=timezone.now)
    message_count = models.PositiveBigIntegerField(default=0)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    disconnect_status_code = models.PositiveIntegerField(null=True, blank=True)
    disconnect_reason = models.CharField(max_length=255, blank=True, default="")
    # Application data kept with the connection (the Channels bridge's scope and state); not editable in the
    # admin, since it can hold the connection's session key.
    data = models.JSONField(default=dict, blank=True, editable=False)
    # Bumped by every change of ``data``: changes are compare-and-set on it, so concurrent events never lose one
    # another's writes, on any database (no row locks needed, none of SQLite's lock-upgrade deadlocks).
    data_version = models.PositiveIntegerField(default=0, editable=False)

    objects = WebSocketSessionQuerySet.as_manager()

    class Meta:
        verbose_name = "WebSocket session"
        ordering = ["-connected_at"]
        indexes = [models.Index(fields=["connected", "disconnected_at"], name="dawsws_sess_purge_idx")]

    def __str__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"{self.connection_id} ({state})"

    # Groups -----------------------------------------------------------------------------------------
    def join_group(self, group: str) -> None:
        """Join ``group`` if this connection is open (a closed one joins nothing); ValueError for a name no
        store accepts."""
        from .store.orm import OrmStore

        OrmStore(model=type(self)).join(self.connection_id, group)

    def leave_group(self, group: str) -> None:
        WebSocketGroupMembership.objects.filter(session=self, group=group).delete()

    def group_names(self) -> list[str]:
        return sorted(self.memberships.values_list("group", flat=True))

    # Messaging --------------------------------------------------------------------------------------
    def send_message(self, data: Any, *, message_id: str | bool | None = None) -> SendResult:
        """Send ``data`` (JSON-serialisable) to this connection through the @connections API."""
        from .messaging import broadcast

        return broadcast([self], data, message_id=message_id)

    def close(self) -> bool:
        """Ask API Gateway to close this connection; True when it was open."""
        from .messaging import close_connection

        return close_connection(self)


class WebSocketGroupMembership(models.Model):
    """A connection's membership of a named group; a connection can be in any number of groups."""

    session = models.ForeignKey(WebSocketSession, on_delete=models.CASCADE, related_name="memberships")
    group = models.CharField(max_length=150, db_index=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "WebSocket group membership"
        constraints = [models.UniqueConstraint(fields=["session", "group"], name="dawsws_unique_membership")]

    def __str__(self) -> str:
        return f"{self.session.connection_id} in {self.group}"


class ConnectTokenUse(models.Model):
    """A connect token that was used once: a second use is a replay and is refused."""

    token_id = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "used connect token"

    def __str__(self) -> str:
        return self.token_id
