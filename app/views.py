from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    """The demo chat page; the WebSocket URL is DEMO_WEBSOCKET_URL, or this host's ws:// URL."""
    return render(request, "app/index.html", {"websocket_url": getattr(settings, "DEMO_WEBSOCKET_URL", "") or ""})
