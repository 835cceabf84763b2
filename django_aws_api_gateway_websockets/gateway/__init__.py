"""A local stand-in for API Gateway's WebSocket APIs: real sockets, the real event shapes, the @connections
API and the Django pages on one port. Started by ``manage.py runwsgateway``."""

from .config import GatewayConfig
from .server import build_app, run

__all__ = ["GatewayConfig", "build_app", "run"]
