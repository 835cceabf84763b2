"""Benchmark runner: prints one table of figures. Usage: .venv/bin/python -m benchmarks.run [--quick]

Every figure is measured against a baseline in the same run and printed as a ratio, so machine speed cancels
out. Targets are printed beside each row; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Row = tuple[str, str, str, str, str]


def lambda_rows(quick: bool) -> list[Row]:
    from benchmarks import lambda_bench

    cold = lambda_bench.cold_start(os.environ["DJANGO_DB_PATH"], runs=3 if quick else 7)
    hot = lambda_bench.warm(count=500 if quick else 3000)
    bridge = lambda_bench.async_bridge(count=500 if quick else 3000)
    return [
        ("cold start (import + first $connect)", f"{cold['ours'] * 1000:.1f} ms", f"{cold['bare'] * 1000:.1f} ms",
         f"{cold['ours'] / cold['bare']:.2f}", "ratio <= 1.15"),
        ("warm MESSAGE latency (median)", f"{hot['ours'] * 1000:.3f} ms", f"{hot['bare'] * 1000:.3f} ms",
         f"{hot['ours'] / hot['bare']:.2f}", "ratio <= 1.3, < 1 ms"),
        ("warm MESSAGE latency, async route (median)", f"{hot['async'] * 1000:.3f} ms",
         f"{hot['ours'] * 1000:.3f} ms sync route", f"{hot['async'] / hot['ours']:.2f}", "ratio <= 2, < 1 ms"),
        ("coroutine from sync code: run_async (median)", f"{bridge['shared'] * 1e6:.0f} us",
         f"{bridge['new_loop'] * 1e6:.0f} us async_to_sync", f"{bridge['shared'] / bridge['new_loop']:.2f}",
         "ratio <= 0.5"),
    ]


def messaging_rows(quick: bool) -> list[Row]:
    from benchmarks import messaging_bench

    count = 2000 if quick else 10000
    rows: list[Row] = []
    for delay in (0.0, 10.0):
        r = messaging_bench.run(count, delay)
        latency = "no" if not delay else f"{delay:.0f} ms"
        label = f"broadcast to {count} ({latency} endpoint latency)"
        rows.append((label, f"{r['broadcast_rate']:.0f} msg/s", f"{r['sequential_rate']:.0f} msg/s sequential",
                     f"{r['broadcast_rate'] / r['sequential_rate']:.1f}",
                     f">= 8000/s at 10 ms; sent {r['sent']:.0f}, lost {r['lost']:.0f}"))
        rows.append((f"CPU per post ({latency} endpoint latency)", f"{r['cpu_per_post_ms']:.3f} ms", "-", "-",
                     "<= 0.1 ms"))
        rows.append((f"  the sink's CPU per post ({latency} endpoint latency)", f"{r['sink_cpu_per_post_ms']:.3f} ms",
                     f"at most {r['sink_capacity']:.0f} posts/s on one free core", "-",
                     "the stand-in endpoint, not ours: must exceed 8000/s"))
    rows.append(("broadcast memory (tracemalloc peak / process max RSS)", f"{r['traced_peak_mb']:.1f} MB",
                 f"{r['maxrss_mb']:.0f} MB RSS", "-", "-"))
    return rows


def gateway_rows(quick: bool) -> list[Row]:
    from benchmarks import gateway_bench

    count = 300 if quick else 2000
    r = gateway_bench.run(count=count, samples=100 if quick else 300)
    ms = 1000
    return [
        (f"gateway: sockets held (opened in {r['open_seconds']:.1f} s)", f"{r['held']}", f"{count} opened",
         f"{r['held'] / count:.2f}", "all held"),
        ("gateway round trip via @connections p50 / p99", f"{r['p50'] * ms:.1f} / {r['p99'] * ms:.1f} ms",
         f"echo reply {r['echo_p50'] * ms:.1f} / {r['echo_p99'] * ms:.1f} ms", f"{r['p50'] / r['echo_p50']:.2f}",
         "p50 ratio (the @connections hop)"),
        (f"gateway burst: all {count} post at once, p50 / p99", f"{r['burst_p50'] * ms:.0f} / {r['burst_p99'] * ms:.0f} ms",
         f"{r['burst_rate']:.0f} round trips/s", "-", f"lost {r['lost']} (target 0)"),
    ]


def store_rows(quick: bool) -> list[Row]:
    from benchmarks import store_bench

    members = 300 if quick else 2000
    r = store_bench.run(members=members, repeat=100 if quick else 300)
    orm, dynamo = r["orm"], r["dynamodb"]
    return [
        ("store: per-message lookup (touch) median", f"{dynamo['touch'] * 1000:.2f} ms DynamoDB (moto)",
         f"{orm['touch'] * 1000:.2f} ms ORM/SQLite", f"{dynamo['touch'] / orm['touch']:.1f}", "DynamoDB / ORM"),
        (f"store: group fan-out lookup, {members} members", f"{dynamo['fan_out'] * 1000:.0f} ms DynamoDB (moto)",
         f"{orm['fan_out'] * 1000:.0f} ms ORM/SQLite", f"{dynamo['fan_out'] / orm['fan_out']:.1f}", "DynamoDB / ORM"),
    ]


def hotpath_rows(quick: bool) -> list[Row]:
    from benchmarks import hotpath_bench

    messages, connections = 1000, 20
    r = hotpath_bench.run(messages=messages, connections=connections)
    label = f"store calls per message ({messages} messages, {connections} connections)"
    return [
        (f"{label}, ORM + database users", f"{r['orm']['cached']:.3f}", f"{r['orm']['uncached']:.2f} cache off",
         f"{r['orm']['cached'] / r['orm']['uncached']:.3f}", "<= 0.05 (SQL statements run)"),
        (f"{label}, DynamoDB (moto)", f"{r['dynamodb']['cached']:.3f}", f"{r['dynamodb']['uncached']:.2f} cache off",
         f"{r['dynamodb']['cached'] / r['dynamodb']['uncached']:.3f}", "<= 0.05 (API calls, botocore hooks)"),
    ]


def queue_rows(quick: bool) -> list[Row]:
    from benchmarks import queue_bench

    members = 5000 if quick else 20_000
    r = queue_bench.run(members=members)
    return [
        (f"send_to_group to {members:,} through SQS: caller returns", f"{r['returned'] * 1000:.0f} ms",
         f"{r['chunks']} chunks queued", "-", "< 29 s (API Gateway's integration timeout)"),
        (f"send_to_group to {members:,} through SQS: last delivery", f"{r['delivered']:.1f} s",
         f"{members / r['delivered']:.0f} posts/s, {r['batches']} SQS batches", "-",
         f"lost {r['lost']} (target 0), duplicated {r['duplicated']} (reported)"),
    ]


def asset_rows(quick: bool) -> list[Row]:
    from benchmarks import asset_bench

    r = asset_bench.run(runs=2 if quick else 7)
    python = f"CPython {r['python']}"
    return [
        (f"asset cold start, shipped bytecode ({python})", f"{r['shipped']:.0f} ms",
         f"{r['sources_only']:.0f} ms sources only", f"{r['shipped'] / r['sources_only']:.2f}", "ratio <= 0.6"),
        ("asset cold start: Powertools Logger + Metrics cost", f"{r['shipped'] - r['no_powertools']:+.0f} ms",
         f"{r['no_powertools']:.0f} ms without", f"{r['shipped'] / r['no_powertools']:.2f}", "<= +60 ms"),
    ]


def channels_rows(quick: bool) -> list[Row]:
    from benchmarks import channels_bench

    count = 1000
    r = channels_bench.run(count=count, repeat=3 if quick else 7)
    rows: list[Row] = []
    for form in ("async", "sync"):
        f = r[form]
        rows.append((f"Channels group_send to {count}, {form} ChatConsumer (median)",
                     f"{f['fan_out'] * 1000:.0f} ms", f"{f['plain'] * 1000:.0f} ms send_to_group, no handlers",
                     f"{f['fan_out'] / f['plain']:.1f}", f"ratio <= 3; lost {f['lost']} (target 0)"))
    return rows


SECTIONS: dict[str, Callable[[bool], list[Row]]] = {
    "lambda": lambda_rows, "hotpath": hotpath_rows, "messaging": messaging_rows, "queue": queue_rows, "gateway": gateway_rows, "store": store_rows,
    "asset": asset_rows,
    "channels": channels_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="dawsws-bench-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "benchmarks.settings", "AWS_REGION": "us-east-1",
                       "DJANGO_DB_PATH": str(Path(workdir) / "bench.sqlite3")})
    from benchmarks import lambda_bench

    lambda_bench.migrate(os.environ["DJANGO_DB_PATH"])
    import django

    django.setup()

    rows: list[Row] = []
    for name in args.only or list(SECTIONS):
        rows.extend(SECTIONS[name](args.quick))
    header: Row = ("benchmark", "ours", "baseline", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
