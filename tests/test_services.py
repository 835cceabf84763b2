"""PostgreSQL and Redis on a machine that runs neither: tests/services.py's private instances (forced here with
DAWSWS_PRIVATE_SERVICES=1, so this path is exercised where CI's servers exist too), and
scripts/install-services, which scripts/setup --services runs to install their binaries when missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.services import postgres_server, reachable, redis_server, unique_name

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "install-services"


def test_private_postgresql_and_redis_start_serve_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    monkeypatch.setenv("DAWSWS_PRIVATE_SERVICES", "1")
    with postgres_server() as server:
        assert server.private and server.port != 5432
        with server.database() as name, server.connect(name) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
        pg_port = server.port
    assert not reachable("127.0.0.1", pg_port)
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        assert not url.startswith("redis://127.0.0.1:6379/")
        key = unique_name("dawsws_private")
        client.set(key, "1")
        assert client.get(key) == b"1"
        client.close()
        redis_port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not reachable("127.0.0.1", redis_port)


def run_install(tmp_path: Path, *, uid: int, have_binaries: bool) -> tuple[subprocess.CompletedProcess[str], str]:
    """scripts/install-services with stand-ins for apt-get (it records its arguments) and id, on a machine
    whose PostgreSQL and Redis binaries are (not) where the variables say."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt.log"
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for tool in (fake / "apt-get", fake / "id"):
        tool.chmod(0o755)
    binaries = tmp_path / "pg" / "15" / "bin"
    binaries.mkdir(parents=True)
    redis = binaries / "redis-server-here"
    if have_binaries:
        for binary in (binaries / "pg_ctl", redis):
            binary.write_text("#!/bin/sh\n")
            binary.chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": str(tmp_path), "DAWSWS_PG_CTL_GLOB": str(tmp_path / "pg/*/bin/pg_ctl"),
           "DAWSWS_REDIS_SERVER": str(redis)}
    result = subprocess.run([str(INSTALL)], env=env, capture_output=True, text=True, timeout=30)
    return result, log.read_text() if log.exists() else ""


def test_install_services_apt_installs_what_is_missing_as_root(tmp_path: Path) -> None:
    result, apt = run_install(tmp_path, uid=0, have_binaries=False)
    assert result.returncode == 0, result.stderr
    assert "==> installing postgresql redis-server (apt-get)" in result.stdout
    assert apt.splitlines() == ["update -qq", "install -y -qq postgresql redis-server"]
    # The stand-in installed nothing: said so, naming where it looked.
    assert "no server binaries were found for: postgresql redis-server" in result.stderr


def test_install_services_says_what_to_install_without_root(tmp_path: Path) -> None:
    result, apt = run_install(tmp_path, uid=1000, have_binaries=False)
    assert result.returncode == 0 and apt == ""
    assert "missing here: postgresql redis-server" in result.stderr
    assert "apt-get install postgresql redis-server" in result.stderr


def test_install_services_does_nothing_when_the_binaries_are_there(tmp_path: Path) -> None:
    result, apt = run_install(tmp_path, uid=0, have_binaries=True)
    assert (result.returncode, result.stdout, result.stderr, apt) == (0, "", "", "")


def test_scripts_test_sets_the_services_up() -> None:
    text = (ROOT / "scripts" / "test").read_text()
    assert "scripts/setup --node --browser --services" in text
    assert os.access(INSTALL, os.X_OK)
