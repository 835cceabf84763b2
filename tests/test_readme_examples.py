"""The README's usage guide, run as written: its view ("A view with routes"), its settings and URL lines
("URLs") and its test ("Testing your own views") go into a project made by ``startproject``, and pytest runs
that test there, as a user would run it. The presence example's view ("Presence") runs there too, driven by a
test of ours: a message without a room or with a bad cursor is a 400 JSON error, never a 500."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_block(readme: str, heading: str, index: int = 0) -> str:
    """The first (or ``index``-th) ```python block under ``heading``."""
    section = readme.split(f"\n{heading}\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) > index, heading
    return str(blocks[index])


# The README's presence view, driven as a user's test would: a join, a message without a room, pages of members.
# A local @connections stand-in takes the announcements (real HTTP posts, signed as on AWS).
PRESENCE_TEST = """
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.wsgi import get_wsgi_application
from django.test import override_settings

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from myproject.presence_views import ChatView

posts = []


class Connections(BaseHTTPRequestHandler):
    def do_POST(self):
        posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_presence_example(db, settings, django_user_model):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Connections)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WEBSOCKETS = {**settings.WEBSOCKETS, "PRESENCE_GROUPS": ["room:*"],
                           "ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}"}
    handler = make_websocket_handler(get_wsgi_application(), view=ChatView, url_namespace="presence")
    clients = [WebSocketTestClient(handler, routes=["join", "members"]) for _ in range(3)]
    for number, ws in enumerate(clients):
        ws.force_login(django_user_model.objects.create_user(f"user{number}"))  # a browser's Cookie and Origin
        assert ws.connect(origin="http://testserver").status_code == 200
        assert ws.send({"action": "join", "room": "lobby"}).status_code == 200
    for body in ({"action": "join"}, {"action": "join", "room": 7}, {"action": "members", "room": "../x"},
                 {"action": "members", "room": "lobby", "after": "no cursor!"}):
        reply = clients[0].send(body)
        assert reply.status_code == 400 and set(reply.json()) == {"error"}, (body, reply.body)
    first = clients[0].send({"action": "members", "room": "lobby"}).json()
    assert len(first["members"]) == 3 and first["next"] is None
    ids = sorted(ws.connection_id for ws in clients)
    assert [m["connectionId"] for m in first["members"]] == ids
    assert sorted(m["name"] for m in first["members"]) == ["user0", "user1", "user2"]
    assert [p["event"] for p in posts].count("joined") == 1 + 2 + 3
    server.shutdown()
"""


def line_starting(block: str, prefix: str) -> str:
    return next(line for line in block.splitlines() if line.startswith(prefix))


def test_the_usage_guide_examples_run_verbatim(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    view = python_block(readme, "### A view with routes")
    urls_block = python_block(readme, "### URLs")
    test = python_block(readme, "### Testing your own views")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "DJANGO_", "WEBSOCKETS_", "AWS_LAMBDA", "HYPOTHESIS"))}

    subprocess.run([sys.executable, "-m", "django", "startproject", "myproject", str(tmp_path)], check=True, env=env)
    settings = tmp_path / "myproject" / "settings.py"
    settings.write_text(settings.read_text() + '\nINSTALLED_APPS += ["django_aws_api_gateway_websockets"]\n'
                        + line_starting(urls_block, "WEBSOCKETS = ") + "\n")
    urls = tmp_path / "myproject" / "urls.py"
    text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
    include = line_starting(urls_block, 'path("ws/", include("django_aws_api_gateway_websockets.urls"))')
    urls.write_text(text.replace("urlpatterns = [", "urlpatterns = [\n    " + include, 1))
    (tmp_path / "myproject" / "websocket_views.py").write_text(view)
    (tmp_path / "test_readme.py").write_text(test)
    # The presence example ("Presence"): its view as written, under its own URLs, and a test that drives it.
    (tmp_path / "myproject" / "presence_views.py").write_text(python_block(readme, "### Presence", 1))
    urls.write_text(urls.read_text() + "\nfrom django_aws_api_gateway_websockets.urls import websocket_urls\n"
                    "from myproject.presence_views import ChatView as PresenceView\n\n"
                    'urlpatterns.append(path("presence/", include(websocket_urls(PresenceView), namespace="presence")))\n')
    (tmp_path / "test_presence_example.py").write_text(PRESENCE_TEST)

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "--ds=myproject.settings", "test_readme.py", "test_presence_example.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
