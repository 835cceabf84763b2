"""Property tests through the local gateway over real sockets: any frame a client can send gets a JSON reply
that is not a 5xx, and the socket stays open (as API Gateway keeps it); any plain HTTP request gets a non-5xx
answer. The gateway runs with DEBUG on, as ``scripts/run`` does; its log must show no error afterwards.

Budgets: see tests/fuzzing.py (``HYPOTHESIS_PROFILE=long`` for 100,000 examples per property).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import string
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.e2e.gateway_process import Gateway
from tests.fuzzing import bodies, cookies, fuzz, maybe, origins, paths, protocols, tokens

pytestmark = pytest.mark.e2e

FRAME_LIMIT = 30 * 1024  # under API Gateway's 32 KB frame limit: bigger frames close the socket (tested apart)


def log_errors(gateway: Gateway, offset: int) -> list[str]:
    text = gateway.log_path.read_text(errors="replace")[offset:]
    return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line][:5]


@pytest.fixture  # one socket for all the examples of a property (pytest makes it once per test function)
def socket(gateway: Gateway) -> Iterator[tuple[ClientConnection, int]]:
    offset = len(gateway.log_path.read_text(errors="replace"))
    with connect(gateway.ws_url, max_size=None) as ws:
        yield ws, offset
    assert log_errors(gateway, offset) == []


def reply_to(ws: ClientConnection) -> dict[str, Any]:
    """The route's reply, skipping pushes (a join or post broadcasts to the room, this socket included)."""
    while True:
        message = json.loads(ws.recv(timeout=15))
        if "type" not in message:
            return message


@fuzz(120)
@given(body=bodies.filter(lambda b: len(b) <= FRAME_LIMIT))
def test_any_frame_gets_a_json_reply_and_the_socket_stays_open(socket: tuple[ClientConnection, int], body: Any) -> None:
    ws, _ = socket
    # Text frames only: API Gateway closes the socket on a binary frame (1003; tested in
    # test_gateway_lifecycle.py and test_features_gateway.py). Bytes and lone surrogates become the text a
    # client could send instead.
    if isinstance(body, bytes):
        frame = body.decode("utf-8", "replace")
    else:
        frame = body.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    frame = frame.encode()[:FRAME_LIMIT].decode("utf-8", "ignore")  # replacements may have grown it
    ws.send(frame)
    reply = reply_to(ws)
    assert reply != {"error": "Internal server error."}
    assert "error" in reply or "route" in reply, reply
    ws.ping().wait(10)  # still open


token_chars = string.ascii_letters + string.digits + "-_"
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)


@fuzz(120)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"]),
       path=st.one_of(st.sampled_from(["/", "/ws/connect", "/ws/messages", "/ws/disconnect", "/ws/token", "/local",
                                       "/static/", "/admin/", "/login/", "/@connections/x%3D", "/local/@connections/"]),
                      st.text(st.sampled_from(string.ascii_letters + "/%.:@?=&#+~" + "0123456789abcdef"), max_size=60)
                      .map(lambda p: "/" + p)),
       headers=st.dictionaries(st.text(st.sampled_from(token_chars), min_size=1, max_size=20), header_values, max_size=6),
       body=st.binary(max_size=300))
def test_any_plain_http_request_gets_no_5xx(gateway: Gateway, method: str, path: str, headers: dict[str, str],
                                            body: bytes) -> None:
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=15)
    try:
        conn.putrequest(method, path.replace(" ", "%20").replace("#", "%23"), skip_accept_encoding=True)
        for key, value in headers.items():
            if key.lower() not in ("host", "content-length", "transfer-encoding", "upgrade", "connection", "expect"):
                conn.putheader(key, value.encode("latin-1"))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status == 500 and b"APPEND_SLASH" in body and method not in ("GET", "HEAD"):
        # Found by the long profile: Django's own developer diagnostic (DEBUG only, CommonMiddleware) for a
        # POST to a page URL without its trailing slash ("/logout"); never on a WebSocket path, and with
        # DEBUG off Django redirects instead. Not the gateway's answer.
        return
    assert response.status < 500, (method, path, response.status)


@pytest.fixture  # the gateway log from the start of a property on (once per test function, not per example)
def clean_log(gateway: Gateway) -> Iterator[None]:
    offset = len(gateway.log_path.read_text(errors="replace"))
    yield
    assert log_errors(gateway, offset) == []


def _latin1(value: str | None) -> str | None:
    """What a real socket can carry in a header: latin-1, no control characters."""
    return None if value is None else "".join(c for c in value if 0x20 <= ord(c) <= 0xFF and c != "\x7f")


@fuzz(60)
@given(origin=maybe(origins), cookie=maybe(cookies), protocol=maybe(protocols), token=maybe(tokens),
       path=maybe(paths))
def test_any_handshake_gets_101_or_a_json_4xx(gateway: Gateway, clean_log: None, origin: str | None,
                                              cookie: str | None, protocol: str | None, token: str | None,
                                              path: str | None) -> None:
    query = urllib.parse.urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in (("token", token), ("path", path))
                                    if v is not None})
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    for name, value in (("Origin", origin), ("Cookie", cookie), ("Sec-WebSocket-Protocol", protocol)):
        if _latin1(value) is not None:
            headers[name] = _latin1(value)  # type: ignore[assignment]
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=15)
    try:
        conn.putrequest("GET", "/?" + query if query else "/", skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value.encode("latin-1"))
        conn.endheaders()
        response = conn.getresponse()
        body = response.read() if response.status != 101 else b""
    finally:
        conn.close()  # a 101: the client goes away without a close frame (the gateway sends $disconnect 1006)
    assert response.status in (101, 400, 401, 403), (response.status, body[:200], headers)
    if response.status != 101:
        assert isinstance(json.loads(body)["error"], str)
