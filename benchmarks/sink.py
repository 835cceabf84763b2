"""A stand-in @connections endpoint for benchmarks: answers every POST with 200 after an optional delay
(the round trip to API Gateway), in its own process so it never competes with the sender for the GIL. It counts
posts (``/_stats``) and posts per connection id (``/_ids``).

Usage: python -m benchmarks.sink --delay-ms 10   (prints "PORT <n>" when ready)
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from aiohttp import web


def make_app(delay: float) -> web.Application:
    counts = {"posts": 0}
    per_id: Counter[str] = Counter()

    async def post(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        counts["posts"] += 1
        per_id[request.match_info["id"]] += 1
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    async def ids(request: web.Request) -> web.Response:
        """How many posts each connection id got (lost and duplicated deliveries)."""
        return web.json_response(per_id)

    app = web.Application()
    app.router.add_post(r"/@connections/{id}", post)
    app.router.add_post(r"/{stage}/@connections/{id}", post)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_ids", ids)
    return app


async def main(delay_ms: float) -> None:
    runner = web.AppRunner(make_app(delay_ms / 1000), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0.0)
    asyncio.run(main(parser.parse_args().delay_ms))
