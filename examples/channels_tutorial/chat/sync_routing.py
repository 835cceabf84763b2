# chat/sync_routing.py: chat/routing.py with the synchronous ChatConsumer (served by mysite/sync_asgi.py).
from django.urls import re_path

from . import sync_consumers as consumers

websocket_urlpatterns = [
    re_path(r"ws/chat/(?P<room_name>\w+)/$", consumers.ChatConsumer.as_asgi()),
]
