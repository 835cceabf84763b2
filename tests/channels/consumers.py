"""Consumers written against Channels' API only, one of each generic class, for the bridge's tests."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import (AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer, JsonWebsocketConsumer,
                                        WebsocketConsumer)


def scope_report(scope: dict) -> dict:
    """The scope as JSON: every key a consumer may read."""
    user = scope["user"]
    return {
        "keys": sorted(scope),
        "type": scope["type"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query_string": scope["query_string"].decode(),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "subprotocols": scope["subprotocols"],
        "user": user.get_username() if user.is_authenticated else None,
        "session_key": scope["session"].session_key,
        "session_value": scope["session"].get("flavour"),
        "cookies": sorted(scope["cookies"]),
        "url_route": {"args": list(scope["url_route"]["args"]), "kwargs": scope["url_route"]["kwargs"]},
        "client": list(scope["client"]),
        "scheme": scope["scheme"],
    }


class EchoConsumer(WebsocketConsumer):
    """Sync, text: echoes, reports its scope, keeps state, closes, raises, on command."""

    groups = ["everyone"]

    def connect(self):
        if self.scope["query_string"] == b"refuse=1":
            self.close()
            return
        if self.scope["query_string"] == b"boom=1":
            raise RuntimeError("connect bug")
        if self.scope["query_string"] == b"accept-close=1":
            self.accept()
            self.send(text_data="only this")
            self.close(code=4003)
            return
        self.accept("chat.v1" if "chat.v1" in self.scope["subprotocols"] else None)
        if self.scope["query_string"] == b"greet=1":
            self.send(text_data="welcome")
            self.send(text_data=json.dumps({"channel": self.channel_name, "connect_scope": scope_report(self.scope)}))
        self.scope["connection_state"]["connects"] = 1

    def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            self.send(bytes_data=bytes_data[::-1])
            return
        if text_data == "scope":
            self.send(text_data=json.dumps(scope_report(self.scope)))
        elif text_data == "raise":
            self.send(text_data="before the error")
            raise RuntimeError("consumer bug")
        elif text_data == "close":
            self.send(text_data="bye")
            self.close(code=4001)
        elif text_data == "count":
            state = self.scope["connection_state"]
            state["count"] = state.get("count", 0) + 1
            self.send(text_data=str(state["count"]))
        elif text_data == "two":
            self.send(text_data="one")
            self.send(text_data="two")
        elif text_data == "silent":
            pass
        elif text_data == "bad-config":
            json.loads("{settings: 1}")  # a bug parsing something that is not the frame
        elif text_data == "huge-state":
            self.scope["connection_state"]["blob"] = "x" * 20000
        elif text_data.startswith("all:"):
            async_to_sync(self.channel_layer.group_send)("everyone", {"type": "shout", "text": text_data[4:]})
        else:
            self.send(text_data=f"echo:{text_data}")

    def shout(self, event):
        self.send(text_data=f"shout:{event['text']}")

    def disconnect(self, code):
        async_to_sync(self.channel_layer.group_send)("everyone", {"type": "shout", "text": f"left {code}"})


class TutorialStyleConsumer(WebsocketConsumer):
    """Written as the Channels tutorial writes its ChatConsumer: text only, parses the frame itself."""

    def connect(self):
        self.accept()

    def receive(self, text_data):
        message = json.loads(text_data)["message"]
        self.send(text_data=json.dumps({"message": message}))


class JsonEchoConsumer(JsonWebsocketConsumer):
    def receive_json(self, content, **kwargs):
        self.send_json({"got": content, "kwargs": self.scope["url_route"]["kwargs"]})


class AsyncRoomConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(f"room.{self.room}", self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(f"room.{self.scope['url_route']['kwargs']['room']}", self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "scope":
            await self.send(text_data=json.dumps(scope_report(self.scope)))
            return
        room = self.scope["url_route"]["kwargs"]["room"]  # self.room was set in connect, by another instance
        await self.channel_layer.group_send(f"room.{room}", {"type": "room.message", "text": text_data})

    async def room_message(self, event):
        await self.send(text_data=event["text"])


class AsyncJsonCounterConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.send_json({"hello": self.scope["url_route"]["args"]})

    async def receive_json(self, content, **kwargs):
        if content.get("raise"):
            raise ValueError("async consumer bug")
        state = self.scope["connection_state"]
        state["total"] = state.get("total", 0) + int(content.get("add", 0))
        await self.send_json({"total": state["total"]})
        if content.get("direct"):
            await self.channel_layer.send(self.channel_name, {"type": "direct.note", "note": "to myself"})

    async def direct_note(self, event):
        await self.send_json({"note": event["note"]})
