from channels.routing import URLRouter
from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"ws/echo/$", consumers.EchoConsumer.as_asgi()),
    re_path(r"ws/json/(?P<topic>\w+)/$", consumers.JsonEchoConsumer.as_asgi()),
    re_path(r"ws/tutorial/$", consumers.TutorialStyleConsumer.as_asgi()),
    re_path(r"ws/room/(?P<room>\w+)/$", consumers.AsyncRoomConsumer.as_asgi()),
    path("ws/v2/", URLRouter([re_path(r"^counter/(\d+)/$", consumers.AsyncJsonCounterConsumer.as_asgi())])),
]
