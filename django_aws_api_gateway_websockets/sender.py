"""Concurrent, signed POSTs to the @connections API: the engine under every send and broadcast.

boto3's per-call overhead (about 1.1 ms of CPU per ``post_to_connection`` on our machines) caps a process
at under 1,000 posts a second however many threads it uses. Broadcasts instead run on one asyncio loop in a
background thread: each post is signed with botocore's own SigV4 signer (the same canonical request boto3
builds) and sent over aiohttp's keep-alive connection pool, with at most ``MAX_WORKERS`` posts in flight.
Credentials come from boto3's usual chain (environment, Lambda role, profile), refreshed per broadcast.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import random
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
import aiohttp
import boto3
from yarl import URL

from .signing import PostSigner
from .snapstart import after_restore

logger = logging.getLogger("django_aws_api_gateway_websockets")

SENT, GONE, FAILED, FORBIDDEN = "sent", "gone", "failed", "forbidden"
_RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Post:
    endpoint: str
    connection_id: str


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str = ""
    http_status: int = 0  # of a failed post's last answer (0: no answer, a network error)


def is_gone(error_type: str, status: int) -> bool:
    """API Gateway's answer for a connection that no longer exists: 410 GoneException."""
    return error_type == "GoneException" or status == 410


def _backoff(attempt: int) -> float:
    return min(2.0, 0.05 * (2**attempt)) * (0.5 + random.random())


class Sender:
    """Owns the background loop, one aiohttp session per endpoint, and the signer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._boto_session = boto3.session.Session()

    # Loop management ---------------------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="ws-sender", daemon=True)
                thread.start()
                self._loop, self._pid, self._sessions = loop, os.getpid(), {}
            return self._loop

    def _session(self, endpoint: str, limit: int) -> aiohttp.ClientSession:
        session = self._sessions.get(endpoint)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(total=15, connect=5)
            # No cookies (API Gateway sets none) and no decompression (the answers are tiny): less work per post.
            # Nor Accept / Accept-Encoding: the answers are not decompressed, so none is asked for compressed (as
            # boto3, which sends no Accept and asks for identity); two headers fewer to build per post.
            session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                            skip_auto_headers=["User-Agent", "Accept", "Accept-Encoding"],
                                            cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
            self._sessions[endpoint] = session
        return session

    def close(self) -> None:
        """Close the pooled connections and stop the loop (at interpreter exit)."""
        with self._lock:
            loop, sessions = self._loop, list(self._sessions.values())
            self._loop, self._sessions = None, {}
        if loop is None or loop.is_closed() or self._pid != os.getpid():
            return

        async def close_all() -> None:
            await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)
        except Exception:  # pragma: no cover - best effort at exit
            pass
        loop.call_soon_threadsafe(loop.stop)

    # Sending -------------------------------------------------------------------------------------------------
    def post_many(self, posts: Sequence[Post], data: bytes, *, region: str, concurrency: int,
                  retries: int) -> list[Outcome]:
        """Post ``data`` to every connection; outcomes in the order of ``posts``."""
        return self.post_groups([(posts, data)], region=region, concurrency=concurrency, retries=retries)[0]

    def post_groups(self, groups: Sequence[tuple[Sequence[Post], bytes]], *, region: str, concurrency: int,
                    retries: int) -> list[list[Outcome]]:
        """Post each group's payload to its connections, every group at once with at most ``concurrency`` posts
        in flight in all; the outcomes of each group in the order of its posts."""
        future = self._submit(groups, region, concurrency, retries)
        return self._split(groups, future.result() if future is not None else [])

    async def apost_many(self, posts: Sequence[Post], data: bytes, *, region: str, concurrency: int,
                         retries: int) -> list[Outcome]:
        """:meth:`post_many` for async code: awaits the posts (made on the sender's own loop) without blocking
        the caller's event loop."""
        groups = [(posts, data)]
        future = self._submit(groups, region, concurrency, retries)
        return self._split(groups, await asyncio.wrap_future(future) if future is not None else [])[0]

    def _submit(self, groups: Sequence[tuple[Sequence[Post], bytes]], region: str, concurrency: int,
                retries: int) -> Future[list[Outcome]] | None:
        """Start the posts of every group on the sender's loop; None when there is nothing to post."""
        jobs = [(post, data, index) for index, (posts, data) in enumerate(groups) for post in posts]
        if not jobs:
            return None
        credentials = self._boto_session.get_credentials()
        if credentials is None:
            raise RuntimeError("No AWS credentials found for the @connections API (set a role or AWS_* variables).")
        frozen = credentials.get_frozen_credentials()
        signers = [PostSigner(frozen, region, data) for _, data in groups]
        coroutine = self._post_all([(post, data, signers[index]) for post, data, index in jobs], max(1, concurrency),
                                   retries)
        return asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop())

    @staticmethod
    def _split(groups: Sequence[tuple[Sequence[Post], bytes]], outcomes: list[Outcome]) -> list[list[Outcome]]:
        ordered = iter(outcomes)
        return [[next(ordered) for _ in posts] for posts, _ in groups]

    async def _post_all(self, jobs: Sequence[tuple[Post, bytes, PostSigner]], concurrency: int,
                        retries: int) -> list[Outcome]:
        """``concurrency`` workers take the posts in turn (one task per worker, not per post: no semaphore, and a
        worker backing off from a 429 slows the whole broadcast down, as throttling asks)."""
        outcomes: list[Outcome] = [Outcome(FAILED)] * len(jobs)
        pending = iter(enumerate(jobs))

        async def worker() -> None:
            for index, (post, data, signer) in pending:
                outcomes[index] = await self._post(post, data, signer, concurrency, retries)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        return outcomes

    async def _post(self, post: Post, data: bytes, signer: PostSigner, concurrency: int, retries: int) -> Outcome:
        session = self._session(post.endpoint, concurrency)
        detail = ""
        status = 0
        for attempt in range(retries + 1):
            url, headers = signer.headers(post.endpoint, post.connection_id)
            try:
                # encoded=True: send the path exactly as signed ("%3D" stays "%3D", as boto3 sends it).
                async with session.post(URL(url, encoded=True), data=data, headers=headers) as response:
                    status = response.status
                    if 200 <= status < 300:
                        # Delivered: the status says so, whatever happens to the rest of the answer. Never
                        # retried (a retry would deliver it twice).
                        return Outcome(SENT)
                    error_type = response.headers.get("x-amzn-ErrorType", "").split(":")[0]
                    body = await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                # A keep-alive connection the server closed, a timeout, a refused connection: the post may or
                # may not have been delivered, so a retry can deliver it twice (at-least-once delivery).
                detail, status = f"{type(error).__name__}: {error}", 0
            else:
                if is_gone(error_type, status):
                    return Outcome(GONE)
                detail = f"{status} {error_type or body[:200].decode('utf-8', 'replace')}"
                if status == 403:
                    return Outcome(FORBIDDEN, detail, status)
                if status not in _RETRYABLE and error_type != "LimitExceededException":
                    break
            if attempt < retries:
                await asyncio.sleep(_backoff(attempt))
        logger.warning("post_to_connection %s failed: %s", post.connection_id, detail)
        return Outcome(FAILED, detail, status)


_sender: Sender | None = None
_sender_lock = threading.Lock()


def get_sender() -> Sender:
    global _sender
    if _sender is None:
        with _sender_lock:
            if _sender is None:
                _sender = Sender()
                atexit.register(_sender.close)
    return _sender


@after_restore
def reset_sender() -> None:
    """Forget the sender (its loop, keep-alive pools and cached credentials): after a SnapStart restore."""
    global _sender
    _sender = None
