"""System checks for the ``WEBSOCKETS`` setting."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, ws_settings
from .ratelimit import parse_rate
from .security import _normalise_origin

_ID = "django_aws_api_gateway_websockets"


def _error(n: int, msg: str, hint: str | None = None) -> Error:
    return Error(msg, hint=hint, id=f"{_ID}.E{n:03d}")


def _queue_path(url: str) -> str:
    """``/<account>/<queue name>`` of an SQS queue URL (the same queue whichever of SQS's host names it uses)."""
    return urlsplit(url).path.rstrip("/") or url


@register(Tags.security, Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, "WEBSOCKETS", {})
    if not isinstance(raw, dict):
        return [_error(1, "WEBSOCKETS must be a dict.", hint="WEBSOCKETS = {'ALLOWED_ORIGINS': [...]}")]
    errors: list[CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(_error(2, f"Unknown WEBSOCKETS key {key!r}.", hint=f"Known keys: {', '.join(sorted(DEFAULTS))}"))

    for key in ("STORE", "VIEW", "RATE_LIMITER"):
        value = getattr(ws_settings, key)
        if value is None and key == "VIEW":
            continue
        try:
            import_string(value)
        except Exception as exc:
            errors.append(_error(3, f"WEBSOCKETS[{key!r}] = {value!r} cannot be imported: {exc}"))

    origins = ws_settings.ALLOWED_ORIGINS
    if origins is not None:
        if isinstance(origins, str) or not isinstance(origins, (list, tuple)):
            errors.append(_error(4, "WEBSOCKETS['ALLOWED_ORIGINS'] must be a list of origins or None."))
        else:
            for origin in origins:
                if not isinstance(origin, str) or _normalise_origin(origin) is None or origin.strip() == "*":
                    errors.append(
                        _error(5, f"Invalid origin {origin!r} in WEBSOCKETS['ALLOWED_ORIGINS'].",
                               hint="Use full origins such as 'https://example.com'; wildcards are not allowed.")
                    )

    secrets = ws_settings.SHARED_SECRETS
    if isinstance(secrets, str) or not isinstance(secrets, (list, tuple)):
        errors.append(_error(6, "WEBSOCKETS['SHARED_SECRETS'] must be a list of strings."))
    else:
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < 16:
                errors.append(_error(7, "Each WEBSOCKETS['SHARED_SECRETS'] entry must be a string of 16+ characters."))

    http_integration = ws_settings.HTTP_INTEGRATION
    if not isinstance(http_integration, bool):
        errors.append(_error(17, "WEBSOCKETS['HTTP_INTEGRATION'] must be True or False."))
    elif http_integration and not secrets:
        errors.append(_error(
            16, "WEBSOCKETS['HTTP_INTEGRATION'] is True but WEBSOCKETS['SHARED_SECRETS'] is empty: every WebSocket "
            "event API Gateway sends over HTTP will be refused (403), since anybody could forge one.",
            hint="Set WEBSOCKETS['SHARED_SECRETS'] = ['<a long random secret>'] and map it into the "
            f"{ws_settings.SHARED_SECRET_HEADER!r} header in each route's integration request parameters."))

    for key in ("CONNECT_RATE_LIMIT_PER_IP", "CONNECT_RATE_LIMIT_PER_USER"):
        value = getattr(ws_settings, key)
        if value is not None:
            try:
                parse_rate(value)
            except ValueError as exc:
                errors.append(_error(8, f"WEBSOCKETS[{key!r}]: {exc}", hint="For example '60/minute', or None."))
    cache = ws_settings.RATE_LIMIT_CACHE
    if not isinstance(cache, str) or cache not in settings.CACHES:
        errors.append(_error(9, f"WEBSOCKETS['RATE_LIMIT_CACHE'] = {cache!r} is not in CACHES."))

    for key, low, high in (("MAX_MESSAGE_BYTES", 1, 128 * 1024), ("MAX_WORKERS", 1, 512),
                           ("MAX_RETRIES", 0, 20), ("SESSION_RETENTION_DAYS", 0, 36500),
                           ("CONNECTION_CACHE_SIZE", 0, 10_000_000), ("BROADCAST_QUEUE_THRESHOLD", 0, 10_000_000),
                           ("BROADCAST_CHUNK_SIZE", 1, 5000), ("BROADCAST_MAX_ATTEMPTS", 1, 100),
                           ("BROADCAST_RETRY_DELAY", 0, 900)):
        value = getattr(ws_settings, key)
        if not _number(value, low, high):
            errors.append(_error(10, f"WEBSOCKETS[{key!r}] must be an integer from {low} to {high}, not {value!r}."))
    for key in ("BROADCAST_QUEUE_URL", "BROADCAST_DEAD_LETTER_QUEUE_URL", "SQS_ENDPOINT_URL"):
        value = getattr(ws_settings, key)
        if value is not None and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
            errors.append(_error(30, f"WEBSOCKETS[{key!r}] must be an http(s) URL or None, not {value!r}.",
                                 hint="The queue URL SQS gives (https://sqs.<region>.amazonaws.com/<account>/<name>)."))
    queue, dead_letters = ws_settings.BROADCAST_QUEUE_URL, ws_settings.BROADCAST_DEAD_LETTER_QUEUE_URL
    if isinstance(queue, str) and isinstance(dead_letters, str) and _queue_path(queue) == _queue_path(dead_letters):
        # The worker would put the recipients that keep failing back on the queue they came from, with fresh
        # attempts: they would be retried forever, never dead-lettered.
        errors.append(_error(32, "WEBSOCKETS['BROADCAST_DEAD_LETTER_QUEUE_URL'] is the broadcast queue itself "
                                 f"({dead_letters!r}): recipients that keep failing would be retried forever.",
                             hint="Set it to the queue's dead-letter queue (the construct's broadcast_dead_letters), "
                                  "or None."))
    for key in ("CONNECTION_CACHE_TTL", "USER_REVALIDATE_INTERVAL"):
        value = getattr(ws_settings, key)
        if not _number(value, 0, 3600, integer=False):
            errors.append(_error(29, f"WEBSOCKETS[{key!r}] must be a number of seconds from 0 to 3600, not {value!r}.",
                                 hint="0 checks with the store (or the user table) on every message."))

    permission = ws_settings.GROUP_JOIN_PERMISSION
    if permission is not None and (not isinstance(permission, str) or permission.count(".") != 1):
        errors.append(_error(11, "WEBSOCKETS['GROUP_JOIN_PERMISSION'] must be 'app_label.codename' or None."))

    presence = ws_settings.PRESENCE_GROUPS
    if isinstance(presence, str) or not isinstance(presence, (list, tuple)) or \
            not all(isinstance(p, str) and p for p in presence):
        errors.append(_error(31, "WEBSOCKETS['PRESENCE_GROUPS'] must be a list of group name patterns.",
                             hint="For example ['room:*'] (shell-style patterns), or [] for no presence."))

    if ws_settings.TOKEN_USERS not in ("database", "claims"):
        errors.append(_error(13, "WEBSOCKETS['TOKEN_USERS'] must be 'database' or 'claims'."))
    max_age = ws_settings.CONNECT_TOKEN_MAX_AGE
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 1 <= max_age <= 3600:
        errors.append(_error(14, "WEBSOCKETS['CONNECT_TOKEN_MAX_AGE'] must be an integer from 1 to 3600 seconds."))
    if str(ws_settings.RATE_LIMITER).endswith("DynamoDBRateLimiter") and not ws_settings.DYNAMODB_TABLE:
        errors.append(_error(18, "The DynamoDB rate limiter needs WEBSOCKETS['DYNAMODB_TABLE'].",
                             hint="The CDK stack passes the table name in WEBSOCKETS_DYNAMODB_TABLE."))
    if str(ws_settings.STORE).endswith("DynamoDBStore") and not ws_settings.DYNAMODB_TABLE:
        errors.append(_error(15, "The DynamoDB store needs WEBSOCKETS['DYNAMODB_TABLE'].",
                             hint="The CDK stack passes the table name in WEBSOCKETS_DYNAMODB_TABLE."))

    for key in ("ENDPOINT_URL", "DYNAMODB_ENDPOINT_URL"):
        endpoint = getattr(ws_settings, key)
        if endpoint is not None and (not isinstance(endpoint, str) or not _URL_RE.match(endpoint)):
            errors.append(_error(12, f"WEBSOCKETS[{key!r}] must be an http(s) URL or None, not {endpoint!r}.",
                                 hint="For example 'http://127.0.0.1:4566'."))
    errors += _check_types()
    return errors


_URL_RE = re.compile(r"^https?://[^\s/?#]+(/\S*)?$")
# An HTTP header name (RFC 9110 token) and a query parameter name that needs no escaping.
_HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
_PARAM_RE = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_MAPPING_RE = re.compile(r"^[A-Za-z0-9._~/-]{0,300}$")
_DOTTED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _number(value: Any, low: float, high: float, integer: bool = True) -> bool:
    kinds = (int,) if integer else (int, float)
    return not isinstance(value, bool) and isinstance(value, kinds) and low <= value <= high


def _check_types() -> list[CheckMessage]:
    """Type and range of the keys no other check reads (so ``manage.py check`` covers every key)."""
    errors: list[CheckMessage] = []
    header = ws_settings.SHARED_SECRET_HEADER
    if not isinstance(header, str) or not _HEADER_RE.match(header):
        errors.append(_error(19, f"WEBSOCKETS['SHARED_SECRET_HEADER'] must be an HTTP header name, not {header!r}.",
                             hint="The default is 'X-Websocket-Secret'."))
    for key in ("CLOSE_ON_LOGOUT", "TRUST_EXECUTE_API_HOST"):
        value = getattr(ws_settings, key)
        if not isinstance(value, bool):
            errors.append(_error(20, f"WEBSOCKETS[{key!r}] must be True or False, not {value!r}."))
    mapping = ws_settings.API_MAPPING_KEY
    if not isinstance(mapping, str) or not _MAPPING_RE.match(mapping):
        errors.append(_error(21, f"WEBSOCKETS['API_MAPPING_KEY'] must be an API mapping key (a path such as "
                                 f"'chat' or ''), not {mapping!r}."))
    region_name = ws_settings.REGION
    if region_name is not None and (not isinstance(region_name, str) or not _REGION_RE.match(region_name)):
        errors.append(_error(22, f"WEBSOCKETS['REGION'] must be an AWS region such as 'eu-west-1' or None, not "
                                 f"{region_name!r}."))
    table = ws_settings.DYNAMODB_TABLE
    if table is not None and (not isinstance(table, str) or not re.match(r"^[A-Za-z0-9_.-]{3,255}$", table)):
        errors.append(_error(23, f"WEBSOCKETS['DYNAMODB_TABLE'] must be a DynamoDB table name or None, not {table!r}."))
    for key in ("CONNECT_TOKEN_PARAM", "CHANNELS_PATH_PARAM"):
        value = getattr(ws_settings, key)
        if not isinstance(value, str) or not _PARAM_RE.match(value):
            errors.append(_error(24, f"WEBSOCKETS[{key!r}] must be a query parameter name (letters, digits, '.', "
                                     f"'_', '~', '-'), not {value!r}."))
    if ws_settings.CONNECT_TOKEN_PARAM == ws_settings.CHANNELS_PATH_PARAM:
        errors.append(_error(25, "WEBSOCKETS['CONNECT_TOKEN_PARAM'] and WEBSOCKETS['CHANNELS_PATH_PARAM'] must differ."))
    for key in ("CHANNELS_APPLICATION", "CHANNELS_URLCONF"):
        value = getattr(ws_settings, key)
        if value is not None and (not isinstance(value, str) or not _DOTTED_RE.match(value)):
            errors.append(_error(26, f"WEBSOCKETS[{key!r}] must be a dotted path (a string) or None, not {value!r}."))
    state = ws_settings.CHANNELS_STATE_MAX_BYTES
    if not _number(state, 0, 256 * 1024):
        errors.append(_error(27, "WEBSOCKETS['CHANNELS_STATE_MAX_BYTES'] must be an integer from 0 to 262144 (bytes; "
                                 f"DynamoDB items hold 400 KB), not {state!r}."))
    flush = ws_settings.CHANNELS_CONNECT_FLUSH_TIMEOUT
    if not _number(flush, 0, 900, integer=False):
        errors.append(_error(28, "WEBSOCKETS['CHANNELS_CONNECT_FLUSH_TIMEOUT'] must be a number of seconds from 0 to "
                                 f"900, not {flush!r}."))
    return errors


@register(Tags.compatibility)
def check_lambda_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """On Lambda, API Gateway's Host must be accepted: warn when nothing will accept it."""
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ or ws_settings.TRUST_EXECUTE_API_HOST:
        return []
    hosts = settings.ALLOWED_HOSTS
    if "*" in hosts or any("execute-api" in host for host in hosts):
        return []
    return [
        Warning(
            "Running on Lambda with WEBSOCKETS['TRUST_EXECUTE_API_HOST'] = False and no execute-api host in "
            "ALLOWED_HOSTS: every WebSocket event will be refused with 'Invalid HTTP_HOST header'.",
            hint="Add '.execute-api.<region>.amazonaws.com' (or your custom domain) to ALLOWED_HOSTS, or set "
            "TRUST_EXECUTE_API_HOST back to True.",
            id=f"{_ID}.W002",
        )
    ]


@register(Tags.security)
def check_origin_default(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if ws_settings.ALLOWED_ORIGINS is None and "*" in settings.ALLOWED_HOSTS:
        return [
            Warning(
                "ALLOWED_HOSTS contains '*' and WEBSOCKETS['ALLOWED_ORIGINS'] is not set: any web page may open a "
                "WebSocket with a visitor's cookies (cross-site WebSocket hijacking).",
                hint="Set WEBSOCKETS['ALLOWED_ORIGINS'] to the origins of your site.",
                id=f"{_ID}.W001",
            )
        ]
    return []


_PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


@register(Tags.security, deploy=True)
def check_shared_rate_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: connect rate limits counted per process are no limit with many processes."""
    if not str(ws_settings.RATE_LIMITER).endswith("CacheRateLimiter"):
        return []
    if ws_settings.CONNECT_RATE_LIMIT_PER_IP is None and ws_settings.CONNECT_RATE_LIMIT_PER_USER is None:
        return []
    backend = settings.CACHES.get(ws_settings.RATE_LIMIT_CACHE, {}).get("BACKEND", "")
    if backend not in _PER_PROCESS_CACHES:
        return []
    return [Warning(
        f"WebSocket connect rate limits are counted in {backend.rsplit('.', 1)[-1]}, separately in every process "
        "(every Lambda container, every server worker): the real limit is the configured one times their number.",
        hint="On Lambda set WEBSOCKETS['RATE_LIMITER'] = 'django_aws_api_gateway_websockets.ratelimit."
        "DynamoDBRateLimiter'; on servers point WEBSOCKETS['RATE_LIMIT_CACHE'] at a Redis cache.",
        id=f"{_ID}.W003")]


@register(Tags.compatibility)
def check_redirects(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Settings that redirect every WebSocket event: API Gateway cannot follow a redirect, so every event fails."""
    middleware = getattr(settings, "MIDDLEWARE", None) or []
    messages: list[CheckMessage] = []
    if settings.PREPEND_WWW and "django.middleware.common.CommonMiddleware" in middleware:
        messages.append(Warning(
            "PREPEND_WWW is True: CommonMiddleware answers every WebSocket event whose Host does not start with "
            "'www.' (API Gateway's <api-id>.execute-api.<region>.amazonaws.com, a custom domain without www.) "
            "with a 301, which API Gateway cannot follow: every $connect and message fails.",
            hint="Set PREPEND_WWW = False and redirect to www. in front of Django (CloudFront, the load "
                 "balancer), or give the WebSocket API a custom domain starting with 'www.'.",
            id=f"{_ID}.W004"))
    if (settings.SECURE_SSL_REDIRECT and ws_settings.HTTP_INTEGRATION is True
            and settings.SECURE_PROXY_SSL_HEADER is None
            and "django.middleware.security.SecurityMiddleware" in middleware):
        messages.append(Warning(
            "SECURE_SSL_REDIRECT is True in HTTP integration mode without SECURE_PROXY_SSL_HEADER: if API Gateway "
            "reaches Django over http (behind a load balancer), every WebSocket event is redirected to https, "
            "which API Gateway cannot follow. (Through the Lambda adapter events are https: no redirect.)",
            hint="API Gateway sends X-Forwarded-Proto: https; set SECURE_PROXY_SSL_HEADER = "
                 "('HTTP_X_FORWARDED_PROTO', 'https') when the proxy in front of Django sets it, or add the "
                 "WebSocket URLs to SECURE_REDIRECT_EXEMPT.",
            id=f"{_ID}.W005"))
    return messages
