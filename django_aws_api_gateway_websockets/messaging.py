"""Pushing data to browsers through API Gateway's @connections management API.

``broadcast`` is the one sending primitive: it serialises the payload once, sends concurrently over pooled
keep-alive connections (see :mod:`.sender`), retries throttled posts with backoff, marks gone connections
disconnected in one batched write and reports what happened in a :class:`SendResult`. Closing a connection
and reading its details use a boto3 ``apigatewaymanagementapi`` client per endpoint.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import boto3
from asgiref.sync import sync_to_async
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.asyncio import async_unsafe

from . import connection_cache, fanout, observability, presence
from .conf import region, ws_settings
from .fanout import EnqueuedBroadcast
from .sender import FORBIDDEN, GONE, SENT, Post, get_sender, is_gone
from .snapstart import after_restore
from .store import get_store

logger = logging.getLogger("django_aws_api_gateway_websockets")
T = TypeVar("T")

MAX_PAYLOAD_BYTES = 128 * 1024
MESSAGE_ID_KEY = "messageId"
# Plain http:// only for exactly these hosts (a local gateway); anything else, "127.example.com" included,
# gets https://, since posts carry signed credentials.
_LOOPBACK_RE = re.compile(r"^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$", re.IGNORECASE)


class ConnectionLike(Protocol):
    """A store ``Connection`` or a ``WebSocketSession``: what sending needs to know about a connection."""

    @property
    def connection_id(self) -> str: ...

    @property
    def domain_name(self) -> str: ...

    @property
    def stage(self) -> str: ...


class MessagingPermissionError(PermissionError):
    """The function may not use the @connections API (403)."""


@dataclass
class SendResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0
    gone_ids: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)
    # The id put in the payload (``message_id=...``), for the client to drop duplicates; None without one.
    message_id: str | None = None
    # A broadcast handed to the queue (``send_to_group`` on a group over BROADCAST_QUEUE_THRESHOLD): what was
    # enqueued (chunks, recipients); sent/gone/failed then stay 0 here, delivery happens in the queue's worker.
    enqueued: EnqueuedBroadcast | None = None

    @property
    def queued(self) -> int:
        """Recipients handed to the broadcast queue (0 for a broadcast sent in the caller)."""
        return self.enqueued.recipients if self.enqueued is not None else 0

    @property
    def total(self) -> int:
        return self.sent + self.gone + self.failed


def encode(data: Any) -> bytes:
    """Serialise ``data`` as JSON; ValueError when it is over API Gateway's 128 KB message limit."""
    payload = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"WebSocket message is {len(payload)} bytes of JSON; API Gateway accepts at most "
            f"{MAX_PAYLOAD_BYTES} bytes (128 KB)."
        )
    return payload


def endpoint_for(connection: ConnectionLike) -> str:
    """The @connections endpoint for ``connection``: the ENDPOINT_URL setting, else from what was stored at
    connect (execute-api domain + stage, a custom domain + its API mapping key, or a local gateway)."""
    override: str | None = ws_settings.ENDPOINT_URL
    if override:
        return override.rstrip("/")
    domain = connection.domain_name
    if not domain:
        raise ValueError(f"Connection {connection.connection_id} has no domain name; set WEBSOCKETS['ENDPOINT_URL'].")
    if domain.endswith(".amazonaws.com"):
        return f"https://{domain}/{connection.stage}".rstrip("/")
    if _LOOPBACK_RE.match(domain):
        return f"http://{domain}/{connection.stage}".rstrip("/")
    mapping: str = ws_settings.API_MAPPING_KEY or ""
    return f"https://{domain}/{mapping.strip('/')}".rstrip("/")


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
after_restore(_clients.clear)  # boto3 clients hold connection pools and credentials


def client_for(endpoint: str) -> Any:
    """A boto3 ``apigatewaymanagementapi`` client for ``endpoint`` (closing connections, reading their
    details), created once per endpoint and region and shared by threads."""
    key = (endpoint, region())
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                config = Config(
                    retries={"mode": "standard", "max_attempts": 1 + int(ws_settings.MAX_RETRIES)},
                    connect_timeout=5,
                    read_timeout=10,
                    tcp_keepalive=True,
                )
                client = boto3.session.Session().client(
                    "apigatewaymanagementapi", endpoint_url=endpoint, region_name=region(), config=config
                )
                _clients[key] = client
    return client


def _error_code(error: ClientError) -> tuple[str, int]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def _permission_error(detail: str, endpoint: str) -> MessagingPermissionError:
    return MessagingPermissionError(
        f"API Gateway refused the @connections call to {endpoint} (403): the caller needs "
        "'execute-api:ManageConnections' on 'arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/POST/@connections/*' "
        f"(AWS said: {detail})"
    )


MessageId = str | bool | None


def _sync_only(name: str, alternative: str) -> Any:
    """Refuse a blocking send from a thread running an event loop (an async route handler, an async view) with
    SynchronousOnlyOperation naming the async variant: waiting there for the posts (and store calls) would stall
    every coroutine on that loop, the process's one shared loop under a WebSocketView. Django's own guard, so
    ``DJANGO_ALLOW_ASYNC_UNSAFE`` lifts it as it does for the ORM."""
    return async_unsafe(f"{name}() blocks the event loop it is called from: in async code, {alternative} instead.")


def with_message_id(data: Any, message_id: MessageId) -> tuple[Any, str | None]:
    """``data`` with ``"messageId"`` added (a fresh random id for ``True``, the given string as is)."""
    if message_id is None or message_id is False:
        return data, None
    if not isinstance(data, Mapping):
        raise TypeError("message_id needs a JSON object (a dict) as the payload, to carry 'messageId'.")
    value = uuid.uuid4().hex if message_id is True else str(message_id)
    return {**data, MESSAGE_ID_KEY: value}, value


@_sync_only("broadcast", "await abroadcast(...)")
def broadcast(connections: Sequence[ConnectionLike], data: Any, *, message_id: MessageId = None) -> SendResult:
    """Send ``data`` to every connection, concurrently; gone connections are marked disconnected.

    Delivery is at least once: a post that failed ambiguously (a timeout, a reset after sending, a 5xx) is
    retried and may arrive twice; one known to be delivered never is. ``message_id=True`` (a fresh id) or a
    string puts ``"messageId"`` in the payload, the same for every recipient, so clients can drop duplicates.
    """
    data, id_ = with_message_id(data, message_id)
    result = broadcast_payload(connections, encode(data))
    result.message_id = id_
    return result


def _posts(connections: Sequence[ConnectionLike], payload: bytes) -> list[Post]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"WebSocket message is {len(payload)} bytes; API Gateway accepts at most "
                         f"{MAX_PAYLOAD_BYTES} bytes (128 KB).")
    return [Post(endpoint_for(c), c.connection_id) for c in connections]


def _sending() -> dict[str, Any]:
    return {"region": region(), "concurrency": int(ws_settings.MAX_WORKERS), "retries": int(ws_settings.MAX_RETRIES)}


@_sync_only("broadcast_payload", "await abroadcast_payload(...)")
def broadcast_payload(connections: Sequence[ConnectionLike], payload: bytes) -> SendResult:
    """Send ``payload``, bytes exactly as given (a text frame's UTF-8, or binary), to every connection, as
    :func:`broadcast` does."""
    posts = _posts(connections, payload)
    if not posts:
        return SendResult()
    outcomes = get_sender().post_many(posts, payload, **_sending())
    result, forbidden = _tally(posts, outcomes)
    if result.gone_ids:
        _mark_gone(result.gone_ids)
    if forbidden is not None:
        raise _permission_error(*forbidden)
    return result


def _mark_gone(connection_ids: list[str]) -> None:
    """Gone connections are marked disconnected (and forgotten by this process's connection cache); presence
    groups they were in hear that they left."""
    mark_gone_and_announce(get_store(), connection_ids)


def mark_gone_and_announce(store: Any, connection_ids: list[str]) -> None:
    close_and_forget(store, connection_ids, lambda: store.mark_gone(connection_ids))


def close_and_forget(store: Any, connection_ids: list[str], close: Callable[[], T]) -> T:
    """Run ``close`` (which ends the connections), announcing ``left`` in their presence groups, then forget them
    in this process's connection cache (later messages on them are refused here)."""
    result = presence.close_and_announce(store, connection_ids, close)
    connection_cache.connections_closed(connection_ids)
    return result


def _tally(posts: Sequence[Post], outcomes: Sequence[Any]) -> tuple[SendResult, tuple[str, str] | None]:
    result = SendResult()
    forbidden = None
    for post, outcome in zip(posts, outcomes, strict=True):
        if outcome.status == SENT:
            result.sent += 1
        elif outcome.status == GONE:
            result.gone += 1
            result.gone_ids.append(post.connection_id)
        else:
            result.failed += 1
            result.failed_ids.append(post.connection_id)
            if outcome.status == FORBIDDEN:
                forbidden = (outcome.detail, post.endpoint)
    observability.record_broadcast(result)
    return result, forbidden


def _open_connection(connection_id: str) -> Any:
    connection = get_store().get(connection_id)
    return connection if connection is not None and connection.connected else None


@_sync_only("send_to_connection", "await asend_to_connection(...)")
def send_to_connection(connection_id: str, data: Any, *, message_id: MessageId = None) -> SendResult:
    connection = _open_connection(connection_id)
    if connection is None:
        return SendResult(gone=1, gone_ids=[connection_id])
    return broadcast([connection], data, message_id=message_id)


@_sync_only("send_to_user", "await asend_to_user(...)")
def send_to_user(user: Any, data: Any, *, message_id: MessageId = None) -> SendResult:
    """Send to every open connection of ``user`` (a user object or a primary key)."""
    user_id = str(getattr(user, "pk", user))
    return broadcast(get_store().user_connections(user_id), data, message_id=message_id)


@_sync_only("send_to_group", "await asend_to_group(...)")
def send_to_group(group: str, data: Any, *, message_id: MessageId = None) -> SendResult:
    """Send to every member of ``group``. A group larger than ``WEBSOCKETS["BROADCAST_QUEUE_THRESHOLD"]`` goes
    through the broadcast queue when ``BROADCAST_QUEUE_URL`` is set: the result's ``enqueued`` says what was
    queued, and the function's SQS worker delivers it (see :mod:`.fanout`)."""
    return send_to_members(get_store().group_recipients(group), data, message_id=message_id)


@_sync_only("send_to_members", "await abroadcast(...)")
def send_to_members(members: Sequence[ConnectionLike], data: Any, *, message_id: MessageId = None) -> SendResult:
    """Send to connections read from a group (what :func:`send_to_group` does once it has read the group): more
    than ``BROADCAST_QUEUE_THRESHOLD`` go through the broadcast queue when ``BROADCAST_QUEUE_URL`` is set."""
    if not fanout.should_enqueue(len(members)):
        return broadcast(members, data, message_id=message_id)
    return _enqueue(members, data, message_id)


def _enqueue(members: Sequence[ConnectionLike], data: Any, message_id: MessageId) -> SendResult:
    data, id_ = with_message_id(data, message_id)
    enqueued = fanout.enqueue([(endpoint_for(c), c.connection_id) for c in members], encode(data))
    return SendResult(message_id=id_, enqueued=enqueued)


@_sync_only("send_text_to_connection", "await asend_text_to_connection(...)")
def send_text_to_connection(connection_id: str, text: str) -> SendResult:
    """Send ``text`` as it is (a raw text frame, not JSON) to one connection; ValueError over 128 KB."""
    connection = _open_connection(connection_id)
    if connection is None:
        return SendResult(gone=1, gone_ids=[connection_id])
    return broadcast_payload([connection], text.encode("utf-8"))


# Async variants: for async route handlers and other async code. Store reads and writes run in
# ``sync_to_async`` (on the request's thread under a WebSocketView); the posts are awaited on the sender's
# loop, so the caller's event loop is never blocked.
async def abroadcast_payload(connections: Sequence[ConnectionLike], payload: bytes) -> SendResult:
    """:func:`broadcast_payload` for async code."""
    posts = _posts(connections, payload)
    if not posts:
        return SendResult()
    outcomes = await get_sender().apost_many(posts, payload, **_sending())
    result, forbidden = _tally(posts, outcomes)
    if result.gone_ids:
        await sync_to_async(_mark_gone)(result.gone_ids)
    if forbidden is not None:
        raise _permission_error(*forbidden)
    return result


async def abroadcast(connections: Sequence[ConnectionLike], data: Any, *, message_id: MessageId = None) -> SendResult:
    """:func:`broadcast` for async code."""
    data, id_ = with_message_id(data, message_id)
    result = await abroadcast_payload(connections, encode(data))
    result.message_id = id_
    return result


async def asend_to_connection(connection_id: str, data: Any, *, message_id: MessageId = None) -> SendResult:
    """:func:`send_to_connection` for async code."""
    connection = await sync_to_async(_open_connection)(connection_id)
    if connection is None:
        return SendResult(gone=1, gone_ids=[connection_id])
    return await abroadcast([connection], data, message_id=message_id)


async def asend_text_to_connection(connection_id: str, text: str) -> SendResult:
    """:func:`send_text_to_connection` for async code."""
    connection = await sync_to_async(_open_connection)(connection_id)
    if connection is None:
        return SendResult(gone=1, gone_ids=[connection_id])
    return await abroadcast_payload([connection], text.encode("utf-8"))


async def asend_to_user(user: Any, data: Any, *, message_id: MessageId = None) -> SendResult:
    """:func:`send_to_user` for async code."""
    user_id = str(getattr(user, "pk", user))
    connections = await sync_to_async(get_store().user_connections)(user_id)
    return await abroadcast(connections, data, message_id=message_id)


async def asend_to_group(group: str, data: Any, *, message_id: MessageId = None) -> SendResult:
    """:func:`send_to_group` for async code (a big group goes through the broadcast queue the same way)."""
    members = await sync_to_async(get_store().group_recipients)(group)
    if not fanout.should_enqueue(len(members)):
        return await abroadcast(members, data, message_id=message_id)
    return await sync_to_async(_enqueue)(members, data, message_id)


@_sync_only("close_connection", "await sync_to_async(close_connection)(...)")
def close_connection(connection: ConnectionLike) -> bool:
    """Ask API Gateway to close ``connection``; False when it was already gone."""
    endpoint = endpoint_for(connection)
    try:
        client_for(endpoint).delete_connection(ConnectionId=connection.connection_id)
    except ClientError as error:
        code, status = _error_code(error)
        if is_gone(code, status):
            _mark_gone([connection.connection_id])  # presence groups it was in hear that it left
            return False
        if status == 403:
            raise _permission_error(str(error), endpoint) from error
        raise
    store = get_store()
    # Its $disconnect will find the connection closed already: presence groups hear that it left from here.
    close_and_forget(store, [connection.connection_id],
                     lambda: store.disconnect(connection.connection_id, reason="closed by server"))
    return True


def close_connections(connections: Iterable[ConnectionLike]) -> None:
    """Close each connection, logging (not raising) failures: used on logout."""
    for connection in connections:
        try:
            close_connection(connection)
        except Exception as error:
            logger.warning("Could not close WebSocket %s: %s", connection.connection_id, error)


def connection_info(connection: ConnectionLike) -> dict[str, Any] | None:
    """API Gateway's view of the connection (connectedAt, identity, lastActiveAt), or None when gone."""
    try:
        response = client_for(endpoint_for(connection)).get_connection(ConnectionId=connection.connection_id)
    except ClientError as error:
        if is_gone(*_error_code(error)):
            return None
        raise
    response.pop("ResponseMetadata", None)
    return dict(response)
