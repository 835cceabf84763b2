"""The Channels bridge through the Lambda handler: scope, every generic consumer class, state between events,
errors, closes, the connect queue, origins and routes. @connections posts land on the fault server."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from django_aws_api_gateway_websockets.channels_compat.names import channel_name_for
from django_aws_api_gateway_websockets.store import get_store

from .conftest import ORIGIN, join_flushes

pytestmark = pytest.mark.django_db

SCOPE_KEYS = ["asgi", "client", "connection_state", "cookies", "headers", "http_version", "path", "path_remaining",
              "query_string", "raw_path", "root_path", "scheme", "server", "session", "subprotocols", "type",
              "url_route", "user"]


def posted(fault_server: Any, connection_id: str) -> list[str]:
    return [frame.decode() for frame in fault_server.received.get(connection_id, [])]


def test_every_scope_key_at_a_later_event(socket: Any, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("ada")
    client = socket(connect=False)
    client.force_login(user)
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore(client.cookies["sessionid"])
    session["flavour"] = "lemon"
    session.save()
    response = client.connect(query={"path": "/ws/echo/", "room": "a b", "token": "", "x": ["1", "2"]},
                              origin=ORIGIN, headers={"Sec-WebSocket-Protocol": "other, chat.v1",
                                                      "Accept-Language": "fr"})
    assert response.status_code == 200
    assert response.headers["Sec-WebSocket-Protocol"] == "chat.v1"
    report = client.send("scope").json()
    assert report["keys"] == SCOPE_KEYS
    assert report["type"] == "websocket" and report["scheme"] == "wss"
    assert report["path"] == report["raw_path"] == "/ws/echo/"
    # The route parameter and the connect token are the bridge's; what else the client sent is kept, in order.
    assert report["query_string"] == "room=a+b&x=1&x=2"
    assert report["subprotocols"] == ["other", "chat.v1"]
    assert report["user"] == "ada"
    assert report["session_key"] == client.cookies["sessionid"] and report["session_value"] == "lemon"
    assert report["cookies"] == []  # credentials are not kept in the store: cookies exist at connect only
    assert "cookie" not in report["headers"] and "connectionid" not in report["headers"]
    assert report["headers"]["origin"] == ORIGIN and report["headers"]["accept-language"] == "fr"
    assert report["headers"]["user-agent"] == "Mozilla/5.0 (X11; Linux x86_64)"  # the client's, not API Gateway's
    assert report["headers"]["host"] == "abcdef1234.execute-api.us-east-1.amazonaws.com"
    assert report["url_route"] == {"args": [], "kwargs": {}}
    assert report["client"] == ["203.0.113.10", 0]


# The connect queue is sent from a background thread: with the ORM store, that thread needs committed rows.
ORM_COMMITTED = pytest.param("orm", marks=pytest.mark.django_db(transaction=True))


@pytest.mark.parametrize("bridge", [ORM_COMMITTED, "dynamodb"], indirect=True)
def test_scope_at_connect_has_the_cookies_and_its_sends_wait_for_the_socket(socket: Any, fault_server: Any,
                                                                           django_user_model: Any) -> None:
    client = socket(connect=False, connection_id="opening2-greet=")
    client.force_login(django_user_model.objects.create_user("bob"))
    assert client.connect(query={"path": "/ws/echo/", "greet": "1"}, origin=ORIGIN).status_code == 200
    join_flushes()
    # 410 twice (not open yet), then the queue goes out in order, once.
    frames = posted(fault_server, "opening2-greet=")
    assert frames[0] == "welcome" and len(frames) == 2
    greeting = json.loads(frames[1])
    assert greeting["channel"] == channel_name_for("opening2-greet=")
    connect_scope = greeting["connect_scope"]
    assert connect_scope["keys"] == SCOPE_KEYS and connect_scope["user"] == "bob"
    assert connect_scope["cookies"] == ["sessionid"] and "cookie" in connect_scope["headers"]  # at connect only
    assert connect_scope["query_string"] == "greet=1"
    assert "channels_pending" not in get_store().get("opening2-greet=").data  # type: ignore[union-attr]
    assert client.send("hello").body == "echo:hello"
    assert len(posted(fault_server, "opening2-greet=")) == 2


@pytest.mark.parametrize("bridge", ["dynamodb"], indirect=True)
def test_accept_then_close_in_connect_sends_the_queue_then_closes(socket: Any, fault_server: Any) -> None:
    client = socket("/ws/echo/", query={"accept-close": "1"}, connection_id="opening1-ac=")
    assert client.connect_response.status_code == 200  # accepted: API Gateway opens the socket ...
    join_flushes()
    assert posted(fault_server, "opening1-ac=") == ["only this"]  # ... what was sent goes, then the close
    assert fault_server.deleted == ["opening1-ac="]
    assert not get_store().get("opening1-ac=").connected  # type: ignore[union-attr]


def test_a_connect_queue_the_socket_was_too_slow_for_goes_first_at_the_next_event(socket: Any, fault_server: Any,
                                                                               settings: Any) -> None:
    from django.test import override_settings

    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "CHANNELS_CONNECT_FLUSH_TIMEOUT": 0.0}):
        client = socket("/ws/echo/", query={"greet": "1"}, connection_id="opening9-slow=")
        join_flushes()
    assert client.connect_response.status_code == 200
    assert posted(fault_server, "opening9-slow=") == []
    fault_server.attempts["GET opening9-slow="] = 99  # the socket is open now
    assert client.send("hello").body == "echo:hello"  # the reply comes after what was queued
    assert posted(fault_server, "opening9-slow=")[0] == "welcome"


def test_sync_consumer_echo_state_and_two_frames(socket: Any, fault_server: Any) -> None:
    client = socket("/ws/echo/")
    assert client.send("hi").body == "echo:hi"
    assert [client.send("count").body for _ in range(3)] == ["1", "2", "3"]  # scope["connection_state"] kept
    assert client.send("two").body == "two"  # the last frame is the reply ...
    assert posted(fault_server, client.connection_id) == ["one"]  # ... the others go first, through @connections
    assert client.send("silent").body == ""
    assert client.send(b"\xff\x00\x01", binary=True).body == ""  # not UTF-8: bytes_data, sent back as binary
    assert fault_server.received[client.connection_id][-1] == b"\x01\x00\xff"


def test_json_consumer_with_url_route_kwargs(socket: Any) -> None:
    client = socket("/ws/json/news/")
    assert json.loads(client.send({"a": [1, 2]}).body) == {"got": {"a": [1, 2]}, "kwargs": {"topic": "news"}}


def test_async_consumers_group_send_to_the_room_and_instance_attributes_survive(socket: Any,
                                                                               fault_server: Any) -> None:
    first, second, elsewhere = socket("/ws/room/blue/"), socket("/ws/room/blue/"), socket("/ws/room/red/")
    assert first.send("hello room").body == "hello room"  # the sender's own copy is its reply
    assert posted(fault_server, second.connection_id) == ["hello room"]
    assert posted(fault_server, elsewhere.connection_id) == []
    second.disconnect()  # group_discard in disconnect()
    first.send("again")
    assert posted(fault_server, second.connection_id) == ["hello room"]
    # self.room was set in connect() by another instance: JSON attributes are put back at every event.
    assert get_store().get(first.connection_id).data["channels_attributes"] == {"room": "blue"}  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_async_json_consumer_nested_router_args_state_and_send_to_own_channel(socket: Any, fault_server: Any) -> None:
    client = socket("/ws/v2/counter/42/")
    join_flushes()
    assert posted(fault_server, client.connection_id) == [json.dumps({"hello": ["42"]})]  # sent in connect()
    assert json.loads(client.send({"add": 5}).body) == {"total": 5}
    reply = client.send({"add": 2, "direct": True})
    assert json.loads(reply.body) == {"note": "to myself"}  # channel_layer.send(self.channel_name) comes last
    assert posted(fault_server, client.connection_id)[-1] == json.dumps({"total": 7})


@pytest.mark.parametrize("frame", ["raise", pytest.param(json.dumps({"raise": True}),
                                                           marks=pytest.mark.django_db(transaction=True))])
def test_a_consumer_that_raises_gets_a_json_error_the_socket_stays(socket: Any, fault_server: Any, frame: str,
                                                                  caplog: Any) -> None:
    client = socket("/ws/echo/" if frame == "raise" else "/ws/v2/counter/1/")
    join_flushes()
    with caplog.at_level(logging.ERROR, logger="django_aws_api_gateway_websockets.channels"):
        response = client.send(frame)
    assert response.status_code == 500 and response.json() == {"error": "Internal server error."}
    assert any(r.exc_info and "consumer bug" in str(r.exc_info[1]) for r in caplog.records)
    if frame == "raise":
        assert posted(fault_server, client.connection_id) == ["before the error"]  # what it sent still goes
        assert client.send("still here").body == "echo:still here"
    else:
        assert json.loads(client.send({"add": 1}).body) == {"total": 1}
    assert get_store().get(client.connection_id).connected  # type: ignore[union-attr]


def test_state_too_big_to_keep_is_an_error_not_a_silent_loss(socket: Any) -> None:
    client = socket("/ws/echo/")
    response = client.send("huge-state")
    assert response.status_code == 500
    assert client.send("count").body == "1"  # the state kept is the last good one


def test_close_posts_then_deletes_and_disconnect_runs_once(socket: Any, fault_server: Any) -> None:
    watcher, client = socket("/ws/echo/"), socket("/ws/echo/")
    response = client.send("close")
    assert response.status_code == 200 and response.body == ""
    assert posted(fault_server, client.connection_id) == ["bye"]
    assert fault_server.deleted == [client.connection_id]  # DeleteConnection: the client sees 1000, not 4001
    assert not get_store().get(client.connection_id).connected  # type: ignore[union-attr]
    client.disconnect(1000)
    client.disconnect(1000)  # API Gateway may repeat an event
    assert posted(fault_server, watcher.connection_id) == ["shout:left 1000"]


def test_refused_unknown_and_malformed_connects(socket: Any) -> None:
    refused = socket("/ws/echo/", query={"refuse": "1"})
    assert refused.connect_response.status_code == 403
    assert not get_store().get(refused.connection_id).connected  # type: ignore[union-attr]
    broken = socket("/ws/echo/", query={"boom": "1"})
    assert broken.connect_response.status_code == 500
    assert broken.connect_response.json() == {"error": "Internal server error."}
    assert not get_store().get(broken.connection_id).connected  # type: ignore[union-attr]
    assert socket("/ws/nowhere/").connect_response.status_code == 404
    assert socket(None).connect_response.status_code == 404  # no ?path=: "/", which no route serves
    assert socket("ws/echo/").connect_response.status_code == 400
    assert socket("/ws/echo/ x").connect_response.status_code == 400
    assert socket("/ws/echo/", origin="https://evil.example").connect_response.status_code == 403
    for malformed in ("http://[::1", "https://[", "http://a]b"):  # urlparse raises on these: never a 500
        assert socket("/ws/echo/", origin=malformed).connect_response.status_code == 403
    # As Channels' OriginValidator does: no Origin at all is refused too.
    assert socket("/ws/echo/", origin=None).connect_response.status_code == 403


def test_messages_for_connections_the_bridge_did_not_open_are_refused(socket: Any) -> None:
    client = socket(connect=False)
    assert client.send("hello").status_code == 403  # never connected


def test_group_send_from_ordinary_django_code_reaches_every_member(socket: Any, fault_server: Any) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    members = [socket("/ws/echo/") for _ in range(3)]
    layer = get_channel_layer()
    async_to_sync(layer.group_send)("everyone", {"type": "shout", "text": "from a view"})
    async_to_sync(layer.send)(channel_name_for(members[0].connection_id), {"type": "shout", "text": "just you"})
    assert posted(fault_server, members[0].connection_id) == ["shout:from a view", "shout:just you"]
    assert [posted(fault_server, m.connection_id) for m in members[1:]] == [["shout:from a view"]] * 2


@pytest.mark.parametrize("debug", [True, False])
def test_errors_are_json_with_debug_on_and_off(socket: Any, settings: Any, debug: bool) -> None:
    settings.DEBUG = debug
    client = socket("/ws/json/news/")
    for frame in ("not json", "[1, 2", ""):
        response = client.send(frame)  # the JSON consumer cannot decode any: the client gets JSON, never a page
        assert response.status_code == 400 and response.headers["Content-Type"] == "application/json"
        assert response.json()["error"].startswith(("Message is not valid JSON", "This consumer takes JSON text"))
    assert json.loads(client.send({"ok": 1}).body)["got"] == {"ok": 1}
    assert client.send("raise").status_code == 400  # not JSON either
    echo = socket("/ws/echo/")
    assert echo.send("raise").json() == {"error": "Internal server error."}  # a consumer bug stays a 500


DEEP = "[" * 5000


@pytest.mark.parametrize(("path", "frame", "error"), [
    ("/ws/json/news/", "not json", "Message is not valid JSON (Expecting value)."),
    ("/ws/json/news/", '{"a": ', "Message is not valid JSON (Expecting value)."),
    ("/ws/json/news/", b"\xff\xfe", "This consumer takes JSON text frames only."),
    ("/ws/json/news/", "[" * 65 + "]" * 65, "Message body is nested too deeply (at most 64 levels)."),
    ("/ws/json/news/", DEEP, "Message body is nested too deeply (at most 64 levels)."),
    ("/ws/json/other/", "{]", "Message is not valid JSON (Expecting property name enclosed in double quotes)."),
    ("/ws/echo/", DEEP, "Message body is nested too deeply (at most 64 levels)."),
    ("/ws/echo/", "[" * 500 + "x", "Message body is nested too deeply (at most 64 levels)."),  # not JSON, still too deep
    ("/ws/tutorial/", "not json", "Message is not valid JSON (Expecting value)."),  # the consumer's own json.loads
    ("/ws/tutorial/", b"\xff\xfe", "This consumer takes text frames only."),  # receive(self, text_data)
])
def test_client_garbage_is_a_logged_400_not_a_server_error(socket: Any, caplog: Any, path: str, frame: Any,
                                                           error: str) -> None:
    client = socket(path)
    join_flushes()
    with caplog.at_level(logging.INFO):
        response = client.send(frame, binary=isinstance(frame, bytes))
    assert (response.status_code, response.json()) == (400, {"error": error})
    ours = [r for r in caplog.records if r.name.startswith("django_aws_api_gateway_websockets")]
    assert [r.levelname for r in ours if r.levelno >= logging.WARNING] == ["WARNING"]
    assert get_store().get(client.connection_id).connected  # type: ignore[union-attr]


def test_a_bug_in_a_tutorial_style_consumer_stays_a_logged_500(socket: Any, caplog: Any) -> None:
    client = socket("/ws/tutorial/")
    with caplog.at_level(logging.ERROR, logger="django_aws_api_gateway_websockets.channels"):
        response = client.send("{}")  # the consumer reads data["message"] without looking: its KeyError
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error."})
    assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)
    assert json.loads(client.send('{"message": "hi"}').body) == {"message": "hi"}


def test_a_json_decode_error_on_anything_but_the_frame_is_the_consumer_s_bug(socket: Any) -> None:
    client = socket("/ws/echo/")
    assert client.send("bad-config").json() == {"error": "Internal server error."}


CONSUMER_BUGS = {"raise", "bad-config", "huge-state"}  # frames the test consumers answer with a bug of their own


def test_any_handshake_and_any_frame_gets_an_answer_never_a_crash(socket: Any) -> None:
    from hypothesis import given, strategies as st

    from tests.fuzzing import any_text, bodies, cookies, fuzz, maybe, origins, paths, protocols, tokens

    routes = st.sampled_from(["/ws/echo/", "/ws/json/x/", "/ws/room/a/", "/ws/tutorial/"])

    @fuzz(40)
    @given(path=maybe(paths, any_text), origin=st.one_of(st.just(ORIGIN), maybe(origins, any_text)),
           cookie=maybe(cookies, any_text), protocol=maybe(protocols, any_text), token=maybe(tokens, any_text))
    def handshake(path: str | None, origin: str | None, cookie: str | None, protocol: str | None,
                  token: str | None) -> None:
        headers = {k: v for k, v in (("Cookie", cookie), ("Sec-WebSocket-Protocol", protocol)) if v is not None}
        client = socket(path, origin=origin, headers=headers, query={"token": token} if token is not None else None)
        assert client.connect_response.status_code in (200, 400, 401, 403, 404), client.connect_response
        assert client.connect_response.headers["Content-Type"] == "application/json"
        assert client.connect_response.status_code != 200 or path in ("/ws/echo/", "/ws/json/x/", "/ws/room/a/")

    @fuzz(60)
    @given(path=routes, frame=st.one_of(bodies, st.sampled_from(sorted(CONSUMER_BUGS))))
    def frames(path: str, frame: Any) -> None:
        client = socket(path)
        assert client.connect_response.status_code == 200
        response = client.send(frame, binary=isinstance(frame, bytes))
        if frame in CONSUMER_BUGS or path == "/ws/tutorial/":
            # The test consumers' own bugs, and the tutorial consumer's KeyError on JSON without "message".
            assert response.status_code in (200, 400, 413, 500)
        else:
            assert response.status_code in (200, 400, 413), (path, response.status_code, response.body[:200])
        if response.status_code >= 400:
            assert isinstance(response.json()["error"], str)

    handshake()
    frames()


def test_the_user_of_a_connect_token_is_scope_user_and_the_token_stays_out_of_the_scope(
        socket: Any, django_user_model: Any) -> None:
    from django_aws_api_gateway_websockets.tokens import make_connect_token

    user = django_user_model.objects.create_user("tess")
    client = socket("/ws/echo/", query={"token": make_connect_token(user), "lang": "en"})
    assert client.connect_response.status_code == 200
    report = client.send("scope").json()
    assert report["user"] == "tess" and report["query_string"] == "lang=en" and report["session_key"] is None
    user.set_password("changed")
    user.save()
    assert client.send("scope").status_code == 401  # as for every view: the user is checked at each message
