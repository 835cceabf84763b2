"""Gateway rows: hold many sockets on one local gateway process and time message round trips.

A round trip is client -> chat "post" route -> broadcast back through the @connections API -> the same
client (it is alone in its room). The baseline, in the same run, is the "echo" route's direct reply
(client -> route -> route response), so the ratio is what the @connections hop costs.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


async def _recv_until(ws: ClientConnection, key: str, value: str, timeout: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message.get(key) == value:
                return message


async def _round_trip(ws: ClientConnection, room: str, text: str) -> float:
    start = time.perf_counter()
    await ws.send(json.dumps({"action": "post", "room": room, "text": text}))
    message = await _recv_until(ws, "type", "message")
    assert message["text"] == text
    return time.perf_counter() - start


async def _echo(ws: ClientConnection) -> float:
    start = time.perf_counter()
    await ws.send(json.dumps({"action": "echo", "data": 1}))
    await _recv_until(ws, "route", "echo")
    return time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(url: str, count: int, samples: int) -> dict[str, Any]:
    semaphore = asyncio.Semaphore(100)

    async def open_one(i: int) -> ClientConnection:
        async with semaphore:
            ws = await connect(url, max_queue=None, open_timeout=60, ping_interval=None)
            await ws.send(json.dumps({"action": "join", "room": f"bench-{i}"}))
            await _recv_until(ws, "route", "join")
            return ws

    start = time.perf_counter()
    sockets = await asyncio.gather(*(open_one(i) for i in range(count)))
    opened = time.perf_counter() - start
    try:
        chosen = random.Random(7).sample(range(count), min(samples, count))
        # Latency with every socket held open: one round trip at a time, broadcast path and echo baseline.
        trips, echoes = [], []
        for i in chosen:
            trips.append(await _round_trip(sockets[i], f"bench-{i}", f"t{i}"))
            echoes.append(await _echo(sockets[i]))
        # Burst: every socket posts once, all at the same time.
        lost = 0

        async def burst_one(i: int) -> float | None:
            nonlocal lost
            try:
                return await _round_trip(sockets[i], f"bench-{i}", f"b{i}")
            except (TimeoutError, asyncio.TimeoutError):
                lost += 1
                return None

        start = time.perf_counter()
        burst = [t for t in await asyncio.gather(*(burst_one(i) for i in range(count))) if t is not None]
        burst_elapsed = time.perf_counter() - start
        held = sum(1 for ws in sockets if ws.state.name == "OPEN")
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "held": held, "open_seconds": opened, "p50": statistics.median(trips), "p99": _pct(trips, 0.99),
        "echo_p50": statistics.median(echoes), "echo_p99": _pct(echoes, 0.99),
        "burst_p50": statistics.median(burst) if burst else float("nan"),
        "burst_p99": _pct(burst, 0.99) if burst else float("nan"), "burst_rate": len(burst) / burst_elapsed,
        "lost": lost,
    }


def run(count: int = 2000, samples: int = 300) -> dict[str, Any]:
    from tests.e2e.gateway_process import start_gateway, stop_gateway

    _raise_fd_limit(4 * count + 256)
    gateway = start_gateway(Path(tempfile.mkdtemp(prefix="dawsws-gw-bench-")), "--concurrency", "16")
    try:
        return asyncio.run(_run(gateway.ws_url, count, samples))
    finally:
        stop_gateway(gateway)
