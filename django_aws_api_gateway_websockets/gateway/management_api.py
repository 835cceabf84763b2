"""The @connections management API in API Gateway's wire format, so boto3 works against it unchanged; calls
must be SigV4-signed with credentials the gateway accepts (:mod:`.sigv4`), as on AWS."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import sigv4
from .config import GatewayConfig
from .registry import LiveSocket, Registry

Action = Callable[[web.Request, LiveSocket], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_POST_BYTES = 128 * 1024

logger = logging.getLogger("django_aws_api_gateway_websockets.gateway")


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def routes(config: GatewayConfig, registry: Registry) -> list[web.RouteDef]:
    accepted = {**sigv4.own_credentials(), **(config.credentials or {})}
    if not accepted:
        logger.warning("No AWS credentials in the gateway process: every @connections call will be refused. Set "
                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values will do locally).")

    async def refusal(request: web.Request) -> web.Response | None:
        """None for a call signed (SigV4) with credentials the gateway accepts; else AWS's 403."""
        data = await request.read()
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        signed = sigv4.SignedRequest(method=request.method, raw_path=request.raw_path, headers=headers, body=data)
        try:
            sigv4.verify(signed, accepted)
        except sigv4.SignatureError as exc:
            logger.warning("@connections %s %s refused: %s", request.method, request.path, exc)
            return aws_error(403, "ForbiddenException", str(exc))
        return None

    def on_live_socket(action: Action) -> Handler:
        """Refuse calls not signed with accepted credentials (403) and unknown or closed connections (410), then
        run ``action``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            refused = await refusal(request)
            if refused is not None:
                return refused
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
