"""AWS Lambda entry point: ``lambda_handler.handler``.

Django is configured once, at import (the cold start); every invocation then runs one API Gateway event
(WebSocket, REST, HTTP API or ALB) through the project's WSGI application.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler  # noqa: E402

application = get_wsgi_application()
handler = make_websocket_handler(application)
