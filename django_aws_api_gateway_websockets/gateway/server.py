"""The aiohttp application: WebSocket upgrades become API Gateway events for the Lambda handler, the
@connections API answers in AWS's wire format, and every other request is served by the Django app."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web

from ..events import Connection, new_connection_id
from ..routing import select_route_key
from . import http_bridge, management_api
from .config import GatewayConfig
from .frames import FrameGuard
from .registry import LiveSocket, Registry
from .sqs_poller import SqsPoller

logger = logging.getLogger("django_aws_api_gateway_websockets.gateway")

CONFIG = web.AppKey("config", GatewayConfig)
REGISTRY = web.AppKey("registry", Registry)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
SQS_POLLER = web.AppKey("sqs_poller", SqsPoller)


class _GuardedParser:
    """Stands between aiohttp's connection and its WebSocket frame parser, applying the frame limit."""

    def __init__(self, parser: Any, ws: LimitedWebSocketResponse, limit: int) -> None:
        self._parser = parser
        self._ws = ws
        self._guard = FrameGuard(limit)

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        passed = self._guard.filter(data)
        if self._guard.tripped and not self._ws.frame_too_big:
            self._ws.frame_too_big = True
            # The same path aiohttp takes for a message over max_msg_size: close with 1009.
            self._ws._reader.set_exception(WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, "Frame too big"))  # type: ignore[union-attr]
        return self._parser.feed_data(passed) if passed else (False, b"")

    def feed_eof(self) -> None:
        self._parser.feed_eof()


class LimitedWebSocketResponse(web.WebSocketResponse):
    """A WebSocket response that also enforces API Gateway's frame size limit."""

    def __init__(self, *args: Any, max_frame_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_frame_bytes = max_frame_bytes
        self.frame_too_big = False

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler = request.protocol
        if getattr(handler, "_payload_parser", None) is self._parser:
            handler._payload_parser = _GuardedParser(self._parser, self, self.max_frame_bytes)
        else:  # pragma: no cover - an aiohttp without this hook: only the message limit applies
            logger.warning("aiohttp changed: the %d byte frame limit is not enforced", self.max_frame_bytes)


def _run_handler(app: web.Application, event: dict[str, Any]) -> asyncio.Future[Any]:
    """The Lambda handler called in the worker pool (Lambda-like concurrency), never on the event loop."""
    return asyncio.get_running_loop().run_in_executor(app[EXECUTOR], app[CONFIG].handler, event, None)


def _result(future: asyncio.Future[Any]) -> dict[str, Any]:
    try:
        result = future.result()
    except Exception:  # the handler is meant never to raise; if it does, behave like a failed invocation
        logger.exception("Lambda handler raised")
        return {"statusCode": 502, "body": '{"message": "Internal server error"}'}
    return result if isinstance(result, dict) else {"statusCode": 502, "body": ""}


async def call_handler(app: web.Application, event: dict[str, Any]) -> dict[str, Any]:
    """Run the Lambda handler for ``event`` and return its response (502 for a handler that raised)."""
    future = _run_handler(app, event)
    await asyncio.wait([future])
    return _result(future)


def _status(result: dict[str, Any]) -> int:
    try:
        return int(result.get("statusCode", 502))
    except (TypeError, ValueError):
        return 502


async def _disconnect_once(app: web.Application, connection: Connection, code: int, reason: str) -> None:
    """Send the connection's one $disconnect; cancelling the caller does not cancel it."""
    logger.info("disconnected %s (%s %s)", connection.connection_id, code, reason)
    await asyncio.shield(call_handler(app, connection.disconnect_event(code, reason)))


async def websocket(request: web.Request) -> web.StreamResponse:
    """One socket's life. Every $connect the handler accepts is followed by exactly one $disconnect, whatever
    the client does: it may reset the TCP connection while $connect runs, during the handshake or at any time
    after, and the gateway itself may be shut down meanwhile."""
    app = request.app
    config, registry = app[CONFIG], app[REGISTRY]
    connection = Connection(
        api_id=config.api_id,
        stage=config.stage,
        domain_name=config.domain_name,
        region=config.region,
        source_ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
        connection_id=new_connection_id(),
    )
    query: dict[str, list[str]] = {}
    for key, value in request.rel_url.query.items():
        query.setdefault(key, []).append(value)
    pending = _run_handler(app, connection.connect_event(raw_headers=list(request.headers.items()), query=query or None))
    try:
        await asyncio.shield(pending)
    except asyncio.CancelledError:
        # Cancelled (shutdown) while $connect runs: if the handler accepts, that connection must still end.
        def finish(future: asyncio.Future[Any]) -> None:
            if 200 <= _status(_result(future)) < 300:
                asyncio.ensure_future(_disconnect_once(app, connection, 1006, "Gateway shut down during the handshake"))

        pending.add_done_callback(finish)
        raise
    result = _result(pending)
    status = _status(result)
    if not 200 <= status < 300:
        # A non-2xx $connect response refuses the handshake with that status, as API Gateway does.
        logger.info("$connect refused with %s for %s", status, connection.connection_id)
        return web.Response(status=status, text=str(result.get("body") or ""), content_type="application/json")
    headers = result.get("headers") or {}
    protocol = next((v for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None)
    ws = LimitedWebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=config.max_message_bytes,
                                  max_frame_bytes=config.max_frame_bytes, autoping=True, heartbeat=None,
                                  compress=False)  # API Gateway negotiates no permessage-deflate
    socket = LiveSocket(ws=ws, connection=connection, transport=request.transport,
                        max_buffered_bytes=config.max_buffered_bytes)
    code, reason = 1006, ""
    try:
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("the client went away during $connect")
        await ws.prepare(request)
        registry.add(socket)
        logger.info("connected %s (%d open)", connection.connection_id, len(registry))
        code, reason = await _receive_loop(app, socket)
    except (ConnectionError, OSError) as exc:
        logger.info("connection %s lost: %s", connection.connection_id, exc)
    finally:
        registry.remove(connection.connection_id)
        socket.stop_writer()
        if socket.dropped is not None:
            code, reason = socket.dropped
        if not ws.closed and ws.prepared and socket.dropped is None:
            try:
                await asyncio.wait_for(ws.close(code=code, message=reason.encode()), 5)
            except (ConnectionError, OSError, asyncio.TimeoutError):
                pass
        await _disconnect_once(app, connection, code, reason)
    if not ws.prepared:  # the client left before the handshake answer: nothing to send
        return web.Response(status=400)
    return ws


BINARY_REFUSED = "Binary frames are not supported"


async def _receive_loop(app: web.Application, socket: LiveSocket) -> tuple[int, str]:
    """Read messages until either side closes; return the close code and reason for ``$disconnect``."""
    config = app[CONFIG]
    ws, connection = socket.ws, socket.connection
    deadline = socket.connected_at + config.max_lifetime
    while True:
        now = time.time()
        idle_left = socket.last_active + config.idle_timeout - now
        life_left = deadline - now
        if life_left <= 0 or idle_left <= 0:
            reason = "Going away" if idle_left <= 0 else "Going away (connection lifetime reached)"
            await ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())
            return 1001, reason
        try:
            message = await ws.receive(timeout=min(idle_left, life_left))
        except asyncio.TimeoutError:
            continue
        if message.type == WSMsgType.BINARY:
            # API Gateway takes no binary frames from clients: it closes the socket with 1003 ("Binary media
            # types for WebSocket APIs"); the client must send binary data as text (base64).
            await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=BINARY_REFUSED.encode())
            return int(WSCloseCode.UNSUPPORTED_DATA), BINARY_REFUSED
        if message.type == WSMsgType.TEXT:
            socket.touch()
            body = message.data
            route_key = select_route_key(body, config.routes, config.route_selection_key)
            event = connection.message_event(body, route_key=route_key)
            result = await call_handler(app, event)
            reply = result.get("body")
            if (route_key in config.two_way_routes) and reply and not ws.closed:
                socket.send(str(reply))  # after any earlier push, never blocking on a slow reader
            continue
        if message.type == WSMsgType.CLOSE:
            return int(message.data or 1005), str(message.extra or "")
        if message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
            if socket.dropped is not None:
                return socket.dropped
            if socket.closing_by_server:
                return 1000, ""
            return int(ws.close_code or 1006), ""
        if message.type == WSMsgType.ERROR:
            # aiohttp has already closed the socket with the protocol error's code (1009 for a message over
            # max_msg_size, as API Gateway answers one over 128 KB).
            code = int(getattr(message.data, "code", 0) or WSCloseCode.PROTOCOL_ERROR)
            if code == WSCloseCode.MESSAGE_TOO_BIG:
                reason = "Frame too big" if getattr(ws, "frame_too_big", False) else "Message too big"
            else:
                reason = str(message.data)[:120]
            return code, reason


async def fallthrough(request: web.Request) -> web.StreamResponse:
    """WebSocket upgrades at / or /{stage}; everything else goes to Django through the handler."""
    config = request.app[CONFIG]
    if request.headers.get("Upgrade", "").lower() == "websocket" and request.path in ("/", f"/{config.stage}",
                                                                                      f"/{config.stage}/"):
        return await websocket(request)
    if config.serve_static and request.method in ("GET", "HEAD"):
        static = http_bridge.static_response(request.path)
        if static is not None:
            return static
    result = await call_handler(request.app, await http_bridge.to_event(request, config.domain_name, config.api_id))
    return http_bridge.to_response(result)


async def _close_sockets(app: web.Application) -> None:
    for socket in app[REGISTRY].all():
        await close_socket(socket, WSCloseCode.GOING_AWAY, "Server shutdown")


async def close_socket(socket: LiveSocket, code: int, reason: str) -> None:
    """Close with a close frame; a client too slow to take even that is dropped."""
    try:
        await asyncio.wait_for(socket.ws.close(code=code, message=reason.encode()), 5)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        socket.drop(1006, reason)


async def _start_sqs_poller(app: web.Application) -> None:
    config = app[CONFIG]
    assert config.sqs is not None
    poller = app[SQS_POLLER] = SqsPoller(config.sqs, config.handler, app[EXECUTOR])
    await poller.start()


async def _stop_sqs_poller(app: web.Application) -> None:
    if SQS_POLLER in app:
        await app[SQS_POLLER].stop()


async def _stop_executor(app: web.Application) -> None:
    app[EXECUTOR].shutdown(wait=False, cancel_futures=True)


def build_app(config: GatewayConfig) -> web.Application:
    app = web.Application(client_max_size=config.max_message_bytes + 1024)
    app[CONFIG] = config
    app[REGISTRY] = Registry()
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="lambda")
    app.add_routes(management_api.routes(config, app[REGISTRY]))
    app.router.add_route("*", "/{tail:.*}", fallthrough)
    app.on_shutdown.append(_close_sockets)
    if config.sqs is not None:
        app.on_startup.append(_start_sqs_poller)
        app.on_shutdown.append(_stop_sqs_poller)
    app.on_cleanup.append(_stop_executor)
    return app


async def serve(config: GatewayConfig, ready: Any = None) -> None:
    """Serve until cancelled; ``ready(config)`` is called once the port is listening."""
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=4096)
    await site.start()
    if config.port == 0:
        config.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if ready is not None:
        ready(config)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(config: GatewayConfig, ready: Any = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            await serve(config, ready)
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
