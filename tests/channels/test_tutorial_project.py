"""The Channels tutorial's chat app (examples/channels_tutorial), its consumers untouched, on both paths a user
runs: the local gateway with two real WebSocket clients, and lambda_handler.handler replaying recorded API
Gateway events (@connections posts land on the fault server). Both forms of ChatConsumer, sync and async."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "channels_tutorial"
EVENTS = Path(__file__).resolve().parent / "events" / "tutorial_chat_session.json"
FORMS = ["async", "sync"]


def project_env(db_path: Path, form: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_", "WEBSOCKETS_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "mysite.settings", "DJANGO_DB_PATH": str(db_path), "DJANGO_DEBUG": "0",
                "CHAT_CONSUMER": form, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": "eu-west-1", "PYTHONUNBUFFERED": "1", **extra})
    env.pop("AWS_SESSION_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's database, migrated once (`manage.py migrate`, as the tutorial says); tests use copies."""
    db_path = tmp_path_factory.mktemp("tutorial") / "template.sqlite3"
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=PROJECT, check=True,
                   env=project_env(db_path, "async"), capture_output=True, text=True, timeout=120)
    return db_path


def fresh_db(migrated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(migrated, tmp_path / "db.sqlite3"))


@pytest.fixture(params=FORMS)
def gateway(request: pytest.FixtureRequest, migrated: Path, tmp_path: Path) -> Iterator[tuple[int, str]]:
    log = (tmp_path / "gateway.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runwsgateway", "127.0.0.1:0"], cwd=PROJECT, stdout=subprocess.PIPE,
        stderr=log, text=True, env=project_env(fresh_db(migrated, tmp_path), request.param))
    try:
        assert process.stdout is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            port = int(match.group(1)) if match else None
        assert port, (tmp_path / "gateway.log").read_text()
        yield port, request.param
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    logged = (tmp_path / "gateway.log").read_text()
    assert "Traceback" not in logged and "Error" not in logged, logged


def test_two_websocket_clients_chat_on_the_local_gateway(gateway: tuple[int, str]) -> None:
    import websockets

    port, _form = gateway
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/chat/lobby/", timeout=10).read().decode()
    assert "'/?path='" in page and "json_script" not in page and '"lobby"' in page  # the tutorial's room page
    url = f"ws://127.0.0.1:{port}/?path=/ws/chat/lobby/"
    origin = f"http://127.0.0.1:{port}"  # AllowedHostsOriginValidator: as under Daphne, a browser's Origin

    async def chat() -> None:
        async with websockets.connect(url, origin=origin) as alice, websockets.connect(url, origin=origin) as bob, \
                websockets.connect(url.replace("lobby", "kitchen"), origin=origin) as carol:
            await alice.send(json.dumps({"message": "hello"}))
            assert json.loads(await asyncio.wait_for(alice.recv(), 10)) == {"message": "hello"}
            assert json.loads(await asyncio.wait_for(bob.recv(), 10)) == {"message": "hello"}
            await bob.send(json.dumps({"message": "hi alice"}))
            assert json.loads(await asyncio.wait_for(alice.recv(), 10)) == {"message": "hi alice"}
            assert json.loads(await asyncio.wait_for(bob.recv(), 10)) == {"message": "hi alice"}
            await carol.send(json.dumps({"message": "other room"}))
            assert json.loads(await asyncio.wait_for(carol.recv(), 10)) == {"message": "other room"}
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(alice.recv(), 0.3)  # rooms are groups: nothing crosses over
        # Six members, all posting at once: every message reaches every member, none lost, none twice.
        crowd = [await websockets.connect(url.replace("lobby", "hall"), origin=origin) for _ in range(6)]
        await asyncio.gather(*(ws.send(json.dumps({"message": f"from {i}"})) for i, ws in enumerate(crowd)))
        for ws in crowd:
            got = [json.loads(await asyncio.wait_for(ws.recv(), 10))["message"] for _ in range(6)]
            assert sorted(got) == sorted(f"from {i}" for i in range(6))
        await asyncio.gather(*(ws.close() for ws in crowd))
        # As Channels' AllowedHostsOriginValidator: no Origin, no socket. A path after the stage is not the API.
        for bad_url, headers in ((url, {}), (f"ws://127.0.0.1:{port}/local/ws/chat/lobby/", {"origin": origin})):
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(bad_url, **headers):
                    pass

    asyncio.run(chat())


@pytest.mark.parametrize("form", FORMS)
def test_lambda_handler_replays_recorded_events(form: str, migrated: Path, tmp_path: Path, fault_server: Any) -> None:
    env = project_env(fresh_db(migrated, tmp_path), form, WEBSOCKETS_ENDPOINT_URL=fault_server.url,
                      DJANGO_ALLOWED_HOSTS="chat.example.com")
    result = subprocess.run([sys.executable, "manage.py", "replay_events", str(EVENTS), "--json",
                             "--handler", "lambda_handler.handler"],
                            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    responses = [json.loads(line)["response"] for line in result.stdout.splitlines()]
    assert [r["statusCode"] for r in responses] == [200] * 7, result.stderr
    alice, bob = "Qm9iQ2hhdEE=", "Qm9iQ2hhdEI="
    # Each sender's copy is its $default reply; the other member's copy went through @connections.
    assert [json.loads(responses[i]["body"]) for i in (2, 3, 5)] == [
        {"message": "hello from alice"}, {"message": "hi alice"}, {"message": "anyone?"}]
    assert [json.loads(f) for f in fault_server.received[bob]] == [{"message": "hello from alice"}]
    assert [json.loads(f) for f in fault_server.received[alice]] == [{"message": "hi alice"}]  # then she left
