"""moto in server mode for the tests: a real HTTP endpoint for boto3, DynamoDB requests applied one at a time.

moto's backends are plain Python: a conditional write is a check followed by a write, and its threaded server
lets two requests interleave between the two. DynamoDB applies each write to an item atomically (a condition
is checked and the write made as one step), so a race test against a threaded moto would report
interleavings DynamoDB never produces. This server keeps a connection per client (threads) but applies one
DynamoDB request at a time, which is at least as strict as DynamoDB's per-item atomicity; the clients'
concurrency (threads, processes) stays real. Other services (SQS long polls, CloudFormation) are not held up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class _OneRequestAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            # Other services keep moto's own concurrency (an SQS long poll must not hold up everyone).
            return self.app(environ, start_response)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)  # the whole answer is made inside the lock
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class MotoServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(host, 0, app, threaded=True, request_handler=MotoRequestHandler)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
