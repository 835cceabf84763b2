"""The demo as people use it: two headless Chromium sessions chatting, and wscat from the command line."""

from __future__ import annotations

import json
import os
import subprocess
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
        for browser in (alice, demo):
            click(browser, "room", "browsers", "join")
        for browser in (alice, demo):
            browser.wait_for("document.querySelectorAll('#members li').length === 2")
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
        assert alice.console_errors == [] and demo.console_errors == []
    finally:
        alice.close()
        demo.close()
