"""SnapStart hygiene: every environment restored from one snapshot gets its own randomness and new clients."""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

from django_aws_api_gateway_websockets import messaging, sender, snapstart
from django_aws_api_gateway_websockets.store import get_store


def test_restores_from_one_snapshot_draw_different_random_numbers() -> None:
    snapshot = random.getstate()  # what every restored environment would start from
    draws = []
    for _restore in range(2):
        random.setstate(snapshot)
        snapstart.run_after_restore()
        draws.append([random.random() for _ in range(3)])
    assert draws[0] != draws[1]
    random.setstate(snapshot)
    assert [random.random() for _ in range(3)] not in draws  # without the hook: the snapshot's numbers


def test_network_clients_and_pools_are_recreated_after_restore(dynamodb_settings: dict[str, Any]) -> None:
    old_sender = sender.get_sender()
    old_client = messaging.client_for("https://abc123.execute-api.us-east-1.amazonaws.com/dev")
    old_store = get_store()
    snapstart.run_after_restore()
    assert sender.get_sender() is not old_sender
    assert messaging.client_for("https://abc123.execute-api.us-east-1.amazonaws.com/dev") is not old_client
    new_store = get_store()
    assert new_store is not old_store
    assert new_store._client is not old_store._client  # type: ignore[attr-defined]


def test_a_failing_reset_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    ran = []

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(snapstart, "_after_restore", [broken, lambda: ran.append(1)])
    snapstart.run_after_restore()
    assert ran == [1]
    assert "after-restore hook" in caplog.text and "boom" in caplog.text


def test_install_registers_with_the_runtimes_hooks_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import snapshot_restore_py

    monkeypatch.setattr(snapstart, "_installed", False)
    registry = snapshot_restore_py.get_after_restore()
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    assert snapstart.install() is True and snapstart.install() is True
    assert [entry[0] for entry in snapshot_restore_py.get_after_restore()] == [snapstart.run_after_restore]
    assert registry is not None


def test_importable_and_harmless_where_the_runtime_module_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapstart, "_installed", False)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as off Lambda
    assert snapstart.install() is False


def test_the_lambda_entry_point_installs_the_hooks() -> None:
    import snapshot_restore_py

    import lambda_handler  # noqa: F401

    assert snapstart._installed
    assert snapstart.run_after_restore in [entry[0] for entry in snapshot_restore_py.get_after_restore()]
    assert {sender.reset_sender, messaging._clients.clear, snapstart.reseed_random} <= set(snapstart._after_restore)
