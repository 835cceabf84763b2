"""Async routes, raw frames, binary frames and presence over real sockets, through the local gateway and
lambda_handler (a gateway serving tests/feature_views.py: the demo chat plus async and RAW routes)."""

from __future__ import annotations

import json
import struct
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.gateway_process import Gateway
from tests.e2e.test_gateway import ask, recv_until, reset, wait_for

pytestmark = pytest.mark.e2e


def test_sync_and_async_routes_and_raw_frames_on_one_socket(feature_gateway: Gateway) -> None:
    with connect(feature_gateway.ws_url) as ws:
        assert ask(ws, {"action": "echo", "data": 1, "requestId": "a1"}) == {"requestId": "a1", "route": "echo", "data": 1}
        reply = ask(ws, {"action": "aecho", "data": [2], "requestId": 9})
        assert (reply["route"], reply["data"], reply["requestId"], reply["groups"]) == ("aecho", [2], 9, [])
        again = ask(ws, {"action": "aecho"})
        assert again["loop"] == reply["loop"]  # the process's one shared loop, message after message
        assert ask(ws, {"action": "araise", "kind": "bad", "requestId": "a2"}) == {"requestId": "a2",
                                                                                    "error": "async bad input"}
        assert ask(ws, {"action": "araise"}) == {"error": "Internal server error."}
        ws.send("plain words")
        assert ws.recv(timeout=10) == "raw text: plain words"  # the RAW handler's text reply, as it is
        ws.send("[1, 2, 3]")
        assert ws.recv(timeout=10) == "raw text: [1, 2, 3]"
        assert ask(ws, {"action": "nope"}) == {"error": "No such route (async default).", "action": "nope"}


def test_a_binary_frame_closes_with_1003_and_is_recorded_as_the_disconnect(feature_gateway: Gateway) -> None:
    with connect(feature_gateway.ws_url) as ws:
        connection_id = ask(ws, {"action": "whoami"})["connectionId"]
        ws.send(b"\x89PNG binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert wait_for(lambda: feature_gateway.session(connection_id)["disconnect_status_code"] == 1003)


def test_presence_over_real_sockets_with_a_dropped_socket(feature_gateway: Gateway) -> None:
    with connect(feature_gateway.ws_url) as a, connect(feature_gateway.ws_url) as b:
        b_id = ask(b, {"action": "whoami"})["connectionId"]
        ask(a, {"action": "join", "room": "presence-e2e"})
        b.send(json.dumps({"action": "join", "room": "presence-e2e", "requestId": "j"}))
        assert len(recv_until(b, lambda m: m.get("requestId") == "j")["members"]) == 2
        joined = recv_until(a, lambda m: m.get("type") == "presence")
        assert (joined["event"], joined["member"]["connectionId"]) == ("joined", b_id)
        # b's network goes away: a TCP reset, no close frame. API Gateway's $disconnect (1006) is all that comes.
        reset(b.socket)
        left = recv_until(a, lambda m: m.get("type") == "presence" and m["event"] == "left")
        assert (left["group"], left["member"]["connectionId"]) == ("room:presence-e2e", b_id)
        a_id = ask(a, {"action": "whoami"})["connectionId"]
        assert [m["connectionId"] for m in ask(a, {"action": "members", "room": "presence-e2e"})["members"]] == [a_id]
    assert feature_gateway.session(b_id)["disconnect_status_code"] == 1006


def test_a_big_rooms_member_list_comes_in_pages_over_real_sockets(feature_gateway: Gateway) -> None:
    """180 members with 150-character non-ASCII names (about 170 KB of JSON together, over API Gateway's 128 KB
    message limit), written to the gateway's database as its store keeps them: the demo's "members" route answers
    one page per frame, each under 128 KB, and following "next" lists every member exactly once."""
    import sqlite3

    room = "e2e-huge-" + struct.pack(">d", time.time()).hex()[-6:]
    name = "\u0436" * 150
    ids = [f"huge{i:04d}-{room[-6:]}=" for i in range(180)]
    now = "2026-11-25 08:00:00"
    with sqlite3.connect(feature_gateway.db_path) as db:
        for cid in ids:
            session = db.execute(
                "INSERT INTO django_aws_api_gateway_websockets_websocketsession (connection_id, api_id, stage, "
                "domain_name, user_name, auth_hash, connected, connected_at, last_seen, message_count, user_agent, "
                "disconnect_reason, data, data_version) VALUES (?, '', '', '127.0.0.1', ?, '', 1, ?, ?, 0, '', '', "
                "'{}', 0)", (cid, name, now, now)).lastrowid
            db.execute("INSERT INTO django_aws_api_gateway_websockets_websocketgroupmembership (session_id, \"group\", "
                       "joined_at) VALUES (?, ?, ?)", (session, f"room:{room}", now))
    with connect(feature_gateway.ws_url, max_size=2**20) as ws:
        frames, after = [], None
        while True:
            ws.send(json.dumps({"action": "members", "room": room, **({"after": after} if after else {})}))
            frames.append(ws.recv(timeout=10))
            page = json.loads(frames[-1])
            assert page["route"] == "members" and len(frames) < 20, page.get("error")
            after = page["next"]
            if after is None:
                break
        listed = [m["connectionId"] for frame in frames for m in json.loads(frame)["members"]]
        assert listed == sorted(ids) and len(frames) >= 3
        assert all(len(frame.encode()) < 128 * 1024 for frame in frames)
        assert ask(ws, {"action": "members", "room": room, "after": "../x"})["error"] == \
            "'after' must be the 'next' cursor of a member page."
