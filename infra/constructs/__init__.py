from .django_websocket_api import DjangoWebSocketApi, DjangoWebSocketApiProps

__all__ = ["DjangoWebSocketApi", "DjangoWebSocketApiProps"]
