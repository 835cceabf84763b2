"""Starting a real local gateway (``manage.py runwsgateway``) in a subprocess on a temporary SQLite database:
used by the end-to-end tests and the benchmarks."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    host: str
    port: int
    db_path: Path
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sessions(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.db_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM django_aws_api_gateway_websockets_websocketsession").fetchall()
        return [dict(row) for row in rows]

    def session(self, connection_id: str) -> dict[str, object]:
        return next(s for s in self.sessions() if s["connection_id"] == connection_id)


def gateway_env(db_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "app.settings", "DJANGO_DB_PATH": str(db_path), "DJANGO_DEBUG": "1",
        "WEBSOCKETS_CONNECT_RATE_LIMIT_PER_IP": "none", "WEBSOCKETS_CONNECT_RATE_LIMIT_PER_USER": "none",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1",
        "WEBSOCKETS_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
    })
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(extra or {})
    return env


def prepare_database(db_path: Path) -> None:
    env = gateway_env(db_path)
    for command in (["migrate", "--noinput", "-v0"], ["ensure_demo_user"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True)


def start_gateway(tmp: Path, *extra: str, db_path: Path | None = None,
                  env: dict[str, str] | None = None) -> Gateway:
    db_path = db_path or tmp / "gateway.sqlite3"
    if not db_path.exists():
        prepare_database(db_path)
    log_path = tmp / f"gateway-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runwsgateway", "127.0.0.1:0", "--handler", "lambda_handler.handler", *extra],
        cwd=ROOT, env=gateway_env(db_path, env), stdout=subprocess.PIPE, stderr=log, text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return Gateway("127.0.0.1", int(match.group(1)), db_path, process, log_path)
    process.kill()
    raise RuntimeError(f"gateway did not start: {log_path.read_text()}")


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
