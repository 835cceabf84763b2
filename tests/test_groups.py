"""Groups: a connection can join any number of named groups, through a permission hook."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, override_settings

from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession
from django_aws_api_gateway_websockets.store import get_store
from tests.helpers import TEST_SECRET, GatewayPoster

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def gateway(client: Client) -> GatewayPoster:
    gateway = GatewayPoster(client, "/base/")
    gateway.connect()
    return gateway


def groups_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return json.loads(response.content)["groups"]


def test_join_many_groups_and_leave(gateway: GatewayPoster) -> None:
    assert groups_of(gateway.message({"action": "join", "group": "room:a"})) == ["room:a"]
    assert groups_of(gateway.message({"action": "join", "group": "room:b"})) == ["room:a", "room:b"]
    assert groups_of(gateway.message({"action": "join", "group": "room:a"})) == ["room:a", "room:b"]
    assert groups_of(gateway.message({"action": "leave", "group": "room:a"})) == ["room:b"]
    assert WebSocketGroupMembership.objects.count() == 1


def test_group_members_are_only_connected_sessions(gateway: GatewayPoster) -> None:
    gateway.connect("second=", **{"X-Forwarded-For": "198.51.100.2"})
    gateway.message({"action": "join", "group": "g"})
    gateway.message({"action": "join", "group": "g"}, connection_id="second=")
    store = get_store()
    assert sorted(c.connection_id for c in store.group_connections("g")) == ["Aa1Bb2Cc3Dd=", "second="]
    gateway.disconnect("second=")
    assert [c.connection_id for c in store.group_connections("g")] == ["Aa1Bb2Cc3Dd="]


@pytest.mark.parametrize("group", ["", "x" * 151, 5, None, ["a"]])
def test_invalid_group_names_are_400(gateway: GatewayPoster, group: object) -> None:
    response = gateway.message({"action": "join", "group": group})
    assert response.status_code == 400


def test_group_permission_setting(client: Client) -> None:
    user = get_user_model().objects.create_user("lin", password="pw-0123456789")
    browser = Client()
    browser.force_login(user)
    gateway = GatewayPoster(client, "/base/")
    gateway.connect(Cookie=f"sessionid={browser.cookies['sessionid'].value}")
    with override_settings(WEBSOCKETS={"SHARED_SECRETS": [TEST_SECRET], "GROUP_JOIN_PERMISSION": "django_aws_api_gateway_websockets.add_websocketgroupmembership"}):
        assert gateway.message({"action": "join", "group": "vip"}).status_code == 403
        user.user_permissions.add(Permission.objects.get(codename="add_websocketgroupmembership"))
        assert groups_of(gateway.message({"action": "join", "group": "vip"})) == ["vip"]


def test_session_model_group_helpers(gateway: GatewayPoster) -> None:
    session = WebSocketSession.objects.get()
    session.join_group("a")
    session.join_group("b")
    session.join_group("a")
    assert session.group_names() == ["a", "b"]
    session.leave_group("a")
    assert session.group_names() == ["b"]
    assert list(WebSocketSession.objects.in_group("b")) == [session]
