"""The tests' ASGI application, built the way Channels' documentation builds one."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import OriginValidator
from django.core.asgi import get_asgi_application

from .routing import websocket_urlpatterns

application = ProtocolTypeRouter({
    "http": get_asgi_application(),
    "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
                                 ["https://chat.example.com"]),
})
