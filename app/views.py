from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

FAVICON = Path(__file__).resolve().parent / "static" / "app" / "favicon.svg"
# Named on the login page: the users scripts/run creates (manage.py ensure_demo_user).
DEMO_USERS = ("demo", "alice")
DEFAULT_DEMO_PASSWORD = "demo-password"


def index(request: HttpRequest) -> HttpResponse:
    """The demo chat page; the WebSocket URL is DEMO_WEBSOCKET_URL, or this host's ws:// URL."""
    return render(request, "app/index.html", {"websocket_url": getattr(settings, "DEMO_WEBSOCKET_URL", "") or ""})


class LoginView(auth_views.LoginView):
    """Django's login view with the chat's look, naming the demo users."""

    template_name = "app/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The documented default password is shown; one set through DEMO_PASSWORD is not.
        custom = "DEMO_PASSWORD" in os.environ
        context.update(demo_users=DEMO_USERS, demo_password=None if custom else DEFAULT_DEMO_PASSWORD)
        return context


@cache
def _favicon() -> bytes:
    return FAVICON.read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """The site icon, served by Django itself so it works with DEBUG off too (on Lambda, no static server)."""
    response = HttpResponse(_favicon(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response
