"""Fixed-window connection attempt limits kept in a Django cache."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.cache import caches

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


def hit(scope: str, key: str, rate: str | None, cache_alias: str) -> bool:
    """Count one attempt for ``key``; return True when it is within ``rate``."""
    if rate is None:
        return True
    parsed = parse_rate(rate)
    window = int(time.time() // parsed.seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"dawsws:rl:{scope}:{digest}:{parsed.seconds}:{window}"
    cache = caches[cache_alias]
    cache.add(cache_key, 0, timeout=parsed.seconds + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=parsed.seconds + 1)
        count = 1
    return count <= parsed.count
