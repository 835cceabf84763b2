"""The demo as people use it: two headless Chromium sessions chatting, and wscat from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.cdp import Browser
from tests.e2e.gateway_process import ROOT, Gateway

pytestmark = pytest.mark.e2e

WSCAT = ROOT / "node_modules" / ".bin" / "wscat"


def wscat(url: str, *messages: str, wait: int = 2) -> list[str]:
    """Run ``wscat -c URL -x MESSAGE... -w WAIT`` as a user would; the lines it printed."""
    assert WSCAT.exists(), "wscat is missing: scripts/setup --node installs it"
    args = [str(WSCAT), "-c", url, *(arg for m in messages for arg in ("-x", m)), "-w", str(wait)]
    # wscat exits at once when its stdin is already at end of file: keep stdin open until it is done.
    process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        process.wait(timeout=60)
    finally:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        output = process.stdout.read()
    assert process.returncode == 0, output
    return output.splitlines()


def test_wscat_talks_to_routes(gateway: Gateway) -> None:
    lines = wscat(gateway.ws_url, json.dumps({"action": "whoami"}), json.dumps({"action": "echo", "data": "from wscat"}))
    replies = [json.loads(line[line.index("{"):]) for line in lines if "{" in line]
    whoami = next(r for r in replies if r.get("route") == "whoami")
    assert whoami["authenticated"] is False and whoami["name"].startswith("guest-")
    assert {"route": "echo", "data": "from wscat"} in replies


SCREENSHOT = ROOT / "docs" / "demo-chat.png"
LOG_LINES = "[...document.querySelectorAll('#log div')].map(d => d.textContent)"
MEMBERS = "[...document.querySelectorAll('#members li')].map(li => li.textContent)"
ERROR_LINES = "[...document.querySelectorAll('#log .error')].map(d => d.textContent)"


def shown_as_error(frame: str) -> str | None:
    """How the chat page shows a reply it received, when the reply is an error (else None)."""
    try:
        reply = json.loads(frame)
    except ValueError:
        return f"⚠ The server sent a reply that is not JSON: {frame[:200]}"
    return f"⚠ {reply['error']}" if isinstance(reply, dict) and "error" in reply else None


def log_in(browser: Browser, base_url: str, name: str) -> None:
    browser.goto(f"{base_url}/login/")
    browser.evaluate(f"document.querySelector('#id_username').value = {json.dumps(name)};"
                     "document.querySelector('#id_password').value = 'demo-password';"
                     "document.querySelector('#login').click(); true")
    browser.wait_for("location.pathname === '/' && document.readyState === 'complete'")


def click(browser: Browser, field: str, value: str, button: str) -> None:
    browser.evaluate(f"document.querySelector('#{field}').value = {json.dumps(value)};"
                     f"document.querySelector('#{button}').click(); true")


def test_login_page_looks_like_the_chat_and_names_the_demo_users(gateway: Gateway) -> None:
    browser = Browser()
    try:
        browser.goto(f"{gateway.http_url}/login/")
        assert "system-ui" in browser.evaluate("getComputedStyle(document.body).fontFamily")
        assert browser.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(35, 47, 62)"
        hint = browser.evaluate("document.querySelector('#demo-users').textContent")
        assert "demo-password" in hint and "alice" in hint and "demo" in hint
        icon = browser.evaluate("fetch(document.querySelector('link[rel=icon]').href)"
                                ".then(r => r.status + ' ' + r.headers.get('content-type'))")
        assert icon == "200 image/svg+xml"
        browser.evaluate("document.querySelector('#id_password').value = 'not-the-password'; true")
        click(browser, "id_username", "alice", "login")  # a wrong password: an error in the page, not a blank form
        assert "correct username and password" in browser.wait_for("document.querySelector('[role=alert]')?.textContent")
        browser.evaluate("1")  # collect what the page logged so far
        assert browser.console_errors == []
    finally:
        browser.close()


def test_two_browsers_in_one_room_exchange_a_message(gateway: Gateway, artifacts: Path) -> None:
    alice, demo = Browser(), Browser()
    try:
        log_in(alice, gateway.http_url, "alice")
        log_in(demo, gateway.http_url, "demo")
        for browser in (alice, demo):
            browser.wait_for("document.querySelector('#status').textContent === 'online'")
        assert alice.wait_for("document.querySelector('#me').textContent === 'alice' && 'ok'") == "ok"
        # Refused actions are shown in the page: a bad room name (the pattern, checked by the page) and a post
        # before joining (refused by the server, its error reply shown).
        click(demo, "room", "no spaces!", "join")
        assert demo.wait_for(ERROR_LINES) == ["⚠ A room name is 1-64 letters, digits, '_' or '-'."]
        assert demo.evaluate("document.querySelector('#room').getAttribute('aria-invalid')") == "true"
        demo.evaluate("document.querySelector('#room').value = 'browsers'; true")
        click(demo, "text", "too early", "send")
        # The server's refusal is shown (its text is checked against the reply itself below).
        assert demo.wait_for(f"{ERROR_LINES}.length === 2 && {ERROR_LINES}[1]")
        click(alice, "room", "browsers", "join")
        alice.wait_for("document.querySelectorAll('#members li').length === 1")
        click(demo, "room", "browsers", "join")
        for browser in (alice, demo):
            browser.wait_for("document.querySelectorAll('#members li').length === 2")
        # Presence: the room told alice who joined (and the member list came from it).
        assert alice.wait_for(f"{LOG_LINES}.find(t => t === 'demo joined browsers')")
        assert alice.evaluate(MEMBERS) == ["alice", "demo"]
        click(alice, "text", "hello from alice", "send")
        assert demo.wait_for(f"{LOG_LINES}.find(t => t.includes('hello from alice'))") == "alice: hello from alice"
        click(demo, "text", "hi alice! the socket is API Gateway's, the code is a Django view", "send")
        assert alice.wait_for(f"{LOG_LINES}.find(t => t.startsWith('demo: hi alice'))")
        alice.screenshot(artifacts / "chat-alice.png")
        demo.screenshot(artifacts / "chat-demo.png")
        assert (artifacts / "chat-alice.png").stat().st_size > 1000
        if os.environ.get("UPDATE_SCREENSHOT") == "1":  # regenerate the README's picture on request only
            SCREENSHOT.parent.mkdir(exist_ok=True)
            alice.screenshot(SCREENSHOT)
        for browser in (alice, demo):
            browser.evaluate("1")  # collect what the page logged and received so far
            # Every error reply that reached the page is shown in it, in order: a JSON reply's "error" text, or
            # (a server that is not this library's, say) a reply that is not JSON at all.
            expected = [line for line in map(shown_as_error, browser.frames_received) if line is not None]
            shown = browser.evaluate(ERROR_LINES)
            assert [line for line in shown if "room name is" not in line] == expected
        assert demo.console_errors == []
        demo.close()  # the browser goes away without a close frame: its $disconnect tells the room
        assert alice.wait_for(f"{LOG_LINES}.find(t => t === 'demo left browsers')")
        assert alice.evaluate(MEMBERS) == ["alice"]
        assert alice.console_errors == []
    finally:
        alice.close()
        demo.close()


CLIENT_SETUP = """(async () => {
  const module = await import("/static/django_aws_api_gateway_websockets/client.js");
  const realFetch = window.fetch;
  window.t = {module, events: [], notes: [], tokens: 0, idleEvents: []};
  window.fetch = (...args) => { if (String(args[0]).includes("/ws/token")) t.tokens++; return realFetch(...args); };
  // Cross-domain, as a page on the site talking to API Gateway's domain: the session cookie of 127.0.0.1 does
  // not reach localhost, so only a connect token can log the socket in.
  const c = new module.WebSocketClient("ws://localhost:%(port)d/", {tokenUrl: "/ws/token",
      keepAlive: {route: "ping", interval: 500}, backoff: {initial: 200, max: 1000}, requestTimeout: 5000});
  c.addEventListener("statechange", (e) => t.events.push(e.detail.state));
  c.addEventListener("close", (e) => {
    t.events.push("close:" + e.detail.code);
    // Sent while the socket is down: queued, and sent once the client has reconnected.
    if (!t.queued) t.queued = c.request("echo", {data: "queued while reconnecting"});
  });
  c.on("note", (m) => t.notes.push(m));
  // A second client without keep-alive: the gateway's idle timeout (2 s here, 10 minutes on AWS) closes it.
  const idle = new module.WebSocketClient("ws://127.0.0.1:%(port)d/", {backoff: {initial: 200, max: 1000}});
  idle.addEventListener("close", (e) => t.idleEvents.push("close:" + e.detail.code));
  idle.addEventListener("open", () => t.idleEvents.push("open"));
  window.c = c; window.idle = idle;
  await Promise.all([c.connect(), idle.connect()]);
  return await c.request("whoami");
})()"""

RELAY_SETUP = """(() => {
  // A second client, never connected (its requests wait in its queue), makes the requests another page would.
  const other = new t.module.WebSocketClient("ws://127.0.0.1:9/");
  for (let n = 0; n < 20; n++) other.request("echo", {}, {timeout: 60000}).catch(() => null);
  const theirs = [...other._pending.keys()];
  other.close();
  const outcome = c.request("ping", {}, {timeout: 4000}).then(() => "taken as the reply", (e) => e.name);
  const mine = [...c._pending.keys()].pop();
  t.relay = {pending: () => c._pending.has(mine), outcome};
  return theirs;
})()"""

REFUSED = """(async () => {
  const outcome = (promise) => promise.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  const thrown = (f) => { try { f(); return "sent"; } catch (e) { return `${e.name} ${e.limit}: ${e.message}`; } };
  return {
    timeout: await outcome(c.request("ping", {}, {timeout: 300})),   // a one-way route never replies
    frame: thrown(() => c.send("echo", {data: "x".repeat(40 * 1024)})),
    message: thrown(() => c.send("echo", {data: "x".repeat(140 * 1024)})),
    request: await outcome(c.request("echo", {data: "é".repeat(20 * 1024)})),  // 40 KB of UTF-8, 20 K characters
    error: await outcome(c.request("post", {room: "nowhere", text: "hi"})),
  };
})()"""


def test_browser_client_against_the_local_gateway(feature_gateway: Gateway) -> None:
    """The client module in headless Chromium: requests and replies, pushed messages, a reply timeout,
    oversized messages refused before sending, keep-alive against the idle timeout, and a server-side close
    followed by a reconnect with a fresh connect token and the queued request sent; no console error."""
    import boto3

    api = boto3.client("apigatewaymanagementapi", endpoint_url=feature_gateway.http_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    browser = Browser()
    try:
        log_in(browser, feature_gateway.http_url, "alice")
        browser.goto(f"{feature_gateway.http_url}/login/")  # a quiet page of the site: no socket of its own
        who = browser.evaluate(CLIENT_SETUP % {"port": feature_gateway.port})
        assert who["authenticated"] is True and who["name"] == "alice"  # through the token, not a cookie
        first_id = who["connectionId"]
        echo = browser.evaluate("c.request('echo', {data: [1, 'two']})")
        assert echo["data"] == [1, "two"] and echo["requestId"].startswith("r")

        api.post_to_connection(ConnectionId=first_id, Data=json.dumps({"type": "note", "n": 1}).encode())
        assert browser.wait_for("t.notes.length === 1 && t.notes[0]") == {"type": "note", "n": 1}

        # Another client's request ids, in pushed messages (an app relaying each client's body to its room), are
        # not replies to this client's requests: every client's ids are its own.
        theirs = browser.evaluate(RELAY_SETUP)
        for request_id in theirs:
            api.post_to_connection(ConnectionId=first_id,
                                   Data=json.dumps({"type": "relay", "requestId": request_id}).encode())
        api.post_to_connection(ConnectionId=first_id, Data=json.dumps({"type": "note", "n": 2}).encode())
        assert browser.wait_for("t.notes.length === 2 && t.relay.pending()") is True
        assert browser.evaluate("t.relay.outcome") == "RequestTimeoutError"

        refused = browser.evaluate(REFUSED)
        assert refused["timeout"] == 'RequestTimeoutError: No reply to "ping" within 300 ms.'
        assert refused["frame"].startswith("MessageTooLargeError 32768: Frame too large: 40987 bytes")
        assert refused["message"].startswith("MessageTooLargeError 131072: Message too large: 143387 bytes")
        assert refused["request"].startswith("MessageTooLargeError: Frame too large")
        assert refused["error"] == "ReplyError: Join the room before posting to it."

        # Keep-alive: 2.6 seconds with nothing to say, beyond the 2 s idle timeout: still the same socket.
        time.sleep(2.6)
        assert browser.evaluate("c.request('whoami')")["connectionId"] == first_id
        assert browser.evaluate("t.events") == ["connecting", "open"]
        # Without keep-alive the gateway closed the idle socket (1001) and the client reconnected.
        assert browser.wait_for("t.idleEvents.length >= 3 && t.idleEvents.slice(0, 3).join()") == "open,close:1001,open"

        # A server-side close through @connections: the client reconnects with a fresh token (a used one is
        # refused), and the request made while it was down goes out on the new socket.
        api.delete_connection(ConnectionId=first_id)
        browser.wait_for("t.queued !== undefined")  # the close has reached the page
        queued = browser.evaluate("t.queued.then(async (reply) => ({reply, who: await c.request('whoami')}))")
        assert queued["reply"]["data"] == "queued while reconnecting"
        assert queued["who"]["connectionId"] != first_id and queued["who"]["authenticated"] is True
        assert browser.evaluate("t.tokens") == 2
        assert browser.evaluate("t.events") == ["connecting", "open", "close:1000", "reconnecting", "open"]
        browser.evaluate("c.close(); idle.close(); c.state")
        assert browser.evaluate("c.state") == "closed"
        assert browser.evaluate("c.request('echo').catch((e) => e.name)") == "ConnectionError"
        browser.evaluate("1")  # collect what the page logged so far
        assert browser.console_errors == []
    finally:
        browser.close()
