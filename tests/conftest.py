from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches

from django_aws_api_gateway_websockets.store import reset_stores


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """Each test starts with empty caches (rate limits) and freshly built stores."""
    for cache in caches.all():
        cache.clear()
    reset_stores()
    yield
    reset_stores()
