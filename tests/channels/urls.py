from django.urls import include, path

from django_aws_api_gateway_websockets.channels_compat import ChannelsWebSocketView
from django_aws_api_gateway_websockets.urls import websocket_urls

urlpatterns = [path("ws/", include(websocket_urls(ChannelsWebSocketView)))]
