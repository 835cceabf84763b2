"""Request checks shared by the view: origins, shared secrets and the client address."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.http.request import validate_host

from .conf import ws_settings
from .events import EVENT_TYPES

# The WSGI environ key the Lambda adapter sets on the requests it makes from API Gateway WebSocket events
# (the event type). Headers reach the environ as HTTP_*, so no HTTP client can set this key.
EVENT_TYPE_KEY = "django_aws_api_gateway_websockets.event_type"
# Set by WebSocketView.dispatch on the request it answered: the adapter then knows the response is the
# view's own (anything else, a middleware's or Django's error page, is turned into a JSON error).
ANSWERED_KEY = "django_aws_api_gateway_websockets.answered"

# What a connection id can look like: API Gateway's are 16 characters of base64 ("L0SM9cOFvHcCIhw=").
# \Z, not $: "$" also matches before a trailing newline, so "abc=\n" would pass.
CONNECTION_ID_RE = re.compile(r"^[A-Za-z0-9+/=_-]{1,128}\Z")

UNTRUSTED_MESSAGE = (
    "Forbidden: this request did not come from API Gateway. WebSocket events are accepted when they come "
    "through the Lambda adapter (make_websocket_handler), or, in API Gateway's HTTP integration mode, when "
    "they carry one of WEBSOCKETS['SHARED_SECRETS'] in the {header} header: set WEBSOCKETS['SHARED_SECRETS'] "
    "(and WEBSOCKETS['HTTP_INTEGRATION'] = True) and map the secret into that header in each route's "
    "integration request parameters."
)


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


# The hosts Django accepts while DEBUG is on and ALLOWED_HOSTS is empty (django.http.HttpRequest.get_host).
DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]")
# ALLOWED_HOSTS entries the Lambda adapter added so API Gateway's Host passes (lambda_adapter.trust_host): they
# say where events come from, never which web pages may open a socket, so the origin check leaves them out.
ADAPTER_HOSTS: set[str] = set()


def _origin_parts(origin: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port) of an http(s) origin; None for anything else. A browser's Origin is
    ``scheme://host[:port]``: userinfo, a path, a query or a fragment make it something else, and so does what
    ``urlsplit`` cannot even parse (``http://[``, ``http://a]b``: ValueError)."""
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return parts.scheme, host.lower().removesuffix("."), port or (443 if parts.scheme == "https" else 80)


def _normalise_origin(origin: str) -> str | None:
    parts = _origin_parts(origin)
    return None if parts is None else "{}://{}:{}".format(*parts)


def _covers_aws_hosts(pattern: str) -> bool:
    """True for a wildcard ALLOWED_HOSTS entry that matches hosts anybody can get on AWS
    (".execute-api.<region>.amazonaws.com", ".amazonaws.com", ...)."""
    return pattern.startswith(".") and (pattern + ".").lower().endswith(".amazonaws.com.")


def origin_host_patterns() -> list[str]:
    """The ALLOWED_HOSTS entries an Origin's host is checked against when ``WEBSOCKETS["ALLOWED_ORIGINS"]`` is
    None: what Django itself accepts as Host (Django's debug hosts while DEBUG is on and ALLOWED_HOSTS is empty),
    minus the hosts the Lambda adapter trusts for API Gateway's events and any wildcard over AWS's shared
    domains (anybody can serve a page from a ``.execute-api.<region>.amazonaws.com`` host of their own)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not [h for h in hosts if h not in ADAPTER_HOSTS]:
        hosts = [*DEBUG_HOSTS, *hosts]
    return [h for h in hosts if h not in ADAPTER_HOSTS and not _covers_aws_hosts(h)]


def origin_allowed(origin: str) -> bool:
    """True when a browser page at ``origin`` may open a socket (cross-site WebSocket hijacking guard). A
    malformed Origin is never allowed (and never an exception)."""
    parts = _origin_parts(origin)
    if parts is None:
        return False
    allowed = ws_settings.ALLOWED_ORIGINS
    if allowed is None:
        host = parts[1]
        return validate_host(f"[{host}]" if ":" in host else host, origin_host_patterns())
    normalised = "{}://{}:{}".format(*parts)
    return any(isinstance(entry, str) and _normalise_origin(entry) == normalised for entry in allowed)


def came_through_lambda_adapter(request: HttpRequest) -> bool:
    """True when the Lambda adapter made this request from an API Gateway WebSocket event."""
    return request.META.get(EVENT_TYPE_KEY) in EVENT_TYPES


def shared_secret_ok(request: HttpRequest) -> bool:
    """True when the request carries one of ``WEBSOCKETS["SHARED_SECRETS"]`` (constant-time compare); False
    when none is configured or the header is missing, wrong or not even text."""
    secrets: list[str] = ws_settings.SHARED_SECRETS
    if not secrets:
        return False
    given = header(request, ws_settings.SHARED_SECRET_HEADER)
    try:
        given_bytes = given.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: what a non-UTF-8 header can decode to
        return False
    ok = False
    for secret in secrets:
        # Compare against every secret so timing does not reveal which one matched.
        ok |= hmac.compare_digest(given_bytes, str(secret).encode("utf-8", "surrogatepass"))
    return bool(given_bytes) and ok


def request_is_trusted(request: HttpRequest) -> bool:
    """A WebSocket view's gate: the request provably came from API Gateway (see :data:`EVENT_TYPE_KEY`), or
    carries a valid shared secret (HTTP integration mode)."""
    return came_through_lambda_adapter(request) or shared_secret_ok(request)


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