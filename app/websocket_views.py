"""The demo's WebSocket routes: a chat with rooms (presence groups: members hear who joins and leaves, see
``PRESENCE_GROUPS`` in settings), plus echo, whoami and a keep-alive ping for trying things with wscat."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_aws_api_gateway_websockets.messaging import send_to_group
from django_aws_api_gateway_websockets.routing import route
from django_aws_api_gateway_websockets.views import WebSocketView

_ROOM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 2000


def guest_name(connection_id: str) -> str:
    return f"guest-{connection_id[:6]}"


def display_name(user: Any, connection_id: str) -> str:
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.get_username())
    return guest_name(connection_id)


class ChatView(WebSocketView):
    # A plain `wscat -c URL` sends neither Cookie nor Origin: it is not a browser, so there is no
    # cross-site risk, and it connects as an anonymous user. A browser's Origin is still checked and its
    # session cookie still logs the user in.
    required_connection_headers = ["Sec-Websocket-Key", "Sec-Websocket-Version"]
    subprotocols = ["chat.v1"]

    def anonymous_name(self, request: HttpRequest) -> str:
        return guest_name(self.connection_id)  # stored at connect: presence shows it, no lookups later

    @route("echo")
    def echo(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"route": "echo", "data": self.body.get("data")})

    @route("whoami")
    def whoami(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        user = request.user
        return JsonResponse(
            {
                "route": "whoami",
                "connectionId": self.connection_id,
                "authenticated": user.is_authenticated,
                "name": display_name(user, self.connection_id),
            }
        )

    @route("join")
    def join(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        room = self._room()
        self.join_group(f"room:{room}")  # a presence group: its members get {"type": "presence", ...}
        # The first page of members (100 at most) and "next", the cursor the page asks the "members" route with.
        return JsonResponse({"route": "join", "room": room, **self.presence_members(f"room:{room}").as_dict()})

    @route("leave")
    def leave(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        room = self._room()
        self.leave_group(f"room:{room}")
        return JsonResponse({"route": "leave", "room": room})

    @route("post")
    def post_message(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        room = self._room()
        if f"room:{room}" not in self.group_names():
            raise PermissionDenied("Join the room before posting to it.")
        text = self.body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise BadRequest(f"'text' must be a non-empty string of at most {MAX_TEXT} characters.")
        message = {"type": "message", "room": room, "name": display_name(request.user, self.connection_id), "text": text}
        result = send_to_group(f"room:{room}", message)
        return JsonResponse({"route": "post", "room": room, "sent": result.sent, "gone": result.gone, "failed": result.failed,
                             "queued": result.queued})

    @route("members")
    async def members(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        # An async route: its store query runs off the event loop (apresence_members). "after" is the "next" of
        # the previous page (a bad one is a 400).
        room = self._room()
        page = await self.apresence_members(f"room:{room}", after=self.body.get("after"))
        return JsonResponse({"route": "members", "room": room, **page.as_dict()})

    @route("ping", reply=False)
    def ping(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The browser client's keep-alive: a message now and then keeps API Gateway's 10 minute idle timeout away.
        return HttpResponse(status=204)

    def _room(self) -> str:
        room = self.body.get("room")
        if not isinstance(room, str) or not _ROOM_RE.match(room):
            raise BadRequest("'room' must be 1-64 letters, digits, '_' or '-'.")
        return room
