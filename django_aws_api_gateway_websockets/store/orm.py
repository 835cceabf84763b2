"""Connection store on the Django ORM (:class:`~django_aws_api_gateway_websockets.models.WebSocketSession`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import F
from django.utils import timezone

from ..models import ConnectTokenUse, WebSocketGroupMembership, WebSocketSession
from .base import Connection, ConnectionStore, check_group_name, clean_text


def _to_connection(session: WebSocketSession) -> Connection:
    return Connection(
        connection_id=session.connection_id,
        api_id=session.api_id,
        stage=session.stage,
        domain_name=session.domain_name,
        user_id=None if session.user_id is None else str(session.user_id),
        user_name=session.user_name,
        auth_hash=session.auth_hash,
        connected=session.connected,
        client_ip=session.client_ip,
        user_agent=session.user_agent,
        connected_at=session.connected_at,
        data=session.data if isinstance(session.data, dict) else {},
    )


_FIELDS = ("connection_id", "api_id", "stage", "domain_name", "user_id", "user_name", "auth_hash", "connected", "client_ip",
           "user_agent", "connected_at", "data")
# Columns whose database value needs the field's converters (a raw RETURNING row bypasses the ORM).
_CONVERTED = ("connected_at", "data")


# Databases whose UPDATE ... RETURNING the hot path uses (one statement per message).
_RETURNING_VENDORS = ("sqlite", "postgresql")


class OrmStore(ConnectionStore):
    def __init__(self, model: type[WebSocketSession] | None = None) -> None:
        self.model = model or WebSocketSession
        self._sql: dict[str, str] = {}  # the UPDATE ... RETURNING statements, built once

    def _field(self, name: str) -> models.Field[Any, Any]:
        field = self.model._meta.get_field(name)
        assert isinstance(field, models.Field)
        return field

    def touch(self, connection_id: str) -> Connection | None:
        """One ``UPDATE ... RETURNING`` statement on SQLite and PostgreSQL; two queries elsewhere."""
        db = self._db()
        if db.vendor not in _RETURNING_VENDORS:
            return super().touch(connection_id)
        return self._update_returning(db, "touch", [self._prep_seen(db, timezone.now()), connection_id])

    def record_activity(self, connection_id: str, count: int, last_seen: datetime) -> Connection | None:
        """One ``UPDATE ... RETURNING`` on SQLite and PostgreSQL (two queries elsewhere): ``count`` messages added
        whether or not the connection is still open, last-seen moved forward only."""
        db = self._db()
        if db.vendor not in _RETURNING_VENDORS:
            self._add_activity(connection_id, count, last_seen)
            found = self.get(connection_id)
            return found if found is not None and found.connected else None
        seen = self._prep_seen(db, last_seen)
        connection = self._update_returning(db, "activity", [count, seen, seen, connection_id])
        return connection if connection is not None and connection.connected else None

    def _db(self) -> Any:
        """The database connection this store writes to (looked up once per operation)."""
        return connections[router.db_for_write(self.model)]

    def _prep_seen(self, connection: Any, value: datetime) -> Any:
        return self._field("last_seen").get_db_prep_value(value, connection)

    def _update_returning(self, connection: Any, kind: str, params: list[Any]) -> Connection | None:
        """Run the ``UPDATE ... RETURNING`` statement ``kind`` (built once per store) and read its row."""
        sql = self._sql.get(kind)
        if sql is None:
            quote = connection.ops.quote_name

            def column(name: str) -> str:
                return quote(self._field(name).column)

            table, columns = quote(self.model._meta.db_table), ", ".join(column(name) for name in _FIELDS)
            count, seen, cid = column("message_count"), column("last_seen"), column("connection_id")
            if kind == "touch":
                change, where = f"{count} = {count} + 1, {seen} = %s", f"{cid} = %s AND {column('connected')}"
            else:
                change, where = f"{count} = {count} + %s, {seen} = CASE WHEN {seen} < %s THEN %s ELSE {seen} END", f"{cid} = %s"
            sql = self._sql[kind] = f"UPDATE {table} SET {change} WHERE {where} RETURNING {columns}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        values = dict(zip(_FIELDS, row, strict=True))
        for name in _CONVERTED:
            col = self._field(name).get_col(self.model._meta.db_table)
            for converter in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
                values[name] = converter(values[name], col, connection)
        return Connection(
            connection_id=values["connection_id"],
            api_id=values["api_id"],
            stage=values["stage"],
            domain_name=values["domain_name"],
            user_id=None if values["user_id"] is None else str(values["user_id"]),
            user_name=values["user_name"],
            auth_hash=values["auth_hash"],
            connected=bool(values["connected"]),
            client_ip=values["client_ip"],
            user_agent=values["user_agent"],
            connected_at=values["connected_at"],
            data=values["data"] if isinstance(values["data"], dict) else {},
        )

    def connect(self, connection: Connection) -> None:
        """One ``INSERT ... ON CONFLICT DO NOTHING``: the first write for an id wins, whether it was this connect,
        a repeated one, or the closed record its own early ``$disconnect`` left (the connection stays closed)."""
        session = self.model(
            connection_id=connection.connection_id,
            api_id=connection.api_id,
            stage=connection.stage,
            domain_name=connection.domain_name,
            user_id=connection.user_id,
            user_name=clean_text(connection.user_name, 150),
            auth_hash=connection.auth_hash,
            client_ip=connection.client_ip,
            user_agent=clean_text(connection.user_agent, 512),
            connected_at=connection.connected_at,
            last_seen=connection.connected_at,
            data=dict(connection.data),
        )
        self.model.objects.bulk_create([session], ignore_conflicts=True)

    def disconnect(self, connection_id: str, status_code: int | None = None, reason: str = "") -> bool:
        """Close the connection, in any order with its ``$connect`` and under any concurrency: an ``UPDATE`` of
        the open row; when there is none, a closed row inserted (``ON CONFLICT DO NOTHING``) so a late connect
        opens nothing, then the ``UPDATE`` again for a connect that committed in between. Memberships go too."""
        now = timezone.now()
        closed = {"connected": False, "disconnected_at": now, "last_seen": now,
                  "disconnect_status_code": status_code, "disconnect_reason": clean_text(reason, 255)}
        open_rows = self.model.objects.filter(connection_id=connection_id, connected=True)
        changed = open_rows.update(**closed)
        if not changed:
            self.model.objects.bulk_create([self.model(connection_id=connection_id, **closed)], ignore_conflicts=True)
            changed = open_rows.update(**closed)
        WebSocketGroupMembership.objects.filter(session__connection_id=connection_id).delete()
        return changed > 0

    def get(self, connection_id: str) -> Connection | None:
        session = self.model.objects.filter(connection_id=connection_id).first()
        return None if session is None else _to_connection(session)

    def record_message(self, connection_id: str) -> None:
        self.model.objects.filter(connection_id=connection_id).update(
            message_count=F("message_count") + 1, last_seen=timezone.now()
        )

    def _add_activity(self, connection_id: str, count: int, last_seen: datetime) -> None:
        rows = self.model.objects.filter(connection_id=connection_id)
        rows.update(message_count=F("message_count") + count)
        rows.filter(last_seen__lt=last_seen).update(last_seen=last_seen)

    def mark_gone(self, connection_ids: Iterable[str]) -> int:
        ids = list(connection_ids)
        if not ids:
            return 0
        now = timezone.now()
        changed = self.model.objects.filter(connection_id__in=ids, connected=True).update(
            connected=False, disconnected_at=now, disconnect_reason="gone"
        )
        # Every membership of these connections, also of ones that were already closed.
        WebSocketGroupMembership.objects.filter(session__connection_id__in=ids).delete()
        return changed

    def join(self, connection_id: str, group: str) -> None:
        """Join only an open connection, atomically with respect to its ``$disconnect``: the connection row is
        locked (``SELECT ... FOR UPDATE``; SQLite serialises writers) while the membership is written."""
        check_group_name(group)
        with transaction.atomic(using=router.db_for_write(self.model)):
            session = self.model.objects.select_for_update().filter(connection_id=connection_id, connected=True).first()
            if session is not None:
                WebSocketGroupMembership.objects.bulk_create(
                    [WebSocketGroupMembership(session=session, group=group)], ignore_conflicts=True)

    def leave(self, connection_id: str, group: str) -> None:
        WebSocketGroupMembership.objects.filter(session__connection_id=connection_id, group=group).delete()

    def groups_of(self, connection_id: str) -> list[str]:
        return sorted(
            WebSocketGroupMembership.objects.filter(session__connection_id=connection_id).values_list(
                "group", flat=True
            )
        )

    def group_connections(self, group: str) -> list[Connection]:
        return [_to_connection(s) for s in self.model.objects.connected().in_group(group)]

    def group_members_page(self, group: str, limit: int, after: str | None = None) -> tuple[list[Connection], bool]:
        """One query of three columns, ``LIMIT limit + 1``, ordered by the (unique, indexed) connection id."""
        rows = self.model.objects.connected().in_group(group)
        if after is not None:
            rows = rows.filter(connection_id__gt=after)
        found = [Connection(connection_id=cid, user_id=None if uid is None else str(uid), user_name=name)
                 for cid, uid, name in rows.order_by("connection_id").values_list(
                     "connection_id", "user_id", "user_name")[:limit + 1]]
        return found[:limit], len(found) > limit

    def group_recipients(self, group: str) -> list[Connection]:
        """One query of the four columns a send needs (not the rows' data, user agent, ...)."""
        rows = self.model.objects.connected().in_group(group).order_by()
        return [Connection(connection_id=cid, api_id=api_id, stage=stage, domain_name=domain)
                for cid, api_id, stage, domain in rows.values_list("connection_id", "api_id", "stage", "domain_name")]

    def user_connections(self, user_id: str) -> list[Connection]:
        return [_to_connection(s) for s in self.model.objects.connected().filter(user_id=user_id)]

    def purge(self, older_than: datetime) -> int:
        ConnectTokenUse.objects.filter(expires_at__lt=timezone.now()).delete()
        _, per_model = self.model.objects.filter(connected=False, disconnected_at__lt=older_than).delete()
        return per_model.get(self.model._meta.label, 0)

    def use_token(self, token_id: str, expires_at: datetime) -> bool:
        try:
            with transaction.atomic():
                ConnectTokenUse.objects.create(token_id=token_id, expires_at=expires_at)
        except IntegrityError:
            return False
        return True

    def get_many(self, connection_ids: Iterable[str]) -> list[Connection]:
        ids = list(dict.fromkeys(connection_ids))
        found: list[Connection] = []
        for start in range(0, len(ids), 500):  # under every backend's limit on query parameters
            found += [_to_connection(s) for s in self.model.objects.filter(connection_id__in=ids[start:start + 500])]
        return found

    def _change_data(self, connection_id: str,
                     change: Callable[[dict[str, Any]], tuple[dict[str, Any] | None, Any]]) -> tuple[bool, Any]:
        """Apply ``change`` (data -> new data or None for no write, result) as a compare-and-set on
        ``data_version``, retrying when another event changed the data in between. (False, None): unknown."""
        rows = self.model.objects.filter(connection_id=connection_id)
        for _ in range(50):
            found = rows.values_list("data", "data_version").first()
            if found is None:
                return False, None
            data = dict(found[0]) if isinstance(found[0], dict) else {}
            new, result = change(data)
            if new is None or rows.filter(data_version=found[1]).update(data=new, data_version=found[1] + 1):
                return True, result
        raise RuntimeError(f"The data of connection {connection_id} kept changing; gave up after 50 attempts.")

    def update_data(self, connection_id: str, changes: Mapping[str, Any]) -> bool:
        def change(data: dict[str, Any]) -> tuple[dict[str, Any], None]:
            for key, value in changes.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            return data, None

        return self._change_data(connection_id, change)[0]

    def pop_data(self, connection_id: str, key: str) -> Any:
        def change(data: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
            if key not in data:
                return None, None
            return data, data.pop(key)

        return self._change_data(connection_id, change)[1]
