"""URLs for the view tests: the demo view, the library's defaults, and a locked-down view."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from django_aws_api_gateway_websockets.routing import route
from django_aws_api_gateway_websockets.urls import websocket_urls
from django_aws_api_gateway_websockets.views import WebSocketView, request_context
from tests.feature_views import Base64View, FeatureView


INSPECTED = {"Connectionid", "User-Agent", "X-Forwarded-For", "X-Real-Ip", "X-Amzn-Apigateway-Api-Id", "Cookie",
             "Origin", "Sec-Websocket-Key", "Content-Length", "X-Amzn-Trace-Id"}


class CountingView(WebSocketView):
    """The library's documented defaults plus a few routes; records which handlers ran."""

    calls: list[str] = []
    seen_connect: dict[str, Any] = {}
    subprotocols = ["chat.v2", "chat.v1"]

    def connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:  # type: ignore[override]
        response = super().connect(request, *args, **kwargs)
        CountingView.seen_connect = {"query": request.GET.dict(), "context": request_context(request),
                                     "headers": {k: v for k, v in request.headers.items() if k in INSPECTED}}
        return response

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

    @route("inspect")
    def inspect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        context = request_context(request)
        return JsonResponse(
            {
                "requestId": context.get("requestId"),
                "routeKey": context.get("routeKey"),
                "host": request.get_host(),
                "headers": {k: v for k, v in request.headers.items() if k in INSPECTED},
                "body": self.body,
            }
        )

    def _private(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:  # never reachable
        CountingView.calls.append("_private")
        return JsonResponse({"private": True})

    def default(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        CountingView.calls.append("default")
        return super().default(request, *args, **kwargs)


class TeapotError(Exception):
    """A project's own exception, mapped through exception_statuses."""


class RaisingView(WebSocketView):
    """Routes that raise what handlers raise: Django's exceptions, a project's own, and a plain bug."""

    required_connection_headers: list[str] = []
    exception_statuses = {**WebSocketView.exception_statuses, TeapotError: 418}

    @route("raise")
    def raise_(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation, ValidationError
        from django.http import Http404

        kind = self.body.get("kind")
        raise {
            "BadRequest": BadRequest("bad input"),
            "SuspiciousOperation": SuspiciousOperation("secret detail /etc/passwd"),
            "PermissionDenied": PermissionDenied("not yours"),
            "Http404": Http404("no such room"),
            "ValidationError": ValidationError(["too short", "too plain"]),
            "Teapot": TeapotError("short and stout"),
            "Mapped": LookupError("custom hook"),
        }.get(kind, ZeroDivisionError("a plain bug"))

    @route("join")
    def join(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        self.join_group(self.body["group"])
        return JsonResponse({"groups": self.group_names()})

    def handle_exception(self, request: HttpRequest, exc: Exception) -> Any:
        if isinstance(exc, LookupError):
            return JsonResponse({"error": "mapped by the hook", "kind": "lookup"}, status=409)
        return super().handle_exception(request, exc)


class LockedView(CountingView):
    aws_api_gateway_id = "testapi01"
    login_required = True


urlpatterns = [
    path("ws/", include("django_aws_api_gateway_websockets.urls")),
    path("base/", include(websocket_urls(CountingView), namespace="base")),
    path("locked/", include(websocket_urls(LockedView), namespace="locked")),
    path("raising/", include(websocket_urls(RaisingView), namespace="raising")),
    path("features/", include(websocket_urls(FeatureView), namespace="features")),
    path("base64/", include(websocket_urls(Base64View), namespace="base64")),
]
