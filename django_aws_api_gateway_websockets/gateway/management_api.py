"""The @connections management API in API Gateway's wire format, so boto3 works against it unchanged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from .config import GatewayConfig
from .registry import LiveSocket, Registry

Action = Callable[[web.Request, LiveSocket], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_POST_BYTES = 128 * 1024


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def routes(config: GatewayConfig, registry: Registry) -> list[web.RouteDef]:
    def authorised(request: web.Request) -> bool:
        # Any SigV4-signed request is accepted locally; an unsigned one is refused as AWS refuses it.
        return request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")

    def on_live_socket(action: Action) -> Handler:
        """Refuse unsigned calls (403) and unknown or closed connections (410), then run ``action``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            if not authorised(request):
                return aws_error(403, "ForbiddenException", "Missing Authentication Token")
            socket = registry.get(request.match_info["connection_id"])
            if socket is None:
                return aws_error(410, "GoneException", "Gone")
            return await action(request, socket)

        return handler

    async def post(request: web.Request, socket: LiveSocket) -> web.StreamResponse:
        data = await request.read()
        if len(data) > MAX_POST_BYTES:
            return aws_error(413, "PayloadTooLargeException", "Message too long")
        try:
            message: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            message = data
        # Queued for the client and answered at once, as API Gateway answers; a client that has left too much
        # unread is dropped and the post finds the connection gone.
        if not socket.send(message):
            return aws_error(410, "GoneException", "Gone")
        socket.touch()
        return web.Response(status=200)

    async def get(request: web.Request, socket: LiveSocket) -> web.StreamResponse:
        return web.json_response(socket.info())

    async def delete(request: web.Request, socket: LiveSocket) -> web.StreamResponse:
        from .server import close_socket

        socket.closing_by_server = True
        await close_socket(socket, 1000, "")
        return web.Response(status=204)

    defs: list[web.RouteDef] = []
    for prefix in ("", "/{stage}"):
        path = f"{prefix}/@connections/{{connection_id}}"
        defs += [web.post(path, on_live_socket(post)), web.get(path, on_live_socket(get)),
                 web.delete(path, on_live_socket(delete))]
    return defs
