"""A view using async handlers, raw frames and presence: the demo's ChatView plus routes that show each.

Used through lambda_handler-style handlers in the unit tests (``tests/urls.py``, namespace ``features``) and
by a real local gateway in the end-to-end tests (``tests/e2e/feature_settings.py``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from app.websocket_views import ChatView
from django_aws_api_gateway_websockets.messaging import (
    asend_text_to_connection,
    asend_to_connection,
    asend_to_group,
    asend_to_user,
    broadcast,
    send_to_group,
)
from django_aws_api_gateway_websockets.routing import RAW, route
from django_aws_api_gateway_websockets.views import WebSocketView


def where() -> dict[str, int]:
    """The running loop and thread, for tests that check where async handlers run."""
    return {"loop": id(asyncio.get_running_loop()), "thread": threading.get_ident()}


class FeatureView(ChatView):
    events: list[str] = []  # which async overrides ran (unit tests read it)

    async def connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if request.GET.get("refuse") == "async":
            raise PermissionDenied("refused by an async connect")
        response = await sync_to_async(super().connect)(request, *args, **kwargs)
        FeatureView.events.append(f"connect:{self.connection_id}")
        return response

    async def disconnect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = await sync_to_async(super().disconnect)(request, *args, **kwargs)
        FeatureView.events.append(f"disconnect:{self.connection_id}")
        return response

    async def default(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:  # type: ignore[override]
        await asyncio.sleep(0)
        return JsonResponse({"error": "No such route (async default).", "action": self.body.get("action")}, status=400)

    @route("aecho")
    async def aecho(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        await asyncio.sleep(0)
        groups = await self.agroup_names()  # a store query from async code
        return JsonResponse({"route": "aecho", "data": self.body.get("data"), "groups": groups,
                             "user": request.user.get_username(), **where()})

    @route("araise")
    async def araise(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        await asyncio.sleep(0)
        kind = self.body.get("kind")
        if kind == "bad":
            raise BadRequest("async bad input")
        if kind == "denied":
            raise PermissionDenied("async not yours")
        raise ZeroDivisionError("an async bug")

    @route("ajoin")
    async def ajoin(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        group = self.body.get("group")
        await self.ajoin_group(group)
        return JsonResponse({"route": "ajoin", **(await self.apresence_members(group)).as_dict()})

    @route("aleave")
    async def aleave(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        await self.aleave_group(self.body.get("group"))
        return JsonResponse({"route": "aleave", "groups": await self.agroup_names()})

    @route("apush")
    async def apush(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        """Push through every async send helper: to itself, its group, its user, and raw text."""
        me = self.connection_id
        results = [await asend_to_connection(me, {"type": "note", "via": "connection"}, message_id="m-1")]
        if self.body.get("group"):
            results.append(await asend_to_group(self.body["group"], {"type": "note", "via": "group"}))
        if request.user.is_authenticated:
            results.append(await asend_to_user(request.user, {"type": "note", "via": "user"}))
        results.append(await asend_text_to_connection(me, "plain text, not JSON"))
        return JsonResponse({"route": "apush", "sent": [r.sent for r in results], "gone": [r.gone for r in results]})

    @route("amisuse")
    async def amisuse(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        """An async route calling a blocking helper by mistake (the one named in the body)."""
        call = self.body.get("call")
        if call == "join_group":
            self.join_group("room:misuse")
        elif call == "presence_members":
            self.presence_members("room:misuse")
        elif call == "send_to_group":
            send_to_group("room:misuse", {"type": "note"})
        else:
            broadcast([self.connection], {"type": "note"})  # no store call at all: only the posts would block
        return JsonResponse({"route": "amisuse"})

    @route(RAW)
    def raw_frame(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        kind = "text" if isinstance(self.raw, str) else "bytes"
        shown = self.raw if isinstance(self.raw, str) else (self.raw or b"").hex()
        return HttpResponse(f"raw {kind}: {shown}", content_type="text/plain; charset=utf-8")


class Base64View(WebSocketView):
    """The library's defaults plus an async base64 RAW handler."""

    required_connection_headers: list[str] = []

    @route(RAW, base64=True)
    async def binary(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        assert isinstance(self.raw, bytes)
        return JsonResponse({"bytes": self.raw.hex(), "length": len(self.raw)})

    @route("echo")
    def echo(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"data": self.body.get("data")})
