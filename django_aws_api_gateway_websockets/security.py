"""Request checks shared by the view: origins, shared secrets and the client address."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host

from .conf import ws_settings


@functools.lru_cache(maxsize=256)
def meta_key(name: str) -> str:
    """The WSGI environ key of an HTTP header ("X-Real-Ip" -> "HTTP_X_REAL_IP")."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{key}"


def header(request: HttpRequest, name: str, default: str = "") -> str:
    """A request header read straight from ``request.META``: the view checks a dozen headers on every
    message, and building ``request.headers`` for that costs more than the message itself."""
    value = request.META.get(meta_key(name), default)
    return value if isinstance(value, str) else default


def has_header(request: HttpRequest, name: str) -> bool:
    return meta_key(name) in request.META


def _normalise_origin(origin: str) -> str | None:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def origin_allowed(origin: str) -> bool:
    """True when a browser page at ``origin`` may open a socket (cross-site WebSocket hijacking guard)."""
    normalised = _normalise_origin(origin)
    if normalised is None:
        return False
    allowed = ws_settings.ALLOWED_ORIGINS
    if allowed is None:
        host, _port = split_domain_port(urlsplit(origin.strip()).netloc)
        return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)
    return any(_normalise_origin(entry) == normalised for entry in allowed)


def shared_secret_ok(request: HttpRequest) -> bool:
    """True when no secret is configured, or the request carries one of them (constant-time compare)."""
    secrets: list[str] = ws_settings.SHARED_SECRETS
    if not secrets:
        return True
    given = header(request, ws_settings.SHARED_SECRET_HEADER)
    ok = False
    for secret in secrets:
        # Compare against every secret so timing does not reveal which one matched.
        ok |= hmac.compare_digest(given.encode(), secret.encode())
    return ok


def client_ip(request: HttpRequest) -> str | None:
    """The client address API Gateway saw: the right-most X-Forwarded-For entry (API Gateway appends it,
    so a value a client put there itself cannot win), then X-Real-Ip, then REMOTE_ADDR."""
    candidates = [part.strip() for part in header(request, "X-Forwarded-For").split(",")]
    candidates = [c for c in candidates if c]
    for value in (candidates[-1] if candidates else "", header(request, "X-Real-Ip"),
                  request.META.get("REMOTE_ADDR", "")):
        if value and _is_ip(value):
            return value
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
