"""The demo's view plus an async twin of its echo route, for the async route latency row."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from app.websocket_views import ChatView
from django_aws_api_gateway_websockets.routing import route


class BenchView(ChatView):
    @route("aecho")
    async def aecho(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"route": "echo", "data": self.body.get("data")})
