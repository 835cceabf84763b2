"""Messaging rows: broadcast to 2,000 connections against a local endpoint, against a sequential loop."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def sink(delay_ms: float) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.sink", "--delay-ms", str(delay_ms)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def sink_stats(url: str) -> dict[str, float]:
    """The sink's counters: posts it answered, and the CPU seconds its process has used."""
    with urllib.request.urlopen(f"{url}/_stats") as response:  # noqa: S310 - local benchmark sink
        return {key: float(value) for key, value in json.load(response).items()}


def posts_seen(url: str) -> int:
    return int(sink_stats(url)["posts"])


def run(count: int, delay_ms: float) -> dict[str, float]:
    import os

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    from django.test import override_settings

    from django_aws_api_gateway_websockets.messaging import broadcast, client_for, encode
    from django_aws_api_gateway_websockets.models import WebSocketSession

    WebSocketSession.objects.filter(connection_id__startswith="bench-").delete()
    WebSocketSession.objects.bulk_create(
        [WebSocketSession(connection_id=f"bench-{i:05d}=", domain_name="127.0.0.1", stage="") for i in range(count)]
    )
    sessions = list(WebSocketSession.objects.filter(connection_id__startswith="bench-"))
    payload = {"type": "message", "room": "lobby", "text": "x" * 200}
    with sink(delay_ms) as url, override_settings(WEBSOCKETS={"ENDPOINT_URL": url}):
        client = client_for(url)
        data = encode(payload)
        client.post_to_connection(ConnectionId="warmup=", Data=data)
        sequential_n = max(100, count // 10)  # the slow loop: a sample, scaled
        start = time.perf_counter()
        for session in sessions[:sequential_n]:
            client.post_to_connection(ConnectionId=session.connection_id, Data=data)
        sequential_rate = sequential_n / (time.perf_counter() - start)

        sink_before = sink_stats(url)
        start, cpu = time.perf_counter(), time.process_time()
        result = broadcast(sessions, payload)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu  # cpu: every thread of this process
        sink_after = sink_stats(url)
        delivered = int(sink_after["posts"]) - 1 - sequential_n
        # The sink's own CPU per post it answered: 1 / that is the most it can absorb on one free core.
        sink_cpu = (sink_after["cpu_seconds"] - sink_before["cpu_seconds"]) / max(1, delivered)
        # Memory is measured in a second, traced run: tracing slows allocation too much to time it.
        tracemalloc.start()
        broadcast(sessions, payload)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    WebSocketSession.objects.filter(connection_id__startswith="bench-").delete()
    return {
        "broadcast_rate": result.sent / elapsed,
        "cpu_per_post_ms": cpu / count * 1000,
        "sequential_rate": sequential_rate,
        "sink_cpu_per_post_ms": sink_cpu * 1000,
        "sink_capacity": 1 / sink_cpu if sink_cpu > 0 else float("inf"),
        "sent": result.sent,
        "lost": count - delivered,
        "traced_peak_mb": traced_peak / 2**20,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
