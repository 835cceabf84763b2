"""Settings of one local gateway process, with API Gateway's limits as defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .sqs_poller import SqsPollerConfig

Handler = Callable[[Any, Any], dict[str, Any]]


@dataclass
class GatewayConfig:
    handler: Handler
    host: str = "127.0.0.1"
    port: int = 8000
    stage: str = "local"
    api_id: str = "local"
    region: str = "us-east-1"
    # Route selection: `$request.body.<route_selection_key>` over these route names; two_way are answered.
    route_selection_key: str = "action"
    routes: list[str] = field(default_factory=list)
    two_way_routes: set[str] = field(default_factory=set)
    # Lambda-like concurrency: handler calls running at once.
    concurrency: int = 16
    # API Gateway's limits.
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    # Data posted to a socket (and route replies) not yet taken by a client that reads slowly; beyond it the
    # connection is closed. Posts answer at once, as API Gateway's do.
    max_buffered_bytes: int = 4 * 1024 * 1024
    idle_timeout: float = 10 * 60
    max_lifetime: float = 2 * 60 * 60
    serve_static: bool = False
    # @connections calls must be SigV4-signed with the gateway process's own AWS credentials (what botocore
    # finds: the app in this process signs with them) or with one of these (access key id -> secret key).
    credentials: dict[str, str] | None = None
    # Poll this SQS queue (broadcast chunks) and invoke the handler with its batches, as Lambda's event source
    # mapping does; None: no polling.
    sqs: SqsPollerConfig | None = None

    @property
    def domain_name(self) -> str:
        """What events carry as ``domainName``: an address the app can reach the gateway at."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        """The @connections endpoint the app should use (also reachable under the stage prefix)."""
        return f"http://{self.domain_name}"
