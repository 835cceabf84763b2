"""A ROOT_URLCONF that leaves the project's ``urls.py`` exactly as it was for Channels::

    ROOT_URLCONF = "django_aws_api_gateway_websockets.channels_compat.urls"
    WEBSOCKETS = {..., "CHANNELS_URLCONF": "mysite.urls"}

serves the WebSocket event URLs the Lambda adapter posts to (under ``websocket/``, namespace ``websockets``)
and, for everything else, the project's own URLconf. Including ``django_aws_api_gateway_websockets.urls`` in
``urls.py`` does the same.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from ..conf import ws_settings

urlpatterns: list[URLPattern | URLResolver] = [path("websocket/", include("django_aws_api_gateway_websockets.urls"))]
if ws_settings.CHANNELS_URLCONF:
    urlpatterns.append(path("", include(ws_settings.CHANNELS_URLCONF)))
