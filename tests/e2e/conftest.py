"""Fixtures for the end-to-end tests: one real local gateway per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway_process import ROOT, Gateway, start_gateway, stop_gateway


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    running = start_gateway(tmp_path_factory.mktemp("gateway"))
    yield running
    stop_gateway(running)


@pytest.fixture(scope="session")
def feature_gateway(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A second gateway, on the same database, serving the demo plus async and RAW routes
    (tests/feature_views.py), with a 2 s idle timeout so keep-alives and reconnects can be seen quickly."""
    running = start_gateway(tmp_path_factory.mktemp("feature-gateway"), "--idle-timeout", "2",
                            db_path=gateway.db_path, env={"DJANGO_SETTINGS_MODULE": "tests.e2e.feature_settings"})
    yield running
    stop_gateway(running)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
