"""Lambda rows: cold start and warm message latency, ours against bare apig-wsgi + Django."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

COLD_SCRIPT = """
import json, time, sys
t0 = time.perf_counter()
kind = sys.argv[1]
from django_aws_api_gateway_websockets.events import Connection
conn = Connection(api_id="bench00001")
if kind == "ours":
    import lambda_handler
    response = lambda_handler.handler(conn.connect_event(), None)
else:
    from benchmarks import bare_handler
    event = bare_handler.rest_event_like(conn.message_event(json.dumps({"action": "echo", "data": 1})))
    response = bare_handler.handler(event, None)
assert response["statusCode"] == 200, response
print(time.perf_counter() - t0)
"""


def _env(db_path: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "benchmarks.settings", "DJANGO_DB_PATH": db_path,
                "PYTHONPATH": str(ROOT), "AWS_REGION": "us-east-1"})
    return env


def migrate(db_path: str) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(db_path), check=True)


def cold_start(db_path: str, runs: int = 7) -> dict[str, float]:
    """Median seconds from a fresh process's first import to its first response (interpreter start excluded)."""
    results: dict[str, list[float]] = {"ours": [], "bare": []}
    for _ in range(runs):
        for kind in ("ours", "bare"):  # interleaved, so machine noise hits both alike
            out = subprocess.run([sys.executable, "-c", COLD_SCRIPT, kind], cwd=ROOT, env=_env(db_path),
                                 check=True, capture_output=True, text=True)
            results[kind].append(float(out.stdout.strip().splitlines()[-1]))
    return {kind: statistics.median(values) for kind, values in results.items()}


def warm(count: int = 3000) -> dict[str, float]:
    """Median seconds per MESSAGE event in this (warm) process, interleaved: ours (the sync echo route), ours
    with the same echo as an ``async def`` route (run on the process's shared event loop), and bare."""
    import lambda_handler
    from benchmarks import bare_handler
    from django_aws_api_gateway_websockets.events import Connection

    conn = Connection(api_id="bench00002")
    assert lambda_handler.handler(conn.connect_event(), None)["statusCode"] == 200
    ours_event = conn.message_event(json.dumps({"action": "echo", "data": {"n": 1}}), route_key="echo")
    async_event = conn.message_event(json.dumps({"action": "aecho", "data": {"n": 1}}), route_key="aecho")
    bare_event = bare_handler.rest_event_like(ours_event)
    for _ in range(200):  # warm-up
        lambda_handler.handler(ours_event, None)
        lambda_handler.handler(async_event, None)
        bare_handler.handler(bare_event, None)
    timings: dict[str, list[float]] = {"ours": [], "async": [], "bare": []}
    handlers: dict[str, tuple[Any, dict[str, Any]]] = {"ours": (lambda_handler.handler, ours_event),
                                                       "async": (lambda_handler.handler, async_event),
                                                       "bare": (bare_handler.handler, bare_event)}
    for _ in range(count):
        for kind, (handler, event) in handlers.items():
            start = time.perf_counter()
            response = handler(event, None)
            timings[kind].append(time.perf_counter() - start)
            assert response["statusCode"] == 200, response
    return {kind: statistics.median(values) for kind, values in timings.items()}


def async_bridge(count: int = 3000) -> dict[str, float]:
    """Median seconds to run an empty coroutine from sync code: ``aio.run_async`` (the process's shared loop,
    in its own thread) beside asgiref's ``async_to_sync`` called from a plain thread (a new loop per call: what an
    async view costs under WSGI), interleaved."""
    from asgiref.sync import async_to_sync

    from django_aws_api_gateway_websockets.aio import run_async

    async def noop() -> None:
        return None

    timings: dict[str, list[float]] = {"shared": [], "new_loop": []}
    calls = {"shared": lambda: run_async(noop), "new_loop": lambda: async_to_sync(noop)()}
    for _ in range(100):  # warm-up
        for call in calls.values():
            call()
    for _ in range(count):
        for kind, call in calls.items():
            start = time.perf_counter()
            call()
            timings[kind].append(time.perf_counter() - start)
    return {kind: statistics.median(values) for kind, values in timings.items()}

