"""Races on a connection store with real threads or real processes: ``python -m tests.races.worker``.

Each scenario runs two operations on the same connection at once, many times (a fresh connection id per
trial): both sides wait on a barrier, then each sleeps a random fraction of a millisecond or two so the
interleavings vary, and runs its operation. After both are done the state is checked. Prints one JSON
object: per scenario, the trials run and the ids whose final state was wrong, and any exception raised.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

JITTER = 0.002


def _store() -> Any:
    from django_aws_api_gateway_websockets.store import get_store

    return get_store()


def _connection(cid: str) -> Any:
    from django_aws_api_gateway_websockets.store import Connection

    return Connection(connection_id=cid, api_id="race", stage="prod", domain_name="race.example", user_agent="race")


def _group(cid: str) -> str:
    return f"g-{cid}"


# Scenarios: (setup, side A, side B, check -> a problem or None) -------------------------------------------------
def _closed(cid: str) -> str | None:
    found = _store().get(cid)
    return None if found is not None and not found.connected else f"open after its $disconnect: {found}"


def _no_membership(cid: str) -> str | None:
    store = _store()
    groups = store.groups_of(cid)
    members = [c.connection_id for c in store.group_connections(_group(cid))]
    return None if not groups and cid not in members else f"ghost membership: groups={groups} members={members}"


def _one_open(cid: str) -> str | None:
    found = _store().get(cid)
    return None if found is not None and found.connected else f"not open after two connects: {found}"


SCENARIOS: dict[str, tuple[Callable[[str], Any], Callable[[str], Any], Callable[[str], Any], Callable[[str], Any]]] = {
    "connect_vs_disconnect": (lambda cid: None, lambda cid: _store().connect(_connection(cid)),
                              lambda cid: _store().disconnect(cid, 1001, "bye"), _closed),
    "join_vs_disconnect": (lambda cid: _store().connect(_connection(cid)), lambda cid: _store().join(cid, _group(cid)),
                           lambda cid: _store().disconnect(cid, 1001, "bye"),
                           lambda cid: _closed(cid) or _no_membership(cid)),
    "join_vs_mark_gone": (lambda cid: _store().connect(_connection(cid)), lambda cid: _store().join(cid, _group(cid)),
                          lambda cid: _store().mark_gone([cid]), lambda cid: _closed(cid) or _no_membership(cid)),
    "connect_vs_connect": (lambda cid: None, lambda cid: _store().connect(_connection(cid)),
                           lambda cid: _store().connect(_connection(cid)), _one_open),
}


def _side(scenario: str, side: int, cids: list[str], barrier: Any, errors: Any) -> None:
    operation = SCENARIOS[scenario][1 + side]
    rng = random.Random(os.getpid() * 31 + side)
    for cid in cids:
        barrier.wait()
        time.sleep(rng.random() * JITTER)
        try:
            operation(cid)
        except Exception:
            errors.append(traceback.format_exc(limit=4))
        barrier.wait()
    from django.db import connections

    connections.close_all()


def _process_side(scenario: str, side: int, cids: list[str], barrier: Any, errors: Any) -> None:
    import django

    django.setup()
    _side(scenario, side, cids, barrier, errors)


def run(scenario: str, mode: str, trials: int) -> dict[str, Any]:
    setup, _, _, check = SCENARIOS[scenario]
    prefix = f"{scenario[:6]}{mode[0]}{os.getpid()}{random.randrange(10**6)}"
    cids = [f"{prefix}n{i}=" for i in range(trials)]
    if mode == "threads":
        barrier: Any = threading.Barrier(3, timeout=60)
        errors: Any = []
        workers: list[Any] = [threading.Thread(target=_side, args=(scenario, side, cids, barrier, errors))
                              for side in (0, 1)]
    else:
        context = multiprocessing.get_context("spawn")
        manager = context.Manager()
        barrier, errors = context.Barrier(3, timeout=60), manager.list()
        workers = [context.Process(target=_process_side, args=(scenario, side, cids, barrier, errors))
                   for side in (0, 1)]
    for worker in workers:
        worker.start()
    bad: list[str] = []
    for cid in cids:
        setup(cid)
        barrier.wait()  # start
        barrier.wait()  # both done
        problem = check(cid)
        if problem:
            bad.append(f"{cid}: {problem}")
    for worker in workers:
        worker.join(60)
    return {"trials": trials, "bad": bad, "errors": list(errors)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["threads", "processes"], required=True)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--migrate", action="store_true")
    args = parser.parse_args()
    import django

    django.setup()
    if args.migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    started = time.monotonic()
    results = {name: run(name, args.mode, args.trials) for name in args.scenarios.split(",")}
    results["seconds"] = round(time.monotonic() - started, 2)  # type: ignore[assignment]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
