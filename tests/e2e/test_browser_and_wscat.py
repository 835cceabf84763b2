"""The demo as people use it: two headless Chromium sessions chatting, and wscat from the command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cdp import Browser
from tests.e2e.gateway_process import ROOT, Gateway

pytestmark = pytest.mark.e2e

WSCAT = ROOT / "node_modules" / ".bin" / "wscat"


def wscat(url: str, message: str, wait: int = 2) -> str:
    assert WSCAT.exists(), "wscat is missing: scripts/setup --node installs it"
    # wscat exits at once when its stdin is already at end of file: keep stdin open with sleep.
    result = subprocess.run(f"sleep {wait + 3} | {WSCAT} -c {url} -x '{message}' -w {wait}", shell=True,
                            capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def test_wscat_talks_to_a_route(gateway: Gateway) -> None:
    output = wscat(gateway.ws_url, json.dumps({"action": "whoami"}))
    reply = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert reply["route"] == "whoami" and reply["authenticated"] is False


def test_wscat_echo(gateway: Gateway) -> None:
    output = wscat(gateway.ws_url, json.dumps({"action": "echo", "data": "from wscat"}))
    assert '"data": "from wscat"' in output


def test_two_browsers_in_one_room_exchange_a_message(gateway: Gateway, artifacts: Path) -> None:
    alice, guest = Browser(), Browser()
    try:
        alice.goto(f"{gateway.http_url}/login/")
        alice.evaluate("document.querySelector('#id_username').value = 'alice';"
                       "document.querySelector('#id_password').value = 'demo-password';"
                       "document.querySelector('#login').click(); true")
        alice.wait_for("location.pathname === '/' && document.readyState === 'complete'")
        guest.goto(f"{gateway.http_url}/")
        for browser in (alice, guest):
            browser.wait_for("document.querySelector('#status').textContent === 'online'")
            browser.evaluate("document.querySelector('#room').value = 'browsers'; document.querySelector('#join').click(); true")
        assert alice.wait_for("document.querySelector('#me').textContent") == "alice"
        guest.wait_for("document.querySelectorAll('#members li').length === 2")
        alice.wait_for("document.querySelectorAll('#members li').length === 2")
        alice.evaluate("document.querySelector('#text').value = 'hello from alice';"
                       "document.querySelector('#send').click(); true")
        line = guest.wait_for("[...document.querySelectorAll('#log div')].map(d => d.textContent)"
                              ".find(t => t.includes('hello from alice'))")
        assert line == "alice: hello from alice"
        guest.screenshot(artifacts / "chat-guest.png")
        alice.screenshot(artifacts / "chat-alice.png")
        assert (artifacts / "chat-guest.png").stat().st_size > 1000
    finally:
        alice.close()
        guest.close()
