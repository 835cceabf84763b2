"""Connection store on DynamoDB (boto3): shared by every Lambda container, no VPC, scales with API Gateway.

Key design in :mod:`.dynamodb_schema`. Connect and disconnect are idempotent conditional writes; a
``$disconnect`` that arrives before its ``$connect`` leaves a closed record (with its TTL) that the late
connect cannot reopen. Group and user lookups are paginated queries, never scans; memberships are written
and removed with batched writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured

from ..conf import region, ws_settings
from . import dynamodb_schema as schema
from .base import Connection, ConnectionStore, check_group_name, clean_text

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# The connection facts copied onto membership items, so a group fan-out needs one query and no lookups.
_ENDPOINT_FIELDS = ("api_id", "stage", "domain_name", "user_id", "user_name")
# Each top-level key of ``Connection.data`` is one attribute of the connection item, "data:<key>", holding JSON
# text (DynamoDB maps cannot hold floats): one key can be set or removed atomically without touching the others.
_DATA_PREFIX = "data:"


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _connection(values: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=str(values["connection_id"]),
        api_id=str(values.get("api_id", "")),
        stage=str(values.get("stage", "")),
        domain_name=str(values.get("domain_name", "")),
        user_id=None if values.get("user_id") in (None, "") else str(values["user_id"]),
        user_name=str(values.get("user_name", "")),
        auth_hash=str(values.get("auth_hash", "")),
        connected=bool(values.get("connected", True)),
        client_ip=values.get("client_ip") or None,
        user_agent=str(values.get("user_agent", "")),
        connected_at=datetime.fromisoformat(values["connected_at"]) if values.get("connected_at")
        else datetime.now(timezone.utc),
        data={name[len(_DATA_PREFIX):]: json.loads(value) for name, value in values.items()
              if name.startswith(_DATA_PREFIX) and isinstance(value, str)},
    )


class DynamoDBStore(ConnectionStore):
    page_size: int | None = None  # DynamoDB's own 1 MB pages unless set (tests set it to force paging)

    def __init__(self, table_name: str | None = None, endpoint_url: str | None = None) -> None:
        self.table_name = table_name or ws_settings.DYNAMODB_TABLE
        if not self.table_name:
            raise ImproperlyConfigured("Set WEBSOCKETS['DYNAMODB_TABLE'] to use the DynamoDB connection store.")
        self.endpoint_url = endpoint_url or ws_settings.DYNAMODB_ENDPOINT_URL
        self._client = boto3.session.Session().client(
            "dynamodb", region_name=region(), endpoint_url=self.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64,
                          tcp_keepalive=True),
        )

    # Helpers -------------------------------------------------------------------------------------------------
    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {schema.PARTITION_KEY: {"S": pk}, schema.SORT_KEY: {"S": sk}}

    @staticmethod
    def _ttl(start: datetime | None = None) -> int:
        base = (start or datetime.now(timezone.utc)).timestamp()
        return int(base) + schema.CONNECTION_TTL_SECONDS

    def _query(self, pk: str, sk_prefix: str | None = None, index: str | None = None,
               consistent: bool = False, sk_after: str | None = None,
               page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item under a partition key (whose sort key begins with ``sk_prefix``, or is greater than
        ``sk_after``), in sort key order, page by page: a caller that stops early reads no further page."""
        key_name = schema.USER_INDEX_PARTITION_KEY if index else schema.PARTITION_KEY
        condition, sort_value = "", None
        if sk_after is not None:
            condition, sort_value = " AND #sk > :sk", sk_after
        elif sk_prefix:
            condition, sort_value = " AND begins_with(#sk, :sk)", sk_prefix
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk" + condition,
            "ExpressionAttributeNames": {"#pk": key_name, **({"#sk": schema.SORT_KEY} if condition else {})},
            "ExpressionAttributeValues": {":pk": {"S": pk}, **({":sk": {"S": sort_value}} if condition else {})},
        }
        if index:
            arguments["IndexName"] = index
        elif consistent:
            arguments["ConsistentRead"] = True
        sizes = [size for size in (self.page_size, page_size) if size]
        if sizes:
            arguments["Limit"] = min(sizes)
        while True:
            page = self._client.query(**arguments)
            for item in page.get("Items", []):
                yield _from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff."""
        for start in range(0, len(requests), 25):
            pending = {self.table_name: requests[start:start + 25]}
            for attempt in range(8):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError("DynamoDB kept returning unprocessed items")

    # ConnectionStore -------------------------------------------------------------------------------------------
    def connect(self, connection: Connection) -> None:
        values: dict[str, Any] = {
            schema.PARTITION_KEY: schema.CONNECTION_PREFIX + connection.connection_id,
            schema.SORT_KEY: schema.META,
            "connection_id": connection.connection_id,
            "api_id": connection.api_id,
            "stage": connection.stage,
            "domain_name": connection.domain_name,
            "user_id": connection.user_id,
            "user_name": clean_text(connection.user_name, 150),
            "auth_hash": connection.auth_hash,
            "connected": True,
            "client_ip": connection.client_ip,
            "user_agent": clean_text(connection.user_agent, 512),
            "connected_at": _iso(connection.connected_at),
            "last_seen": _iso(connection.connected_at),
            "message_count": 0,
            schema.TTL_ATTRIBUTE: self._ttl(connection.connected_at),
            **{_DATA_PREFIX + key: json.dumps(value) for key, value in connection.data.items() if value is not None},
        }
        if connection.user_id is not None:
            values[schema.USER_INDEX_PARTITION_KEY] = schema.USER_PREFIX + connection.user_id
            values[schema.USER_INDEX_SORT_KEY] = schema.CONNECTION_PREFIX + connection.connection_id
        try:
            # Only the first write wins: a repeated connect, or a connect after its own disconnect, changes nothing.
            self._client.put_item(TableName=self.table_name, Item=_to_item(values),
                                  ConditionExpression="attribute_not_exists(#pk)",
                                  ExpressionAttributeNames={"#pk": schema.PARTITION_KEY})
        except ClientError as error:
            if not _conditional_failed(error):
                raise

    def disconnect(self, connection_id: str, status_code: int | None = None, reason: str = "") -> bool:
        """Close the connection item (conditional update), then remove every membership it has: also when it
        was already closed, so a repeated $disconnect finishes a cleanup an earlier one could not."""
        closed = self._close(connection_id, status_code, clean_text(reason, 255))
        self._remove_memberships([connection_id])
        return closed

    def _close(self, connection_id: str, status_code: int | None, reason: str) -> bool:
        """Mark the connection item closed (creating it closed if its connect has not arrived yet)."""
        now = datetime.now(timezone.utc)
        names = {"#gsi": schema.USER_INDEX_PARTITION_KEY, "#ttl": schema.TTL_ATTRIBUTE}
        values: dict[str, Any] = {":f": {"BOOL": False}, ":now": {"S": _iso(now)}, ":reason": {"S": reason[:255]},
                                  ":ttl": {"N": str(self._ttl(now))}, ":cid": {"S": connection_id}}
        expression = ("SET connected = :f, disconnected_at = :now, last_seen = :now, disconnect_reason = :reason, "
                      "#ttl = if_not_exists(#ttl, :ttl), connection_id = :cid")
        if status_code is not None:
            expression += ", disconnect_status_code = :code"
            values[":code"] = {"N": str(status_code)}
        try:
            # Creates a closed record when the disconnect comes first (the late connect then finds it).
            response = self._client.update_item(
                TableName=self.table_name, Key=self._key(schema.CONNECTION_PREFIX + connection_id, schema.META),
                UpdateExpression=expression + " REMOVE #gsi",
                ConditionExpression="attribute_not_exists(connected) OR connected = :t",
                ExpressionAttributeNames=names, ExpressionAttributeValues={**values, ":t": {"BOOL": True}},
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False  # already disconnected
            raise
        # True only when an open connection was closed (not for a record created by an early disconnect).
        return "connected" in response.get("Attributes", {})

    def _remove_memberships(self, connection_ids: Iterable[str]) -> None:
        requests = []
        for connection_id in connection_ids:
            # Strongly consistent: a membership whose join committed before the close must be seen here.
            for item in self._query(schema.CONNECTION_PREFIX + connection_id, schema.GROUP_PREFIX, consistent=True):
                group = item[schema.SORT_KEY][len(schema.GROUP_PREFIX):]
                requests.append({"DeleteRequest": {"Key": self._key(item[schema.PARTITION_KEY], item[schema.SORT_KEY])}})
                requests.append({"DeleteRequest": {"Key": self._key(schema.GROUP_PREFIX + group,
                                                                    schema.CONNECTION_PREFIX + connection_id)}})
        self._batch_write(requests)

    def get(self, connection_id: str) -> Connection | None:
        response = self._client.get_item(TableName=self.table_name, ConsistentRead=True,
                                         Key=self._key(schema.CONNECTION_PREFIX + connection_id, schema.META))
        item = response.get("Item")
        return None if item is None else _connection(_from_item(item))

    def record_message(self, connection_id: str) -> None:
        self.touch(connection_id)

    def touch(self, connection_id: str) -> Connection | None:
        """One conditional UpdateItem: counts the message and returns the connection, if open."""
        try:
            response = self._client.update_item(
                TableName=self.table_name, Key=self._key(schema.CONNECTION_PREFIX + connection_id, schema.META),
                UpdateExpression="SET last_seen = :now ADD message_count :one",
                ConditionExpression="connected = :t",
                ExpressionAttributeValues={":now": {"S": _iso(datetime.now(timezone.utc))}, ":one": {"N": "1"},
                                           ":t": {"BOOL": True}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _connection(_from_item(response["Attributes"]))

    def record_activity(self, connection_id: str, count: int, last_seen: datetime) -> Connection | None:
        """One UpdateItem: adds ``count`` to the message count and moves last-seen forward (a second UpdateItem
        without last-seen when it is already newer), whether or not the connection is still open."""
        key = self._key(schema.CONNECTION_PREFIX + connection_id, schema.META)
        seen = {":seen": {"S": _iso(last_seen)}}
        arguments: dict[str, Any] = {"TableName": self.table_name, "Key": key, "ReturnValues": "ALL_NEW",
                                     "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY}}
        try:
            response = self._client.update_item(
                UpdateExpression="SET last_seen = :seen ADD message_count :n",
                ConditionExpression="attribute_exists(#pk) AND (attribute_not_exists(last_seen) OR last_seen < :seen)",
                ExpressionAttributeValues={":n": {"N": str(count)}, **seen}, **arguments)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            try:  # unknown, or last-seen already newer (another process wrote later, or it was closed since)
                response = self._client.update_item(
                    UpdateExpression="ADD message_count :n", ConditionExpression="attribute_exists(#pk)",
                    ExpressionAttributeValues={":n": {"N": str(count)}}, **arguments)
            except ClientError as again:
                if _conditional_failed(again):
                    return None
                raise
        connection = _connection(_from_item(response["Attributes"]))
        return connection if connection.connected else None

    def mark_gone(self, connection_ids: Iterable[str]) -> int:
        """One conditional update per connection (DynamoDB cannot batch updates), then every membership of
        every one of them removed in batched writes, also of connections that were already closed."""
        ids = list(dict.fromkeys(connection_ids))
        closed = [cid for cid in ids if self._close(cid, None, "gone")]
        self._remove_memberships(ids)
        return len(closed)

    def join(self, connection_id: str, group: str) -> None:
        """Join only an open connection: one transaction writes both membership items on the condition that
        the connection item says ``connected`` (a $disconnect racing the join either fails the condition or
        runs after it, and then removes what the join wrote)."""
        check_group_name(group)
        connection = self.get(connection_id)
        if connection is None or not connection.connected:
            return
        facts = {name: getattr(connection, name) for name in _ENDPOINT_FIELDS}
        ttl = self._ttl(connection.connected_at)
        meta_key = self._key(schema.CONNECTION_PREFIX + connection_id, schema.META)
        items = [
            {"ConditionCheck": {"TableName": self.table_name, "Key": meta_key, "ConditionExpression": "connected = :t",
                                "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
            {"Put": {"TableName": self.table_name,
                     "Item": _to_item({schema.PARTITION_KEY: schema.GROUP_PREFIX + group,
                                       schema.SORT_KEY: schema.CONNECTION_PREFIX + connection_id,
                                       "connection_id": connection_id, "group": group,
                                       schema.TTL_ATTRIBUTE: ttl, **facts})}},
            {"Put": {"TableName": self.table_name,
                     "Item": _to_item({schema.PARTITION_KEY: schema.CONNECTION_PREFIX + connection_id,
                                       schema.SORT_KEY: schema.GROUP_PREFIX + group, schema.TTL_ATTRIBUTE: ttl})}},
        ]
        for attempt in range(6):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    return  # closed meanwhile: nothing joined
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException" or \
                        "TransactionConflict" not in reasons or attempt == 5:
                    raise
                time.sleep(0.01 * 2**attempt)

    def leave(self, connection_id: str, group: str) -> None:
        self._batch_write([
            {"DeleteRequest": {"Key": self._key(schema.GROUP_PREFIX + group, schema.CONNECTION_PREFIX + connection_id)}},
            {"DeleteRequest": {"Key": self._key(schema.CONNECTION_PREFIX + connection_id, schema.GROUP_PREFIX + group)}},
        ])

    def groups_of(self, connection_id: str) -> list[str]:
        return sorted(item[schema.SORT_KEY][len(schema.GROUP_PREFIX):]
                      for item in self._query(schema.CONNECTION_PREFIX + connection_id, schema.GROUP_PREFIX))

    def group_connections(self, group: str) -> list[Connection]:
        """Members of a group: one paginated query; memberships are removed at disconnect, so all are open."""
        now = time.time()
        return [_connection({**item, "connected": True})
                for item in self._query(schema.GROUP_PREFIX + group, schema.CONNECTION_PREFIX)
                if int(item.get(schema.TTL_ATTRIBUTE, now + 1)) > now]

    def group_members_page(self, group: str, limit: int, after: str | None = None) -> tuple[list[Connection], bool]:
        """A query of the group's partition, in sort key (connection id) order, starting after ``after``'s
        membership item, ``Limit limit + 1``: it reads no more than the page (and the item that says more follow)."""
        now = time.time()
        found: list[Connection] = []
        start = None if after is None else schema.CONNECTION_PREFIX + after
        for item in self._query(schema.GROUP_PREFIX + group, schema.CONNECTION_PREFIX, sk_after=start,
                                page_size=limit + 1):
            if not str(item[schema.SORT_KEY]).startswith(schema.CONNECTION_PREFIX):
                break  # past the memberships (nothing else lives in a group's partition today)
            if int(item.get(schema.TTL_ATTRIBUTE, now + 1)) > now:
                found.append(_connection({**item, "connected": True}))
                if len(found) > limit:
                    break
        return found[:limit], len(found) > limit

    def user_connections(self, user_id: str) -> list[Connection]:
        return [_connection(item) for item in self._query(schema.USER_PREFIX + user_id, index=schema.USER_INDEX)
                if item.get("connected", True)]

    def purge(self, older_than: datetime) -> int:
        # DynamoDB's TTL deletes expired items by itself; nothing to scan for.
        return 0

    def use_token(self, token_id: str, expires_at: datetime) -> bool:
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=_to_item({schema.PARTITION_KEY: schema.TOKEN_PREFIX + token_id, schema.SORT_KEY: schema.USED,
                               schema.TTL_ATTRIBUTE: int(expires_at.timestamp()) + 60}),
                ConditionExpression="attribute_not_exists(#pk)", ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def get_many(self, connection_ids: Iterable[str]) -> list[Connection]:
        """BatchGetItem, 100 keys a call, retrying unprocessed keys with backoff."""
        keys = [self._key(schema.CONNECTION_PREFIX + cid, schema.META) for cid in dict.fromkeys(connection_ids)]
        found: list[Connection] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self.table_name: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
            for attempt in range(8):
                response = self._client.batch_get_item(RequestItems=pending)
                found += [_connection(_from_item(item)) for item in response.get("Responses", {}).get(self.table_name, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError("DynamoDB kept returning unprocessed keys")
        return found

    def update_data(self, connection_id: str, changes: Mapping[str, Any]) -> bool:
        names: dict[str, str] = {"#pk": schema.PARTITION_KEY}
        values: dict[str, Any] = {}
        sets, removes = [], []
        for i, (key, value) in enumerate(changes.items()):
            names[f"#d{i}"] = _DATA_PREFIX + key
            if value is None:
                removes.append(f"#d{i}")
            else:
                values[f":d{i}"] = {"S": json.dumps(value)}
                sets.append(f"#d{i} = :d{i}")
        if not sets and not removes:
            return self.get(connection_id) is not None
        expression = (f"SET {', '.join(sets)} " if sets else "") + (f"REMOVE {', '.join(removes)}" if removes else "")
        arguments: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self._client.update_item(
                TableName=self.table_name, Key=self._key(schema.CONNECTION_PREFIX + connection_id, schema.META),
                UpdateExpression=expression.strip(), ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames=names, **arguments,
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def pop_data(self, connection_id: str, key: str) -> Any:
        """One conditional UpdateItem that removes the attribute and returns its old value."""
        try:
            response = self._client.update_item(
                TableName=self.table_name, Key=self._key(schema.CONNECTION_PREFIX + connection_id, schema.META),
                UpdateExpression="REMOVE #d", ConditionExpression="attribute_exists(#d)",
                ExpressionAttributeNames={"#d": _DATA_PREFIX + key}, ReturnValues="UPDATED_OLD",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        old = response.get("Attributes", {}).get(_DATA_PREFIX + key, {}).get("S")
        return None if old is None else json.loads(old)
