"""Races on both connection stores with real threads and real processes, on SQLite, PostgreSQL and DynamoDB
(moto server): $connect against $disconnect, join against $disconnect and against a 410 (mark_gone), and
duplicate connects. Every trial must end consistent: closed after its $disconnect, no membership of a closed
connection. The workers are separate processes (tests/races/worker.py) with their own Django settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.services import Postgres

ROOT = Path(__file__).resolve().parents[1]
# Enough trials to hit the windows the old code had (it failed with these numbers: connections left open on
# SQLite and PostgreSQL, memberships of closed connections on all three), few enough for seconds. moto
# answers slowly, so DynamoDB runs fewer.
THREAD_TRIALS = 60
PROCESS_TRIALS = 20
DYNAMODB_TRIALS = (40, 20)


def race(settings: dict[str, Any], mode: str, trials: int, migrate: bool = False) -> dict[str, Any]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.races.settings", "RACE_SETTINGS": json.dumps(settings),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    args = [sys.executable, "-m", "tests.races.worker", "--mode", mode, "--trials", str(trials)]
    result = subprocess.run(args + (["--migrate"] if migrate else []), cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_consistent(results: dict[str, Any]) -> None:
    for scenario, outcome in results.items():
        if scenario == "seconds":
            continue
        assert outcome["errors"] == [], (scenario, outcome["errors"][:2])
        assert outcome["bad"] == [], (scenario, len(outcome["bad"]), outcome["bad"][:3])


def sqlite_settings(path: Path) -> dict[str, Any]:
    return {"DATABASES": {"default": {
        "ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;",
                    "transaction_mode": "IMMEDIATE"}}}}


@pytest.mark.parametrize(("mode", "trials"), [("threads", THREAD_TRIALS), ("processes", PROCESS_TRIALS)])
def test_orm_store_races_on_sqlite(tmp_path: Path, mode: str, trials: int) -> None:
    assert_consistent(race(sqlite_settings(tmp_path / "race.sqlite3"), mode, trials, migrate=True))


def test_orm_store_races_on_postgresql(postgres: Postgres) -> None:
    with postgres.database() as name:
        settings = {"DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": name,
                                              "HOST": postgres.host, "PORT": postgres.port, "USER": postgres.user}}}
        assert_consistent(race(settings, "threads", THREAD_TRIALS, migrate=True))
        assert_consistent(race(settings, "processes", PROCESS_TRIALS))


def test_dynamodb_store_races(tmp_path: Path, moto_server: str, dynamodb_table: str) -> None:
    settings = {**sqlite_settings(tmp_path / "unused.sqlite3"),
                "WEBSOCKETS": {"STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
                               "DYNAMODB_TABLE": dynamodb_table, "DYNAMODB_ENDPOINT_URL": moto_server}}
    assert_consistent(race(settings, "threads", DYNAMODB_TRIALS[0]))
    assert_consistent(race(settings, "processes", DYNAMODB_TRIALS[1]))
