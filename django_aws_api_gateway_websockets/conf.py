"""All settings of the app, read in one place.

Users configure the app with a single ``WEBSOCKETS`` dict in their Django settings; every key is optional.
Values are read on each access so ``override_settings`` works in tests.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Dotted path of the project's WebSocketView subclass served by ``django_aws_api_gateway_websockets.urls``
    # and by the Lambda adapter.
    "VIEW": None,
    # Dotted path of the connection store backend class.
    "STORE": "django_aws_api_gateway_websockets.store.orm.OrmStore",
    # Origins allowed to open a socket ("https://example.com"). None: the Origin's host must be in
    # ALLOWED_HOSTS. A connect request without an Origin header (not a browser) is not affected.
    "ALLOWED_ORIGINS": None,
    # Shared secrets API Gateway adds to every HTTP integration request (a list allows rotation). Requests
    # that neither came through the Lambda adapter nor carry one of them are refused (403).
    "SHARED_SECRETS": [],
    # Say that API Gateway reaches this project over HTTP integrations (not through the Lambda adapter): the
    # system checks then require SHARED_SECRETS.
    "HTTP_INTEGRATION": False,
    "SHARED_SECRET_HEADER": "X-Websocket-Secret",
    # Connection attempt rate limits, "N/second|minute|hour|day"; None disables a limit.
    "CONNECT_RATE_LIMIT_PER_IP": "60/minute",
    "CONNECT_RATE_LIMIT_PER_USER": "30/minute",
    # Where the counters live: CacheRateLimiter (RATE_LIMIT_CACHE; shared when that is Redis or Memcached) or
    # DynamoDBRateLimiter (the DYNAMODB_TABLE; shared by every Lambda container).
    "RATE_LIMITER": "django_aws_api_gateway_websockets.ratelimit.CacheRateLimiter",
    "RATE_LIMIT_CACHE": "default",
    # Permission ("app_label.codename") a user needs to join a group; None lets everybody join.
    "GROUP_JOIN_PERMISSION": None,
    # Groups with presence (shell-style patterns, "room:*"): their members are told who joins and leaves.
    "PRESENCE_GROUPS": [],
    # Largest message body accepted, in bytes (API Gateway's own limit is 128 KB).
    "MAX_MESSAGE_BYTES": 128 * 1024,
    # Disconnected sessions older than this are removed by ``purge_websocket_sessions``.
    "SESSION_RETENTION_DAYS": 7,
    # Close a user's sockets when the user logs out.
    "CLOSE_ON_LOGOUT": True,
    # @connections endpoint override ("http://127.0.0.1:8000"); None: built from what was stored at connect.
    "ENDPOINT_URL": None,
    # For a custom domain: the API mapping key (base path) the @connections endpoint lives under.
    "API_MAPPING_KEY": "",
    # Region for the management API client; None: AWS_REGION / AWS_DEFAULT_REGION, then "us-east-1".
    "REGION": None,
    # Lambda adapter: on Lambda, add ".execute-api.<region>.amazonaws.com" to ALLOWED_HOSTS at cold start (and,
    # anywhere, the host of a recorded execute-api event when it is replayed), so the Host API Gateway sends is
    # accepted without guessing it by hand. Never used to allow an Origin.
    "TRUST_EXECUTE_API_HOST": True,
    # Posts a broadcast keeps in flight at once (its keep-alive connection pool has as many connections).
    "MAX_WORKERS": 128,
    # Retries for a throttled (429) post before it counts as failed.
    "MAX_RETRIES": 4,
    # The message hot path (``connection_cache``): connections whose facts and user each process keeps (an LRU;
    # 0 turns the cache off: a store round trip and a user lookup per message), how many seconds it trusts them
    # before one store round trip writes the messages counted meanwhile and re-reads the connection, and how
    # often a connection's user is checked again (exists, is active, same password).
    "CONNECTION_CACHE_SIZE": 10_000,
    "CONNECTION_CACHE_TTL": 60.0,
    "USER_REVALIDATE_INTERVAL": 60.0,
    # Big broadcasts (``fanout``): with a queue URL, ``send_to_group`` on a group of more than the threshold's members
    # puts recipient chunks (at most BROADCAST_CHUNK_SIZE connections each) on that SQS queue instead of posting in
    # the caller; the function's SQS event source mapping posts them. SQS_ENDPOINT_URL: a local SQS (tests, moto).
    "BROADCAST_QUEUE_URL": None,
    "BROADCAST_QUEUE_THRESHOLD": 1000,
    "BROADCAST_CHUNK_SIZE": 500,
    "SQS_ENDPOINT_URL": None,
    # The worker posts a chunk to every recipient once; the recipients whose posts failed in a way that can still
    # succeed (throttled, 5xx, network) go back on the queue as a new chunk holding only them, delayed
    # BROADCAST_RETRY_DELAY seconds doubled at each attempt (at most 900), until BROADCAST_MAX_ATTEMPTS deliveries;
    # then to BROADCAST_DEAD_LETTER_QUEUE_URL (None: the chunk is reported failed, and SQS's redrive policy moves
    # it there after maxReceiveCount receives).
    "BROADCAST_MAX_ATTEMPTS": 5,
    "BROADCAST_RETRY_DELAY": 5,
    "BROADCAST_DEAD_LETTER_QUEUE_URL": None,
    # DynamoDB connection store: table name and (local development, tests) endpoint.
    "DYNAMODB_TABLE": None,
    "DYNAMODB_ENDPOINT_URL": None,
    # Signed connect tokens: the query parameter carrying one, its lifetime in seconds, and where the user
    # comes from: "database" (the real User) or "claims" (built from the token, no user database needed).
    "CONNECT_TOKEN_PARAM": "token",
    "CONNECT_TOKEN_MAX_AGE": 60,
    "TOKEN_USERS": "database",
    # Channels bridge (``channels_compat``): the ASGI application (a ProtocolTypeRouter, a URLRouter or a list of
    # websocket URL patterns) whose consumers run; None: settings.ASGI_APPLICATION.
    "CHANNELS_APPLICATION": None,
    # The $connect query parameter naming the consumer route (API Gateway's URL is the stage URL, no path).
    "CHANNELS_PATH_PARAM": "path",
    # Largest per-connection state (scope["connection_state"]) kept in the store, in bytes of JSON.
    "CHANNELS_STATE_MAX_BYTES": 16 * 1024,
    # Seconds the frames a consumer sends during connect wait for API Gateway to open the socket before they
    # are left for the connection's next event.
    "CHANNELS_CONNECT_FLUSH_TIMEOUT": 10.0,
    # The project's own URLconf, served next to the WebSocket URLs when ROOT_URLCONF is
    # "django_aws_api_gateway_websockets.channels_compat.urls" (so urls.py stays as Channels had it).
    "CHANNELS_URLCONF": None,
}


class WebSocketSettings:
    """Attribute access to the ``WEBSOCKETS`` dict with defaults: ``ws_settings.STORE``."""

    def user_settings(self) -> dict[str, Any]:
        value = getattr(django_settings, "WEBSOCKETS", {})
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown WEBSOCKETS setting {name!r}")
        return self.user_settings().get(name, DEFAULTS[name])


ws_settings = WebSocketSettings()


def region() -> str:
    """The AWS region: ``WEBSOCKETS["REGION"]``, then AWS_REGION / AWS_DEFAULT_REGION, then us-east-1."""
    configured: str | None = ws_settings.REGION
    return configured or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
