"""The baseline Lambda handler: apig-wsgi + Django, no WebSocket adapter."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from apig_wsgi import make_lambda_handler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

handler = make_lambda_handler(get_wsgi_application())


def rest_event_like(ws_event: dict) -> dict:
    """The same message as a REST v1 event, the nearest shape a bare apig-wsgi handler can take."""
    context = ws_event["requestContext"]
    return {
        "httpMethod": "POST",
        "path": "/bench/bare",
        "headers": {"Host": context["domainName"], "Content-Type": "application/json",
                    "X-Forwarded-For": context["identity"]["sourceIp"]},
        "body": ws_event.get("body") or "{}",
        "isBase64Encoded": False,
        "requestContext": context,
    }
