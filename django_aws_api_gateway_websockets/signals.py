"""Signals sent by :class:`~django_aws_api_gateway_websockets.views.WebSocketView`.

Every signal is sent with ``sender`` = the view class and keyword arguments ``request`` and ``connection``
(a :class:`~django_aws_api_gateway_websockets.store.base.Connection`); ``websocket_message_received`` also
gets ``route`` and ``body``.
"""

from __future__ import annotations

from django.dispatch import Signal

websocket_connected = Signal()
websocket_disconnected = Signal()
websocket_message_received = Signal()
