"""Event replay: the recorded AWS event fixtures, through lambda_handler, on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import CommandError

from django_aws_api_gateway_websockets.management.commands.replay_events import order_connections
from django_aws_api_gateway_websockets.models import WebSocketSession

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"
CONNECTION_ID = "L0SM9cOFvHcCIhw="


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def handler() -> Any:
    import lambda_handler

    return lambda_handler.handler


@pytest.fixture(autouse=True)
def _recorded_page_host(settings: Any) -> None:
    """connect_cookie.json was recorded from a page on localhost:8000, a host the demo's settings allow (the
    suite's allow only 'testserver'); an execute-api page would be refused (tests/test_hosts_and_origins.py)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]


def run(handler: Any, name: str) -> dict[str, Any]:
    return handler(load(name), None)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def test_every_fixture_is_a_real_event_shape() -> None:
    for file in EVENTS.glob("*.json"):
        data = json.loads(file.read_text())
        for event in data if isinstance(data, list) else [data]:
            context = event["requestContext"]
            assert context["eventType"] in ("CONNECT", "DISCONNECT", "MESSAGE"), file
            assert {"connectionId", "apiId", "stage", "domainName", "requestId", "connectedAt", "requestTimeEpoch",
                    "identity", "routeKey"} <= set(context), file
            if context["eventType"] == "MESSAGE":
                assert "body" in event and "headers" not in event and "messageId" in context, file
            if context["eventType"] == "CONNECT":
                assert "headers" in event and "multiValueHeaders" in event and "body" not in event, file
            if context["eventType"] == "DISCONNECT":
                assert {"disconnectStatusCode", "disconnectReason"} <= set(context), file


def test_connect_messages_disconnect_sequence(handler: Any) -> None:
    assert run(handler, "connect.json")["statusCode"] == 200
    assert body(run(handler, "message_echo.json")) == {"route": "echo", "data": {"n": 1}}
    whoami = body(run(handler, "message_whoami.json"))
    assert whoami["authenticated"] is False and whoami["connectionId"] == CONNECTION_ID
    assert body(run(handler, "message_base64.json")) == {"route": "echo", "data": "sent as base64"}
    no_route = run(handler, "message_no_route.json")
    assert no_route["statusCode"] == 400 and "Missing route selection key" in no_route["body"]
    unknown = run(handler, "message_unknown_route.json")
    assert unknown["statusCode"] == 400 and body(unknown)["error"] == "Unknown route."
    assert body(run(handler, "message_invalid_json.json"))["error"] == "Message body is not valid JSON."
    assert body(run(handler, "message_default_text.json"))["error"] == "Message body is not valid JSON."
    assert run(handler, "disconnect_1001.json")["statusCode"] == 200
    session = WebSocketSession.objects.get()
    assert (session.connected, session.disconnect_status_code, session.message_count) == (False, 1001, 5)  # the 2 non-JSON bodies are refused before counting
    assert run(handler, "message_echo.json")["statusCode"] == 403  # after disconnect


def test_connect_with_query_string(handler: Any) -> None:
    assert run(handler, "connect_query.json")["statusCode"] == 200


def test_connect_with_session_cookie_logs_the_user_in(handler: Any) -> None:
    user = get_user_model().objects.create_user("replayer", password="pw-0123456789")
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash()})
    session._session_key = "replayfixturesession0000000001"  # the key the recorded Cookie header carries
    session.save(must_create=True)
    assert run(handler, "connect_cookie.json")["statusCode"] == 200
    assert WebSocketSession.objects.get().user == user
    assert body(run(handler, "message_whoami.json"))["name"] == "replayer"


@pytest.mark.parametrize(("name", "code"), [("disconnect_1000.json", 1000), ("disconnect_1001.json", 1001),
                                            ("disconnect_1005.json", 1005), ("disconnect_1006.json", 1006)])
def test_disconnect_codes_are_stored(handler: Any, name: str, code: int) -> None:
    run(handler, "connect.json")
    assert run(handler, name)["statusCode"] == 200
    assert WebSocketSession.objects.get().disconnect_status_code == code


def test_disconnect_before_connect_is_harmless(handler: Any) -> None:
    assert run(handler, "disconnect_1006.json")["statusCode"] == 200
    assert run(handler, "connect.json")["statusCode"] == 200  # arrives late: must not reopen the socket
    assert not WebSocketSession.objects.filter(connected=True).exists()
    assert run(handler, "message_echo.json")["statusCode"] == 403


def replay(*args: str) -> list[str]:
    out = StringIO()
    call_command("replay_events", *args, stdout=out)
    return out.getvalue().splitlines()


def statuses(lines: list[str]) -> list[str]:
    return [line.split(" -> ")[1][:3] for line in lines]


def test_replay_command_runs_files_and_lists_in_order() -> None:
    # Files named on the command line run in the order given: a message after the disconnect gets 403, as on AWS.
    lines = replay(str(EVENTS / "sequence_chat_session.json"), str(EVENTS / "message_echo.json"))
    assert statuses(lines) == ["200", "200", "200", "400", "200", "403"]
    assert "CONNECT $connect L0SM9cOFvHcCIhw=" in lines[0]
    assert not WebSocketSession.objects.exists()  # it all happened in the throwaway database


def test_replay_command_directory_runs_each_connection_in_order_and_json_output() -> None:
    out = StringIO()
    call_command("replay_events", str(EVENTS), "--json", stdout=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 19  # 14 single-event files + a 5-event sequence
    kinds = [load_source(r["source"])["requestContext"]["eventType"] for r in records]
    assert kinds == ["CONNECT"] * 4 + ["MESSAGE"] * 10 + ["DISCONNECT"] * 5
    codes = [r["response"]["statusCode"] for r in records]
    assert 403 not in codes and set(codes) == {200, 400}
    whoami = [json.loads(r["response"]["body"]) for r in records if r["source"].endswith("message_whoami.json")]
    assert whoami[0]["connectionId"] == CONNECTION_ID  # a throwaway database: the recorded id is unused there


def load_source(source: str) -> Any:
    name, _, index = source.partition("[")
    data = json.loads(Path(name).read_text())
    return data[int(index[:-1])] if index else data


def test_project_db_replays_twice_with_fresh_ids_then_recorded_ids_get_403() -> None:
    sequence = str(EVENTS / "sequence_chat_session.json")
    first = replay(sequence, "--project-db")
    second = replay(sequence, "--project-db")
    assert statuses(first) == statuses(second) == ["200", "200", "200", "400", "200"]
    assert f"{CONNECTION_ID} as " not in first[0] and f"{CONNECTION_ID} as " in second[0]
    fresh = second[0].split(" as ")[1].split(" ")[0]
    assert all(f"{CONNECTION_ID} as {fresh}" in line for line in second)  # one id for all the connection's events
    assert json.loads(second[2].split(" -> 200 ")[1])["connectionId"] == fresh
    assert WebSocketSession.objects.count() == 2  # --project-db keeps what the replay wrote
    recorded = replay(sequence, "--project-db", "--ids", "recorded")
    assert statuses(recorded) == ["200", "403", "403", "403", "200"]  # a closed id cannot reopen


def test_fresh_ids_renew_every_connection() -> None:
    lines = replay(str(EVENTS / "sequence_chat_session.json"), "--ids", "fresh")
    assert statuses(lines) == ["200", "200", "200", "400", "200"]
    assert all(f"{CONNECTION_ID} as " in line for line in lines)


def test_order_connections_keeps_a_valid_recording_and_fixes_name_order() -> None:
    def event(kind: str, connection_id: str) -> tuple[str, Any]:
        return f"{kind}-{connection_id}", {"requestContext": {"eventType": kind, "connectionId": connection_id}}

    valid = [event("CONNECT", "a"), event("CONNECT", "b"), event("MESSAGE", "a"), event("DISCONNECT", "a"),
             event("MESSAGE", "b"), event("DISCONNECT", "b")]
    assert order_connections(valid) == valid
    by_name = [event("DISCONNECT", "a"), event("MESSAGE", "a"), event("CONNECT", "a"), event("MESSAGE", "a")]
    assert [label for label, _ in order_connections(by_name)] == ["CONNECT-a", "MESSAGE-a", "MESSAGE-a", "DISCONNECT-a"]


def test_replay_command_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("replay_events", str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(CommandError, match="not a JSON file"):
        call_command("replay_events", str(bad))


def test_manage_py_replay_twice_gives_the_same_output_and_leaves_the_project_db_alone(tmp_path: Path) -> None:
    # As a developer runs it: manage.py with the demo's settings, whose database is db.sqlite3 (here a path that
    # must still not exist afterwards).
    project_db = tmp_path / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "app.settings", "DJANGO_DB_PATH": str(project_db), "DJANGO_DEBUG": "1"})

    def run() -> str:
        result = subprocess.run([sys.executable, "manage.py", "replay_events", "tests/events/"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    first, second = run(), run()
    assert first == second
    lines = first.splitlines()
    assert len(lines) == 19 and " -> 403 " not in first
    assert not project_db.exists()
