"""``ChannelsWebSocketView``: every API Gateway WebSocket event runs the project's Channels consumer.

A :class:`~django_aws_api_gateway_websockets.views.WebSocketView`, so every check of the base view applies
unchanged (required headers, API id, shared secret, origin, connect rate limits, the session-cookie or
connect-token user, the user re-checked at every message, the store, the Lambda adapter's path). Then, per
event, one ASGI message goes to a fresh consumer instance:

=================  =====================================  ==============================================
event              consumer receives                      what it sends becomes
=================  =====================================  ==============================================
``$connect``       ``websocket.connect``                  accept: 200 (with its subprotocol); close or no
                                                          accept: 403; frames: queued, sent once open
message            ``websocket.receive`` (``text``)       frames: the last one is the route's reply, the
                                                          others go through @connections, in order;
                                                          close: DeleteConnection (the client sees 1000)
``$disconnect``    ``websocket.disconnect`` (``code``)    nothing (the socket is gone)
=================  =====================================  ==============================================

A consumer that raises gets the client a JSON error (``{"error": "Internal server error."}``, status 500) on
a message, a refused handshake (500) on connect; the socket stays open and the error is logged with its
traceback. A frame the consumer cannot take (not JSON for a JSON consumer or for the consumer's own
``json.loads``, binary or empty where only text goes, nested deeper than ``max_json_depth``) is the client's
error: 400, logged at WARNING.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import classonlymethod

from .. import signals
from ..aio import run_async
from ..conf import ws_settings
from ..store import Connection
from ..views import WebSocketView, request_context
from . import delivery
from .names import channel_name_for
from .routing import Resolved, get_routing
from .runner import EventContext, Outcome, current_event, run_consumer
from .scope import (ATTRS_KEY, OPEN_KEY, PENDING_KEY, SCOPE_KEY, STATE_KEY, client_headers, build_scope,
                    connect_essentials, event_scope)

logger = logging.getLogger("django_aws_api_gateway_websockets.channels")

_PATH_RE = re.compile(r"^/[\x21-\x7e]{0,511}$")  # printable ASCII, no spaces: what a URL path can carry


def _nested_deeper_than(raw: bytes, limit: int) -> bool:
    """True when the brackets and braces of ``raw`` (outside JSON strings) nest deeper than ``limit``, whether or
    not ``raw`` is JSON. Frames with fewer brackets than the limit cannot, so most frames skip the walk."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D) and depth:  # ] }
            depth -= 1
    return False


_JSON_RECEIVES: tuple[Any, ...] | None = None


@functools.lru_cache(maxsize=256)
def _frame_kinds(consumer_class: type) -> tuple[bool, bool]:
    """(takes only non-empty text, takes bytes) for a consumer class: Channels' JSON consumers raise ValueError
    on a binary or empty frame; a ``receive`` without ``bytes_data`` (the tutorial's ``receive(self,
    text_data)``) raises TypeError on a binary one. Both are the frame's fault, known before the consumer runs."""
    global _JSON_RECEIVES
    if _JSON_RECEIVES is None:
        from channels.generic.websocket import AsyncJsonWebsocketConsumer, JsonWebsocketConsumer

        _JSON_RECEIVES = (JsonWebsocketConsumer.receive, AsyncJsonWebsocketConsumer.receive)
    receive = getattr(consumer_class, "receive", None)
    if receive is None:
        return False, True
    try:
        parameters = inspect.signature(receive).parameters.values()
    except (TypeError, ValueError):
        return receive in _JSON_RECEIVES, True
    takes_bytes = any(p.name == "bytes_data" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    return receive in _JSON_RECEIVES, takes_bytes


def _unfit_frame(consumer_class: type | None, message: dict[str, Any]) -> str | None:
    """Why the consumer cannot take this frame at all (a 400 for the client), or None."""
    if consumer_class is None:
        return None
    text_only, takes_bytes = _frame_kinds(consumer_class)
    if text_only and not message.get("text"):
        return "This consumer takes JSON text frames only."
    if "bytes" in message and not takes_bytes:
        return "This consumer takes text frames only."
    return None


def _frame_decode_error(error: BaseException, message: dict[str, Any]) -> json.JSONDecodeError | None:
    """``error`` when it is the JSON decoder failing on the frame itself (a JSON consumer's ``decode_json``, or a
    consumer's own ``json.loads(text_data)``), not on anything else the consumer parsed; else None."""
    if isinstance(error, json.JSONDecodeError) and "text" in message and error.doc == message["text"]:
        return error
    return None


async def _run_event(resolved: Resolved, scope: dict[str, Any], message: dict[str, Any], event: EventContext,
                     attributes: dict[str, Any] | None) -> Outcome:
    token = current_event.set(event)
    try:
        return await run_consumer(resolved.app, scope, message, channel_name_for(event.connection_id),
                                  sink=event.outbox, attributes=attributes)
    finally:
        current_event.reset(token)  # async_to_sync copies context variables back to the calling thread


class ChannelsWebSocketView(WebSocketView):
    """Runs Channels consumers (``WEBSOCKETS["VIEW"]`` names this class, or a subclass)."""

    # Channels needs no cookie (a connect token or an anonymous user will do) and checks Origin only when the
    # browser sends one, through the base view's origin check and any OriginValidator in your ASGI app.
    required_connection_headers = ["Sec-Websocket-Key", "Sec-Websocket-Version"]
    # A consumer's state lives in the connection's data, which every event may change: read it from the store.
    cache_connections = False

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Any:  # type: ignore[override]
        # Never inside ATOMIC_REQUESTS: Channels closes stale database connections around every handler
        # (close_old_connections), which inside a transaction would roll the whole event back.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    # $connect ------------------------------------------------------------------------------------------------
    def connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        try:
            return self._connect(request)
        except Exception:
            logger.exception("Channels bridge failed at connect (%s)", self.connection_id)
            if self.connection is not None:
                self.store.disconnect(self.connection_id, reason="error at connect")
            return JsonResponse({"error": "Internal server error."}, status=500)

    def _connect(self, request: HttpRequest) -> HttpResponse:
        path = request.GET.get(ws_settings.CHANNELS_PATH_PARAM) or "/"
        if not _PATH_RE.match(path):
            return self._error(400, f"'{ws_settings.CHANNELS_PATH_PARAM}' must be a URL path such as /ws/chat/lobby/.")
        resolved = get_routing().resolve(path)
        if resolved is None:
            return self._error(404, f"No consumer route for {path!r} (connect with "
                                    f"?{ws_settings.CHANNELS_PATH_PARAM}=/your/route/).")
        origin = request.META.get("HTTP_ORIGIN")
        try:
            parsed_origin = urlparse(origin) if origin else None
            origin_ok = all(validator.valid_origin(parsed_origin) for validator in resolved.validators)
        except ValueError:  # an Origin urlparse cannot read ("http://["): never an allowed one
            origin_ok = False
        if not origin_ok:
            return self._error(403, "Forbidden: the consumer's OriginValidator refuses this origin.")

        essentials = connect_essentials(request, path)
        connection = replace(self.new_connection(request), data={SCOPE_KEY: essentials, STATE_KEY: {}, OPEN_KEY: 1})
        self.store.connect(connection)  # first: the consumer's connect() may join groups
        self.connection = connection
        scope = build_scope(essentials, user=request.user, state={}, connect_headers=client_headers(request))
        scope.update(url_route=resolved.url_route, path_remaining=resolved.path_remaining)
        event = EventContext(connection.connection_id, "connect")
        outcome = run_async(_run_event, resolved, scope, {"type": "websocket.connect"}, event, None)
        outcome = self._keep_state(connection, scope, outcome)

        if outcome.error is not None:
            self.store.disconnect(connection.connection_id, reason="consumer error at connect")
            return self._consumer_error(outcome, "connect")
        if not outcome.accepted:
            self.store.disconnect(connection.connection_id, reason="refused by consumer")
            if not outcome.closed:
                logger.warning("%s neither accepted nor closed %s; refused", self._consumer_name(resolved),
                               connection.connection_id)
            return self._error(403, "Connection refused by the consumer.")
        close = outcome if outcome.closed else event.close
        if event.outbox or close is not None:
            pending = delivery.encode_pending(event.outbox, close.close_code if close is not None else None)
            self.store.update_data(connection.connection_id, {PENDING_KEY: pending})
            delivery.schedule_connect_flush(replace(connection, data={**connection.data, PENDING_KEY: pending}))
        logger.info("WebSocket connected: %s to %s (user %s)", connection.connection_id,
                    self._consumer_name(resolved), connection.user_id)
        signals.websocket_connected.send(sender=type(self), request=request, connection=connection)
        response = JsonResponse({"connected": True})
        if outcome.subprotocol:
            response["Sec-WebSocket-Protocol"] = outcome.subprotocol
        return response

    # Messages ------------------------------------------------------------------------------------------------
    def _dispatch_message(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return self._message(request)
        except Exception:  # the socket stays open: the client gets a JSON error, the log the traceback
            logger.exception("Channels bridge failed on a message (%s)", self.connection_id)
            return JsonResponse({"error": "Internal server error."}, status=500)

    def _message(self, request: HttpRequest) -> HttpResponse:
        if self.body_error is not None and self.body_not_json:
            # Any text is a frame for the consumer, JSON or not; the size and depth limits still hold, for
            # text that only looks like JSON too ("[[[[..." is not JSON, and still too deep for json.loads).
            self.body_error = None
            if _nested_deeper_than(request.body, self.max_json_depth):
                self.body_error = (400, f"Message body is nested too deeply (at most {self.max_json_depth} levels).")
        refused = self._open_message(request)
        if refused is not None:
            return refused
        connection = self.connection
        assert connection is not None
        scope = event_scope(connection, user=request.user)
        if scope is None:
            return self._error(400, "This connection was not opened through the Channels bridge.")
        resolved = get_routing().resolve(scope["path"])
        if resolved is None:
            return self._error(404, f"No consumer route for {scope['path']!r} any more.")
        if PENDING_KEY in connection.data:
            delivery.flush_pending(connection)  # what the consumer sent while connecting goes first
        scope.update(url_route=resolved.url_route, path_remaining=resolved.path_remaining)
        raw = request.body
        try:
            message: dict[str, Any] = {"type": "websocket.receive", "text": raw.decode("utf-8")}
        except UnicodeDecodeError:
            message = {"type": "websocket.receive", "bytes": raw}
        unfit = _unfit_frame(resolved.consumer_class, message)
        if unfit is not None:
            return self._error(400, unfit)
        signals.websocket_message_received.send(sender=type(self), request=request, connection=connection,
                                                route="$default", body=self.body)
        event = EventContext(connection.connection_id, "message")
        outcome = run_async(_run_event, resolved, scope, message, event, connection.data.get(ATTRS_KEY))
        outcome = self._keep_state(connection, scope, outcome)

        frames = list(event.outbox)
        close = outcome if outcome.closed else event.close
        if outcome.error is not None or close is not None or (frames and frames[-1].text is None):
            reply = None
        else:
            reply = frames.pop() if frames else None
        if frames:
            delivery.post_frames([(connection, frames)])
        if outcome.error is not None:
            decode_error = _frame_decode_error(outcome.error, message)
            if decode_error is not None:
                # The client's frame, not the consumer, is at fault: 400 and a warning, not a server error.
                return self._error(400, f"Message is not valid JSON ({decode_error.msg}).")
            return self._consumer_error(outcome, "message")
        if close is not None:
            delivery.close(connection, close.close_code)
            return HttpResponse(b"", status=200)
        if reply is None:
            return HttpResponse(b"", status=200)
        return HttpResponse(reply.payload, status=200, content_type="text/plain; charset=utf-8")

    # $disconnect ---------------------------------------------------------------------------------------------
    def disconnect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            self._consumer_disconnect(request)
        except Exception:
            logger.exception("Channels bridge failed at disconnect (%s)", self.connection_id)
        return super().disconnect(request, *args, **kwargs)  # the connection is closed in the store anyway

    def _consumer_disconnect(self, request: HttpRequest) -> None:
        # The consumer sees its disconnect once, even when API Gateway repeats the event or the server closed
        # the socket (and marked it disconnected) first.
        connection = self.store.get(self.connection_id) if self.connection_id else None
        scope = event_scope(connection) if connection is not None else None
        resolved = get_routing().resolve(scope["path"]) if scope is not None else None
        if (connection is not None and scope is not None and resolved is not None
                and self.store.pop_data(connection.connection_id, OPEN_KEY) is not None):
            status_code = request_context(request).get("disconnectStatusCode")
            code = status_code if isinstance(status_code, int) else 1005
            scope.update(url_route=resolved.url_route, path_remaining=resolved.path_remaining)
            event = EventContext(connection.connection_id, "disconnect")
            outcome = run_async(_run_event, resolved, scope, {"type": "websocket.disconnect", "code": code}, event,
                                connection.data.get(ATTRS_KEY))
            if outcome.error is not None:
                self._log_consumer_error(outcome, "disconnect")
            if event.outbox or PENDING_KEY in connection.data:
                logger.info("%d frame(s) for %s dropped: the socket is closed", len(event.outbox),
                            connection.connection_id)

    # Helpers -------------------------------------------------------------------------------------------------
    def _keep_state(self, connection: Connection, scope: dict[str, Any], outcome: Outcome) -> Outcome:
        """Store ``scope["connection_state"]`` and the consumer's attributes if the event changed them; what
        cannot be kept (not JSON, too big) is the consumer's error."""
        try:
            changes = delivery.state_changes(scope, outcome, delivery.snapshot(connection))
        except (TypeError, ValueError) as exc:
            if outcome.error is None:
                outcome.error = exc
        else:
            if changes:
                self.store.update_data(connection.connection_id, changes)
        return outcome

    @staticmethod
    def _consumer_name(resolved: Resolved) -> str:
        cls = resolved.consumer_class
        return f"{cls.__module__}.{cls.__qualname__}" if cls is not None else repr(resolved.app)

    def _log_consumer_error(self, outcome: Outcome, kind: str) -> None:
        logger.error("Channels consumer raised during %s (%s)", kind, self.connection_id, exc_info=outcome.error)

    def _consumer_error(self, outcome: Outcome, kind: str) -> JsonResponse:
        self._log_consumer_error(outcome, kind)
        return JsonResponse({"error": "Internal server error."}, status=500)
