"""Running async code from the synchronous WSGI dispatch, on one event loop per process.

``asgiref.sync.async_to_sync`` called from a plain thread starts a new event loop, in a new thread, for every
call. :func:`run_async` instead runs the coroutine on one long-lived loop (a daemon thread, started on first
use and again after a fork) while the calling thread waits and serves, as ``async_to_sync`` does, every
thread-sensitive ``sync_to_async`` call made inside: ORM queries from async code still run on the request's
own thread and its database connection, and a nested ``async_to_sync`` (in a sync Channels consumer, say)
lands on the same loop.

How: asgiref's ``AsyncToSync`` already reuses a running loop when the calling thread is one that
``SyncToAsync`` started (it reads that loop from a thread-local). For the duration of the call the calling
thread is marked the same way, so ``async_to_sync`` schedules onto the shared loop. The mark is restored
afterwards. If a future asgiref stops reading it, ``async_to_sync`` falls back to its own new loop: slower,
never wrong (``tests/channels/test_aio.py`` notices).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process's long-lived event loop, running in a daemon thread."""
    global _loop, _loop_pid
    loop = _loop
    if loop is not None and _loop_pid == os.getpid() and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ws-async", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def run_async(func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call the coroutine function ``func`` from synchronous code and return its result (or raise its error).

    Must be called from a thread without a running event loop (a WSGI or Lambda request thread).
    """
    local = SyncToAsync.threadlocal
    saved = {name: getattr(local, name, None) for name in ("main_event_loop", "main_event_loop_pid")}
    local.main_event_loop = shared_loop()
    local.main_event_loop_pid = os.getpid()
    try:
        return async_to_sync(func)(*args, **kwargs)  # type: ignore[arg-type]
    finally:
        for name, value in saved.items():
            setattr(local, name, value)
