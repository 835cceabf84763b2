"""Fixed-window connection attempt limits: in a Django cache (Redis for servers) or in the DynamoDB table
(Lambda without a VPC)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import region, ws_settings
from .snapstart import after_restore

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day|s|m|h|d)\s*$")
_SHORT = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(value: str) -> Rate:
    """Parse ``"60/minute"`` (or ``"60/m"``) into a :class:`Rate`; ValueError on anything else."""
    if not isinstance(value, str):
        raise ValueError(f"rate must be a string like '60/minute', not {type(value).__name__}")
    match = _RATE_RE.match(value)
    if match is None:
        raise ValueError(f"invalid rate {value!r}: expected 'N/second|minute|hour|day'")
    count = int(match.group(1))
    if count < 1:
        raise ValueError(f"invalid rate {value!r}: the count must be at least 1")
    period = _SHORT.get(match.group(2), match.group(2))
    return Rate(count=count, seconds=_PERIODS[period])


class RateLimiter(Protocol):
    """Counts attempts per key in fixed windows; selected by ``WEBSOCKETS["RATE_LIMITER"]``."""

    def hit(self, scope: str, key: str, rate: Rate) -> bool:
        """Count one attempt for ``key``; True when it is within ``rate``."""


def _window_key(scope: str, key: str, rate: Rate) -> tuple[str, int, int]:
    window = int(time.time() // rate.seconds)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{scope}:{digest}", window, (window + 1) * rate.seconds


class CacheRateLimiter:
    """Counters in a Django cache (``WEBSOCKETS["RATE_LIMIT_CACHE"]``): shared by every process when that cache
    is (Redis, Memcached: ``add`` and ``incr`` are atomic there); per process with LocMemCache."""

    def hit(self, scope: str, key: str, rate: Rate, cache_alias: str | None = None) -> bool:
        name, window, _ = _window_key(scope, key, rate)
        cache_key = f"dawsws:rl:{name}:{rate.seconds}:{window}"
        cache = caches[cache_alias or ws_settings.RATE_LIMIT_CACHE]
        cache.add(cache_key, 0, timeout=rate.seconds + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # evicted between add and incr
            cache.set(cache_key, 1, timeout=rate.seconds + 1)
            count = 1
        return int(count) <= rate.count


class DynamoDBRateLimiter:
    """Counters in the DynamoDB connection table (``WEBSOCKETS["DYNAMODB_TABLE"]``): shared by every Lambda
    container without a VPC or a cache. One conditional ``UpdateItem`` per attempt: ``ADD`` to the window's
    counter only while it is under the limit (atomic), the item expiring by TTL after its window."""

    _clients: dict[tuple[str | None, str], Any] = {}
    _lock = threading.Lock()

    def _client(self) -> Any:
        key = (ws_settings.DYNAMODB_ENDPOINT_URL, region())
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    import boto3
                    from botocore.config import Config

                    client = boto3.session.Session().client(
                        "dynamodb", region_name=key[1], endpoint_url=key[0],
                        config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16))
                    self._clients[key] = client
        return client

    def hit(self, scope: str, key: str, rate: Rate, cache_alias: str | None = None) -> bool:
        from botocore.exceptions import ClientError

        from .store import dynamodb_schema as schema

        table = ws_settings.DYNAMODB_TABLE
        if not table:
            raise ImproperlyConfigured("The DynamoDB rate limiter needs WEBSOCKETS['DYNAMODB_TABLE'].")
        name, window, window_end = _window_key(scope, key, rate)
        try:
            self._client().update_item(
                TableName=table,
                Key={schema.PARTITION_KEY: {"S": schema.RATE_PREFIX + name},
                     schema.SORT_KEY: {"S": f"{schema.WINDOW_PREFIX}{rate.seconds}#{window}"}},
                UpdateExpression="ADD hits :one SET #ttl = if_not_exists(#ttl, :expires)",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(rate.count)},
                                           ":expires": {"N": str(window_end + 60)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


# SnapStart: the DynamoDB clients hold connection pools and credentials.
after_restore(DynamoDBRateLimiter._clients.clear)

_limiters: dict[str, Any] = {}


def get_limiter() -> Any:
    """The limiter named by ``WEBSOCKETS["RATE_LIMITER"]``, created once per dotted path."""
    path: str = ws_settings.RATE_LIMITER
    limiter = _limiters.get(path)
    if limiter is None:
        limiter = _limiters[path] = import_string(path)()
    return limiter


def hit(scope: str, key: str, rate: str | None, cache_alias: str | None = None) -> bool:
    """Count one attempt for ``key`` with the configured limiter; True when it is within ``rate``."""
    if rate is None:
        return True
    return bool(get_limiter().hit(scope, key, parse_rate(rate), cache_alias))
