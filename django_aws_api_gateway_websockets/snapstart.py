"""Lambda SnapStart hygiene: what must not be shared by every environment restored from one snapshot.

With SnapStart, Lambda runs the function's initialisation once, snapshots the memory and restores that
snapshot for every new execution environment. Whatever the initialisation left in memory is then identical
everywhere: the state of :mod:`random` (retry jitter would be the same in every environment), and any network
client, connection pool or cached credentials (their sockets are dead after a restore).

Modules register a reset with :func:`after_restore` (the sender, the @connections clients, the connection
stores do); :func:`install` hands :func:`run_after_restore` to the Lambda runtime's ``snapshot_restore_py``
hooks (the runtime provides that module; elsewhere :func:`install` does nothing and returns False).
Randomness from :mod:`secrets`, :func:`os.urandom` and :func:`uuid.uuid4` comes from the kernel and needs no
reset; Python's string hash seed cannot be changed in a running process.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger("django_aws_api_gateway_websockets")

F = TypeVar("F", bound=Callable[[], Any])

_after_restore: list[Callable[[], Any]] = []
_installed = False


def after_restore(func: F) -> F:
    """Register ``func`` (no arguments) to run after a SnapStart restore; usable as a decorator."""
    if func not in _after_restore:
        _after_restore.append(func)
    return func


def run_after_restore() -> None:
    """Run every registered reset, in registration order; one failing reset does not stop the others."""
    for func in list(_after_restore):
        try:
            func()
        except Exception:
            logger.exception("SnapStart after-restore hook %r failed", func)


def install() -> bool:
    """Register :func:`run_after_restore` with the Lambda runtime's SnapStart hooks; False where the runtime's
    ``snapshot_restore_py`` module is absent (not on Lambda)."""
    global _installed
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    if not _installed:
        register_after_restore(run_after_restore)
        _installed = True
    return True


@after_restore
def reseed_random() -> None:
    """Fresh :mod:`random` state from the kernel (retry jitter, anything drawing from ``random``)."""
    random.seed()
