"""URLs for the view tests: the demo view, the library's defaults, and a locked-down view."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from django_aws_api_gateway_websockets.routing import route
from django_aws_api_gateway_websockets.urls import websocket_urls
from django_aws_api_gateway_websockets.views import WebSocketView


class CountingView(WebSocketView):
    """The library's documented defaults plus two routes; records which handlers ran."""

    calls: list[str] = []

    @route("ping")
    def ping(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        CountingView.calls.append("ping")
        return JsonResponse({"pong": True, "user": request.user.get_username() or None})

    @route("join")
    def join(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        self.join_group(self.body["group"])
        return JsonResponse({"groups": self.group_names()})

    @route("leave")
    def leave(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        self.leave_group(self.body["group"])
        return JsonResponse({"groups": self.group_names()})

    def _private(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:  # never reachable
        CountingView.calls.append("_private")
        return JsonResponse({"private": True})

    def default(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        CountingView.calls.append("default")
        return super().default(request, *args, **kwargs)


class LockedView(CountingView):
    aws_api_gateway_id = "testapi01"
    login_required = True


urlpatterns = [
    path("ws/", include("django_aws_api_gateway_websockets.urls")),
    path("base/", include(websocket_urls(CountingView), namespace="base")),
    path("locked/", include(websocket_urls(LockedView), namespace="locked")),
]
