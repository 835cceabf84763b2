"""Running one ASGI message through a consumer, to completion, and collecting what it sends.

A Channels consumer is a long-lived ASGI application: ``AsyncConsumer.__call__`` asks the channel layer for a
channel name, then loops over two sources, the client's ``receive`` and the layer's ``receive`` for its
channel, dispatching each message to the handler its ``type`` names, until ``StopConsumer``. Here each
API Gateway event is one fresh consumer instance: its ``receive`` hands over the one message of the event,
and the next call raises ``StopConsumer``, which ends the consumer cleanly once that message's handler has
returned; the layer's ``receive`` for the connection's channel never yields (group messages arrive as events
of their own, see :mod:`.layer`).

What the consumer sends (``websocket.accept``, ``websocket.send``, ``websocket.close``) is recorded in an
:class:`Outcome` for the caller to map onto API Gateway.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from channels.exceptions import StopConsumer

logger = logging.getLogger("django_aws_api_gateway_websockets.channels")


@dataclass
class Frame:
    text: str | None = None
    data: bytes | None = None  # a binary frame

    @property
    def payload(self) -> bytes:
        return self.text.encode() if self.text is not None else (self.data or b"")


@dataclass
class Outcome:
    """What one consumer run did."""

    accepted: bool = False
    subprotocol: str | None = None
    closed: bool = False
    close_code: int | None = None
    close_reason: str = ""
    frames: list[Frame] = field(default_factory=list)
    error: BaseException | None = None
    # The consumer instance's attributes after the event, those JSON can hold (None: not a consumer class).
    attributes: dict[str, Any] | None = None


@dataclass
class Running:
    """The consumer run in progress in this context: its channel and where its output goes."""

    channel_name: str
    outcome: Outcome


@dataclass
class EventContext:
    """The API Gateway event being handled: frames for its own connection collect in ``outbox`` (they go out
    with the event's reply, or are queued during ``$connect``), not through @connections."""

    connection_id: str
    kind: str  # "connect", "message" or "disconnect"
    outbox: list[Frame] = field(default_factory=list)
    close: Outcome | None = None  # a close asked for the event's own connection by a handler run for it


current_run: contextvars.ContextVar[Running | None] = contextvars.ContextVar("dawsws_channels_run", default=None)
current_event: contextvars.ContextVar[EventContext | None] = contextvars.ContextVar("dawsws_channels_event",
                                                                                     default=None)
# How deep group_send / send calls are nested (a handler run by group_send sending again, ...).
current_depth: contextvars.ContextVar[int] = contextvars.ContextVar("dawsws_channels_depth", default=0)


# Attributes Channels itself sets on a consumer: never carried from one event to the next.
FRAMEWORK_ATTRIBUTES = frozenset({"scope", "channel_layer", "channel_layer_alias", "channel_name",
                                  "channel_receive", "base_send", "groups"})
_skipped_logged: set[tuple[str, str]] = set()


def _attributes_of(consumer: Any) -> dict[str, Any]:
    """The consumer's own attributes that JSON can hold (what survives to the connection's next event)."""
    kept: dict[str, Any] = {}
    for name, value in vars(consumer).items():
        if name in FRAMEWORK_ATTRIBUTES:
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            key = (type(consumer).__qualname__, name)
            if key not in _skipped_logged:
                _skipped_logged.add(key)
                logger.warning("%s.%s is a %s, which cannot be kept between events (only JSON values can); it "
                               "will be missing at the connection's next event", key[0], name,
                               type(value).__name__)
            continue
        kept[name] = value
    return kept


async def run_consumer(app: Any, scope: dict[str, Any], message: dict[str, Any], channel_name: str,
                       sink: list[Frame] | None = None, attributes: dict[str, Any] | None = None) -> Outcome:
    """Feed ``message`` to a fresh instance of the consumer ``app`` and return what it did. An exception raised
    by the consumer is kept in ``Outcome.error`` (what it sent before is kept too). Frames are appended to
    ``sink`` when given (the event's outbox, shared with what group messages send to the same connection).

    For an ``as_asgi()`` application the instance is made here, from the ``consumer_class`` and
    ``consumer_initkwargs`` that ``as_asgi`` records, so ``attributes`` kept from the connection's earlier
    events can be put back on it before it handles this one (``Outcome.attributes`` has them afterwards)."""
    outcome = Outcome() if sink is None else Outcome(frames=sink)
    token = current_run.set(Running(channel_name=channel_name, outcome=outcome))
    delivered = False
    handled = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            handled.set()  # asked for the next message: the event's one message was handled
            await asyncio.Event().wait()  # never returns; the run is cancelled
        delivered = True
        return message

    async def send(sent: dict[str, Any]) -> None:
        kind = sent.get("type")
        if outcome.closed:
            logger.debug("Ignored %s after close on %s", kind, channel_name)
            return
        if kind == "websocket.accept":
            outcome.accepted = True
            outcome.subprotocol = sent.get("subprotocol")
            if sent.get("headers"):
                logger.info("Handshake headers from accept() are not supported by API Gateway; ignored.")
        elif kind == "websocket.send":
            text, data = sent.get("text"), sent.get("bytes")
            if text is not None:
                outcome.frames.append(Frame(text=str(text)))
            elif data is not None:
                outcome.frames.append(Frame(data=bytes(data)))
            else:
                raise ValueError("websocket.send needs 'text' or 'bytes'")
        elif kind == "websocket.close":
            outcome.closed = True
            code = sent.get("code")
            outcome.close_code = int(code) if isinstance(code, int) else 1000
            outcome.close_reason = str(sent.get("reason") or "")
        elif kind == "websocket.http.response.start":  # a denial response: API Gateway refuses the handshake
            outcome.closed = True
            outcome.close_code = int(sent.get("status", 403))
        elif kind == "websocket.http.response.body":
            pass
        else:
            raise ValueError(f"Unsupported ASGI message type {kind!r} sent by a websocket consumer")

    consumer_class = getattr(app, "consumer_class", None)
    consumer: Any = None
    try:
        if consumer_class is not None:
            consumer = consumer_class(**getattr(app, "consumer_initkwargs", {}))
            for name, value in (attributes or {}).items():
                setattr(consumer, name, value)
            running = asyncio.ensure_future(consumer(scope, receive, send))
        else:
            running = asyncio.ensure_future(app(scope, receive, send))
        waiting = asyncio.ensure_future(handled.wait())
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            waiting.cancel()
            running.result()  # StopConsumer (after a disconnect) or the consumer's error
        else:
            # The consumer waits for a message that will never come (it is a new event, a new instance):
            # cancelling it lets Channels' own clean-up run, every task it started cancelled and awaited.
            running.cancel()
            try:
                await running
            except asyncio.CancelledError:
                pass
    except StopConsumer:
        pass
    except Exception as exc:  # kept for the caller: a JSON error for the client, a log line, the socket kept
        outcome.error = exc
    finally:
        current_run.reset(token)
    if consumer is not None:
        outcome.attributes = _attributes_of(consumer)
    return outcome
