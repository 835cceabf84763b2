"""aio.run_async: one event loop for the process, sync work back on the calling thread."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import async_to_sync, sync_to_async

from django_aws_api_gateway_websockets.aio import run_async, shared_loop


async def _where() -> tuple[int, int, int]:
    loop = id(asyncio.get_running_loop())
    sync_thread = await sync_to_async(threading.get_ident)()  # thread-sensitive, as Channels' handlers are

    def nested() -> int:  # a sync consumer calling async_to_sync(layer.group_send)
        async def inner() -> int:
            return id(asyncio.get_running_loop())

        return async_to_sync(inner)()

    nested_loop = await sync_to_async(nested)()
    return loop, sync_thread, nested_loop


def test_one_loop_for_every_call_and_sync_code_on_the_calling_thread() -> None:
    first = run_async(_where)
    second = run_async(_where)
    assert first[0] == second[0] == id(shared_loop())  # no new event loop per call
    assert first[1] == second[1] == threading.get_ident()  # ORM calls stay on the request's thread
    assert first[2] == first[0]  # a nested async_to_sync lands on the same loop


def test_errors_propagate_and_other_threads_share_the_loop() -> None:
    async def boom() -> None:
        raise KeyError("x")

    try:
        run_async(boom)
    except KeyError:
        pass
    else:
        raise AssertionError("the coroutine's error was lost")
    seen: list[tuple[int, int, int]] = []
    worker = threading.Thread(target=lambda: seen.append(run_async(_where)))
    worker.start()
    worker.join()
    assert seen[0][0] == id(shared_loop()) and seen[0][1] == worker.ident
