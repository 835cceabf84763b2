"""The demo's pages with DEBUG off (as on Lambda): the login page, the favicon, the chat page's markup."""

from __future__ import annotations

import html
import re
import subprocess

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("app.urls")


@pytest.mark.parametrize("path", ["/favicon.svg", "/favicon.ico"])
def test_favicon_is_served_without_static_files(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg") and "max-age" in response["Cache-Control"]
    assert client.post(path).status_code == 405


@pytest.mark.django_db
def test_login_page_names_the_demo_users(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    page = client.get("/login/").content.decode()
    assert '<link rel="icon" type="image/svg+xml" href="/favicon.svg">' in page
    assert re.search(r"<li>demo</li>\s*<li>alice</li>", page) and "<code>demo-password</code>" in page
    monkeypatch.setenv("DEMO_PASSWORD", "a-custom-secret")  # a password set by hand is never shown
    page = client.get("/login/").content.decode()
    assert "a-custom-secret" not in page and "demo-password" not in page and "<li>alice</li>" in page


@pytest.mark.django_db
def test_chat_page_room_pattern_is_valid_with_the_v_flag(client: Client) -> None:
    page = client.get("/").content.decode()
    pattern = re.search(r'id="room"[^>]* pattern="([^"]+)"', page)
    assert pattern is not None
    # Browsers compile a pattern attribute as ^(?:pattern)$ with the "v" flag, where "-" must be escaped inside a
    # class: ask V8 (Node), the engine of Chromium, to compile it so.
    script = "new RegExp('^(?:' + process.argv[1] + ')$', 'v').test(process.argv[2]) || process.exit(3)"
    assert subprocess.run(["node", "-e", script, html.unescape(pattern.group(1)), "lobby-1_b"]).returncode == 0
    assert subprocess.run(["node", "-e", script, html.unescape(pattern.group(1)), "no spaces"]).returncode == 3
    assert '<link rel="icon"' in page
