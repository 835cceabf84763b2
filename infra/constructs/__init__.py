from .django_websocket_api import ACCESS_LOG_FORMAT, DjangoWebSocketApi, DjangoWebSocketApiProps
from .monitoring import WebSocketMonitoring, WebSocketMonitoringProps

__all__ = ["ACCESS_LOG_FORMAT", "DjangoWebSocketApi", "DjangoWebSocketApiProps", "WebSocketMonitoring",
           "WebSocketMonitoringProps"]
