"""Event replay: the recorded AWS event fixtures, through lambda_handler, on SQLite."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import CommandError

from django_aws_api_gateway_websockets.models import WebSocketSession

pytestmark = pytest.mark.django_db

EVENTS = Path(__file__).parent / "events"
CONNECTION_ID = "L0SM9cOFvHcCIhw="


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def handler() -> Any:
    import lambda_handler

    return lambda_handler.handler


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


def test_replay_command_runs_files_and_lists_in_order() -> None:
    out = StringIO()
    call_command("replay_events", str(EVENTS / "sequence_chat_session.json"), str(EVENTS / "message_echo.json"),
                 stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(" -> ")[1][:3] for line in lines] == ["200", "200", "200", "400", "200", "403"]
    assert "CONNECT $connect L0SM9cOFvHcCIhw=" in lines[0]


def test_replay_command_directory_and_json_output() -> None:
    out = StringIO()
    call_command("replay_events", str(EVENTS), "--json", stdout=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 19  # 14 single-event files + a 5-event sequence
    assert all(r["response"]["statusCode"] in (200, 400, 403) for r in records)


def test_replay_command_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("replay_events", str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(CommandError, match="not a JSON file"):
        call_command("replay_events", str(bad))
