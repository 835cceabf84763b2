"""Connection store backends; :func:`get_store` returns the configured one."""

from __future__ import annotations

import threading

from django.utils.module_loading import import_string

from ..conf import ws_settings
from ..snapstart import after_restore
from .base import Connection, ConnectionStore

__all__ = ["Connection", "ConnectionStore", "get_store"]

_lock = threading.Lock()
_stores: dict[str, ConnectionStore] = {}


def get_store() -> ConnectionStore:
    """The store named by ``WEBSOCKETS["STORE"]``, created once per dotted path."""
    path: str = ws_settings.STORE
    store = _stores.get(path)
    if store is None:
        with _lock:
            store = _stores.get(path)
            if store is None:
                store = import_string(path)()
                _stores[path] = store
    return store


def reset_stores() -> None:
    """Forget cached store instances and what the message hot path cached from them (tests, settings changes)."""
    from .. import connection_cache

    with _lock:
        _stores.clear()
    connection_cache.reset()


after_restore(reset_stores)  # SnapStart: a store holds a boto3 client (connection pool, credentials)
